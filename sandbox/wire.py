"""The sandbox's wire: requests, responses, routes, faults, the clock, and Zoho's formats and error shapes."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

BOOKS_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"


class SimulatedTimeout(Exception):
    """Raised by the app to make the transport/server behave as if the response never came."""

    def __init__(self, seconds: float):
        self.seconds = seconds


class DropConnection(Exception):
    """Raised by the app after it has acted, so the caller sees the connection close without a response."""


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    in_process: bool = False

    def json(self) -> Any:
        if not self.body:
            return {}
        return json.loads(self.body, parse_float=Decimal)

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8", "replace")))


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json;charset=UTF-8"

    def content(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body, default=_json_default).encode()


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.strftime(BOOKS_TIME_FORMAT)
    raise TypeError(type(value).__name__)


STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


class Clock:
    """Real time plus an offset the tests (and the control API) can advance."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), tz=UTC)

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass
class Fault:
    """Fail the next `count` matching calls. Kinds: error, rate_limit, timeout, drop, slow, stale."""

    kind: str
    count: int = 1
    method: str = ""
    path: str = ""  # substring of the request path
    seconds: float = 0.0
    retry_after: int | None = None
    message: str = ""  # for `error`: the product's error text instead of the generic one (Zoho echoes input)

    KINDS = ("error", "rate_limit", "timeout", "drop", "slow", "stale")

    def matches(self, req: Request) -> bool:
        return (not self.method or self.method.upper() == req.method) and self.path in req.path


class Route:
    """`scope`: the OAuth scope the Zoho document of the endpoint requires ('' for the control API)."""

    def __init__(self, method: str, pattern: str, handler: Callable[..., Response], scope: str = ""):
        self.method = method
        self.regex = re.compile("^" + pattern + "$")
        self.handler = handler
        self.scope = scope


def _error_response(product: str, status: int) -> Response:
    """What each product answers for an injected 500 or 429."""
    if product == "books":
        if status == 429:
            return Response(
                429, {"code": 44, "message": "You have made too many requests. Please try again after some time."}
            )
        return Response(500, {"code": 1000, "message": "Internal error"})
    if product == "crm":
        if status == 429:
            return Response(
                429,
                {
                    "code": "TOO_MANY_REQUESTS",
                    "details": {},
                    "message": "You have reached the API limit",
                    "status": "error",
                },
            )
        return Response(
            500, {"code": "INTERNAL_ERROR", "details": {}, "message": "Internal Server Error", "status": "error"}
        )
    if product == "oauth" and status == 429:
        return Response(
            400,
            {
                "error": "Access Denied",
                "status": "failure",
                "error_description": "You have made too many requests continuously. Please try again after some time.",
            },
        )
    return Response(status, {"message": STATUS_TEXT.get(status, "error")})


def money(value: Any, precision: int = 2) -> Decimal:
    """An amount rounded as Books rounds: half up, to the currency's decimals (`price_precision`)."""
    return Decimal(str(value)).quantize(Decimal(1).scaleb(-precision), rounding=ROUND_HALF_UP)


# What Books' organizations say in `time_zone`: its document's example is an abbreviation ("PST"); organizations
# also carry IANA names. The sandbox serves both kinds, and dates an organization's day by them.
ZONE_ABBREVIATIONS = {
    "PST": "America/Los_Angeles",
    "MST": "America/Denver",
    "CST": "America/Chicago",
    "EST": "America/New_York",
    "IST": "Asia/Kolkata",
    "GMT": "Europe/London",
    "CET": "Europe/Berlin",
    "GST": "Asia/Dubai",
    "AEST": "Australia/Sydney",
}


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(ZONE_ABBREVIATIONS.get(name, name))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def day(value: datetime) -> str:
    return value.strftime("%Y-%m-%d")


def parse_day(value: str) -> datetime | None:
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def later(start: datetime, days: int) -> datetime:
    return start + timedelta(days=days)
