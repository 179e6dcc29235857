"""One error hierarchy for every Zoho product, mapped once from HTTP status and body.

`retryable` tells the task layer whether to try again later; `code` and `message` are Zoho's own
(Books' numeric code, CRM's string code) so finance staff see what Books said. Messages never carry
URLs, headers or tokens.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx


class ZohoError(Exception):
    """`maybe_acted`: the request may have reached Zoho and been carried out although no answer came back
    (a timeout or broken connection after sending). Anything that must happen at most once looks before
    trying again, or does not try again."""

    retryable = False

    def __init__(
        self, message: str, *, code: int | str | None = None, status: int | None = None, maybe_acted: bool = False
    ):
        self.message = message
        self.code = code
        self.status = status
        self.maybe_acted = maybe_acted
        super().__init__(message)

    def __str__(self) -> str:
        return f"{self.message} (Zoho code {self.code})" if self.code not in (None, "") else self.message


class ZohoRetryable(ZohoError):
    """Try again later: 5xx, Books code 1000, timeouts, connection failures, concurrency caps."""

    retryable = True


class ZohoRateLimited(ZohoRetryable):
    """HTTP 429 / Books code 44 / OAuth throttle. `retry_after` is seconds when Zoho said so."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any):
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class HoldBack(ZohoRateLimited):
    """Our own pacing, not an answer from Zoho: we chose to wait (our Books rate limit, another worker
    creating the same record, an earlier create still in flight, Books' daily cap).
    Nothing failed: the attempt does not count against the retry budget."""


class ZohoAuthError(ZohoError):
    """Zoho refused our credentials even after one refresh."""


class ZohoTokenRevoked(ZohoAuthError):
    """The refresh token itself is revoked or wrong (`invalid_code`): a person must issue a new one."""


class ZohoPermissionError(ZohoAuthError):
    """Zoho refused a call even with a fresh access token: the grant lacks `scope`. Refreshing cannot help (and
    Zoho rations refreshes); a person must add the scope, which means a new refresh token."""

    def __init__(self, *, service: str, call: str, scope: str, code: int | str | None = None):
        self.scope = scope
        super().__init__(
            f"{service} refused {call} even with a fresh access token: the Zoho connection lacks the scope {scope}. "
            "Generate a new refresh token with every scope the setup guide lists (this one included) and set "
            "ZOHO_REFRESH_TOKEN.",
            code=code,
            status=401,
        )


class ZohoRejected(ZohoError):
    """A permanent refusal (validation and the like); retrying the same request will not help."""


class ZohoBadId(ZohoRejected, ValueError):
    """An id (from CRM, Books, a webhook or a form) that is not the shape Zoho's ids have, refused before it
    reaches a URL: `.`, `..` or `/` would change which endpoint is called."""


class ZohoNotFound(ZohoRejected):
    """The record does not exist (Books 404 / code 1002)."""


class ZohoQuotaExceeded(HoldBack):
    """Books' daily API cap for the organization's plan (code 45): its Books work is paused until the cap
    resets (`retry_after`), spending no retry attempt."""


# However long Zoho asks us to wait, we wait at most this long before asking again: a `Retry-After` of a billion
# seconds (or a bug in a proxy) must not park a push until 2058. Books' daily cap is its own pause (code 45).
MAX_RETRY_AFTER_SECONDS = 300.0


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds form), at most MAX_RETRY_AFTER_SECONDS; None when
    absent or unusable."""
    value = response.headers.get("Retry-After", "").strip()
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    if seconds is None or seconds != seconds:  # NaN
        return None
    return min(MAX_RETRY_AFTER_SECONDS, max(0.0, seconds))


def json_body(response: httpx.Response) -> dict:
    """The response's JSON object with money as Decimal, or {} when the body is not a JSON object."""
    if not response.content:
        return {}
    try:
        body = response.json(parse_float=Decimal)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
