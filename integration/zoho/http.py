"""The httpx plumbing every Zoho client shares: timeouts, transport, auth header, one 401 retry."""

from __future__ import annotations

import json as jsonlib
import os
import re
import threading
from decimal import Decimal
from typing import Any, Protocol

import httpx
from django.conf import settings

from integration.zoho.errors import ZohoBadId, ZohoPermissionError, ZohoRetryable, json_body

# Every path we call is made of plain segments: an id like `.` or `..` would otherwise be collapsed by the URL
# parser into another endpoint (`/Products/.` is the mass update); the clients validate ids, and this is the net.
SAFE_PATH = re.compile(r"^(/[A-Za-z0-9_]+)+$")

# Tests and the in-process sandbox swap the network for a transport here; production leaves it None.
_transport: httpx.BaseTransport | None = None


def set_transport(transport: httpx.BaseTransport | None) -> httpx.BaseTransport | None:
    """Route every Zoho client through `transport` (None = the real network); returns the old one."""
    global _transport
    previous, _transport = _transport, transport
    with _clients_lock:
        _clients.clear()  # clients in use keep working; new calls get one on the new transport
    return previous


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        # Books wants money as a JSON number; float's shortest repr round-trips 2-dp amounts exactly.
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(payload: Any) -> bytes:
    """JSON-encode a request body; Decimals become JSON numbers."""
    return jsonlib.dumps(payload, default=_json_default).encode()


_clients: dict[tuple, httpx.Client] = {}
_clients_lock = threading.Lock()


def new_http_client() -> httpx.Client:
    """An httpx client with explicit timeouts on the configured transport."""
    timeout = httpx.Timeout(settings.ZOHO_READ_TIMEOUT, connect=settings.ZOHO_CONNECT_TIMEOUT)
    return httpx.Client(transport=_transport, timeout=timeout, follow_redirects=False)


def shared_http_client() -> httpx.Client:
    """The process' one pooled client (httpx clients are thread-safe): a new client costs ~30 ms of TLS
    setup (loading the CA bundle) and a new connection per call, which every press and webhook paid for.
    Keyed by process id too, so a forked worker never shares its parent's sockets."""
    key = (os.getpid(), settings.ZOHO_READ_TIMEOUT, settings.ZOHO_CONNECT_TIMEOUT)
    client = _clients.get(key)
    if client is None:
        with _clients_lock:
            client = _clients.setdefault(key, new_http_client())
    return client


def send(http: httpx.Client, request: httpx.Request, *, service: str) -> httpx.Response:
    """Send one request; network failures become `ZohoRetryable` with no URL in the text."""
    what = f"{request.method} {request.url.path}"
    try:
        return http.send(request)
    except (httpx.ConnectError, httpx.ConnectTimeout):
        raise ZohoRetryable(f"Could not reach {service} ({what}); nothing was sent") from None
    except httpx.TimeoutException:
        raise ZohoRetryable(
            f"{service} did not answer in time ({what}); it may or may not have acted", maybe_acted=True
        ) from None
    except httpx.TransportError as exc:
        raise ZohoRetryable(
            f"The connection to {service} broke before its answer arrived ({what}: {type(exc).__name__}); "
            "it may or may not have acted",
            maybe_acted=True,
        ) from None


class TokenSource(Protocol):
    """What a client needs from OAuth: a valid access token, a way to say one was refused, and the scopes
    Zoho refused even with a fresh token (so that no further refresh is spent on them)."""

    def get(self) -> str: ...

    def invalidate(self, token: str) -> None: ...

    def scope_refused(self, scope: str) -> bool: ...

    def refuse_scope(self, scope: str, call: str) -> None: ...

    def scope_granted(self, scope: str) -> None: ...


class ZohoApiClient:
    """Base for the Books and CRM clients: authenticated calls with one refresh-and-retry on 401."""

    service = "Zoho"

    def __init__(
        self, *, tokens: TokenSource | None = None, http: httpx.Client | None = None, base_url: str | None = None
    ):
        self.tokens = tokens or self.default_tokens()
        self.http = http or shared_http_client()
        self.base_url = base_url or self.default_base_url()

    def default_tokens(self) -> TokenSource:
        """Where access tokens come from unless one is given (the Zoho clients: the shared OAuth token)."""
        raise NotImplementedError

    def default_base_url(self) -> str:
        raise NotImplementedError

    def is_token_error(self, response: httpx.Response) -> bool:
        raise NotImplementedError

    def is_scope_error(self, response: httpx.Response) -> bool:
        """Zoho said outright that the grant lacks the scope (CRM does; Books answers like an expired token)."""
        return False

    def before_send(self, params: dict | None) -> None:
        """Hook run before every request (Books takes a rate-limit slot here)."""

    def call(
        self, method: str, path: str, *, scope: str, params: dict | None = None, json: dict | None = None
    ) -> httpx.Response:
        """One API call needing `scope`. A refused token is refreshed once and the call retried once; refused
        again with the fresh token, it is a missing scope (`ZohoPermissionError`): remembered, so later calls
        needing it spend no further refresh."""
        if not SAFE_PATH.match(path):
            raise ZohoBadId(f"Refused to call {self.service} at {path[:80]!r}: an id in it is not the shape Zoho uses")
        for attempt in (1, 2):
            token = self.tokens.get()
            self.before_send(params)
            request = self.http.build_request(
                method,
                self.base_url + path,
                params=params,
                content=dumps(json) if json is not None else None,
                headers={
                    "Authorization": f"Zoho-oauthtoken {token}",
                    **({"Content-Type": "application/json"} if json is not None else {}),
                },
            )
            response = send(self.http, request, service=self.service)
            if response.status_code == 401 and self.is_token_error(response):
                refused = self.is_scope_error(response) or self.tokens.scope_refused(scope)
                if attempt == 1 and not refused:
                    self.tokens.invalidate(token)
                    continue
                what = f"{method} {request.url.path}"
                self.tokens.refuse_scope(scope, what)
                raise ZohoPermissionError(
                    service=self.service, call=what, scope=scope, code=json_body(response).get("code")
                )
            if response.is_success:
                self.tokens.scope_granted(scope)
            return response
        return response
