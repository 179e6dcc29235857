"""The OAuth access token: one cached token for every process, refreshed single-flight before expiry.

Zoho allows 10 token refreshes per 10 minutes per refresh token and silently invalidates the oldest
of too many live tokens, so refreshing per request or per process breaks production. The token lives
in one database row (`ZohoAccessToken`); whoever finds it near expiry locks the row, re-checks, and
only then refreshes. Each process also memoises the token so most calls never touch the database.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from integration.models import ZohoAccessToken
from integration.zoho.errors import (
    ZohoAuthError,
    ZohoRateLimited,
    ZohoRetryable,
    ZohoTokenRevoked,
    json_body,
    retry_after_seconds,
)
from integration.zoho.http import send, shared_http_client

logger = logging.getLogger(__name__)

REFRESH_MARGIN = timedelta(minutes=5)  # refresh this long before Zoho's expiry
THROTTLE_BACKOFF_SECONDS = 60.0

_memo: dict[str, tuple[str, datetime]] = {}
_refused: dict[str, set[str]] = {}  # credentials key → scopes this process knows Zoho refused
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def forget_cached_tokens() -> None:
    """Drop this process's memoised tokens (the database row stays)."""
    _memo.clear()
    _refused.clear()


class TokenManager:
    """Hands out a valid access token for one set of self-client credentials."""

    def __init__(
        self,
        *,
        accounts_url: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        http: httpx.Client | None = None,
        clock: Callable[[], datetime] = timezone.now,
    ):
        if not (client_id and client_secret and refresh_token):
            raise ZohoAuthError(
                "Zoho is not configured: set ZOHO_CLIENT_ID, ZOHO_CLIENT_SECRET and ZOHO_REFRESH_TOKEN."
            )
        self.accounts_url = accounts_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self._refresh_token = refresh_token
        self.http = http or shared_http_client()
        self.clock = clock
        self.key = credentials_key(self.accounts_url, client_id, client_secret, refresh_token)
        with _locks_guard:
            self._lock = _locks.setdefault(self.key, threading.Lock())

    @classmethod
    def from_settings(cls, **kwargs) -> TokenManager:
        return cls(
            accounts_url=settings.ZOHO_ACCOUNTS_URL,
            client_id=settings.ZOHO_CLIENT_ID,
            client_secret=settings.ZOHO_CLIENT_SECRET,
            refresh_token=settings.ZOHO_REFRESH_TOKEN,
            **kwargs,
        )

    def _fresh(self, expires_at: datetime | None) -> bool:
        return expires_at is not None and expires_at - REFRESH_MARGIN > self.clock()

    def get(self) -> str:
        """A valid access token, refreshing it (once, across all processes) when it is near expiry."""
        memo = _memo.get(self.key)
        if memo and self._fresh(memo[1]):
            return memo[0]
        with self._lock:  # one thread per process goes to the database
            memo = _memo.get(self.key)
            if memo and self._fresh(memo[1]):
                return memo[0]
            token, expires_at = self._load_or_refresh()
            _memo[self.key] = (token, expires_at)
            return token

    def invalidate(self, token: str) -> None:
        """Zoho said `token` is no longer valid: forget it, unless someone already replaced it."""
        if _memo.get(self.key, ("",))[0] == token:
            _memo.pop(self.key, None)
        ZohoAccessToken.objects.filter(key=self.key, access_token=token).update(expires_at=None)

    # -- scopes Zoho refused even with a fresh token (ZOHO_API.md: Books answers a missing scope like an
    # expired token, so only a refusal that survives a refresh tells them apart; after that, no more refreshes).
    def scope_refused(self, scope: str) -> bool:
        """Has Zoho refused `scope` to these credentials, with a fresh token? (Asked only after a 401.)"""
        refusals = ZohoAccessToken.objects.filter(key=self.key).values_list("scope_refusals", flat=True).first()
        _refused[self.key] = set(refusals or {})
        return scope in _refused[self.key]

    def refuse_scope(self, scope: str, call: str) -> None:
        """Remember that Zoho refused `scope` (shown on the dashboard until new credentials are set)."""
        _refused.setdefault(self.key, set()).add(scope)
        with transaction.atomic():
            row, _ = ZohoAccessToken.objects.select_for_update().get_or_create(key=self.key)
            known = scope in row.scope_refusals
            row.scope_refusals = {**row.scope_refusals, scope: {"call": call, "at": self.clock().isoformat()}}
            row.save(update_fields=["scope_refusals"])
        if not known:  # said once, not on every call that meets it again
            logger.error("Zoho refused %s even with a fresh token: the grant lacks %s", call, scope)

    def scope_granted(self, scope: str) -> None:
        """A call needing `scope` succeeded: forget a refusal of it (costs nothing when there was none)."""
        if scope not in _refused.get(self.key, ()):
            return
        _refused[self.key].discard(scope)
        with transaction.atomic():
            row = ZohoAccessToken.objects.select_for_update().filter(key=self.key).first()
            if row is not None and scope in row.scope_refusals:
                row.scope_refusals = {k: v for k, v in row.scope_refusals.items() if k != scope}
                row.save(update_fields=["scope_refusals"])

    def _load_or_refresh(self) -> tuple[str, datetime]:
        """The shared token, refreshed by one process at a time: the refresher claims the row (a conditional update,
        no lock held across the call to Zoho); the others wait for its token, briefly."""
        ZohoAccessToken.objects.get_or_create(key=self.key)
        lease = settings.ZOHO_CONNECT_TIMEOUT + settings.ZOHO_READ_TIMEOUT + 5
        waited_until = time.monotonic() + lease
        while True:
            now = self.clock()
            row = ZohoAccessToken.objects.get(key=self.key)
            if row.fatal_error:
                raise ZohoTokenRevoked(row.fatal_error)
            if row.access_token and self._fresh(row.expires_at):
                return row.access_token, row.expires_at  # another process refreshed it meanwhile
            if row.retry_not_before and row.retry_not_before > now:
                # Zoho is throttling refreshes: asking again now (from any process) would only prolong it.
                raise ZohoRateLimited(
                    f"Zoho is throttling token refreshes; the next try is at {row.retry_not_before:%H:%M:%S} UTC.",
                    retry_after=(row.retry_not_before - now).total_seconds(),
                )
            free = Q(refreshing_until__isnull=True) | Q(refreshing_until__lt=now)
            # Claimed only if nobody refreshed since we read the row: a refresher that finished between our read and
            # this update has left the claim free and a fresh token behind, and we take its token on the next turn.
            unchanged = Q(refresh_count=row.refresh_count)
            if ZohoAccessToken.objects.filter(Q(key=self.key) & free & unchanged).update(
                refreshing_until=now + timedelta(seconds=lease)
            ):
                break
            if time.monotonic() > waited_until:
                raise ZohoRetryable("Another process is refreshing the Zoho access token; try again shortly")
            time.sleep(0.1)
        error: Exception | None = None
        fields: dict = {"refreshing_until": None}
        try:
            token, expires_in = self._refresh()
        except (ZohoTokenRevoked, ZohoAuthError) as exc:
            fields["fatal_error"] = str(exc)
            error = exc
        except ZohoRetryable as exc:
            error = exc
            if isinstance(exc, ZohoRateLimited):
                fields["retry_not_before"] = now + timedelta(seconds=exc.retry_after or THROTTLE_BACKOFF_SECONDS)
        except BaseException:
            ZohoAccessToken.objects.filter(key=self.key).update(refreshing_until=None)
            raise
        else:
            expires_at = now + timedelta(seconds=expires_in)
            ZohoAccessToken.objects.filter(key=self.key).update(
                access_token=token,
                expires_at=expires_at,
                refreshed_at=now,
                refresh_count=row.refresh_count + 1,  # ours alone to write: we hold the refresh claim
                last_error="",
                retry_not_before=None,
                refreshing_until=None,
            )
            logger.info("Zoho access token refreshed (refresh #%s)", row.refresh_count + 1)
            return token, expires_at
        ZohoAccessToken.objects.filter(key=self.key).update(last_error=str(error), last_error_at=now, **fields)
        logger.error("Zoho token refresh failed: %s", error)
        raise error

    def _refresh(self) -> tuple[str, int]:
        """POST {accounts}/oauth/v2/token with grant_type=refresh_token (credentials in the body)."""
        request = self.http.build_request(
            "POST",
            f"{self.accounts_url}/oauth/v2/token",
            data={
                "grant_type": "refresh_token",
                "client_id": self._client_id,
                "client_secret": self._client_secret,
                "refresh_token": self._refresh_token,
            },
        )
        response = send(self.http, request, service="Zoho Accounts")
        body = json_body(response)
        error = body.get("error")
        if response.status_code == 200 and body.get("access_token") and not error:
            return body["access_token"], int(body.get("expires_in", 3600))
        if error == "invalid_code":
            raise ZohoTokenRevoked(
                "Zoho rejected the refresh token (invalid_code): it was revoked or is wrong. "
                "Generate a new self-client refresh token and set ZOHO_REFRESH_TOKEN."
            )
        if error == "invalid_client":
            raise ZohoAuthError(
                "Zoho rejected the client credentials (invalid_client): check ZOHO_CLIENT_ID, "
                "ZOHO_CLIENT_SECRET and ZOHO_ACCOUNTS_URL (the data centre)."
            )
        if error == "Access Denied" or response.status_code == 429:
            raise ZohoRateLimited(
                "Zoho is throttling token refreshes (too many in a short time); waiting before trying again.",
                retry_after=retry_after_seconds(response) or THROTTLE_BACKOFF_SECONDS,
                status=response.status_code,
            )
        if response.status_code >= 500 or not body:
            raise ZohoRetryable(f"Zoho Accounts answered HTTP {response.status_code}", status=response.status_code)
        raise ZohoAuthError(f"Zoho refused the token refresh: {error or response.status_code}")


def credentials_key(accounts_url: str, client_id: str, client_secret: str, refresh_token: str) -> str:
    """A digest naming a credential set without revealing it. Every part counts: fixing any one of them
    (the secret, the data centre) starts afresh instead of keeping an old refusal."""
    parts = (accounts_url.rstrip("/"), client_id, client_secret, refresh_token)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def credentials_configured() -> bool:
    return bool(settings.ZOHO_CLIENT_ID and settings.ZOHO_CLIENT_SECRET and settings.ZOHO_REFRESH_TOKEN)


def configured_key() -> str:
    return credentials_key(
        settings.ZOHO_ACCOUNTS_URL, settings.ZOHO_CLIENT_ID, settings.ZOHO_CLIENT_SECRET, settings.ZOHO_REFRESH_TOKEN
    )


def current_fatal_error() -> str:
    """The fatal refresh problem for the configured credentials, or '' (shown on every screen)."""
    if not credentials_configured():
        return "Zoho is not configured: set ZOHO_CLIENT_ID, ZOHO_CLIENT_SECRET and ZOHO_REFRESH_TOKEN."
    return ZohoAccessToken.objects.filter(key=configured_key()).values_list("fatal_error", flat=True).first() or ""


def scope_refusals() -> dict[str, dict]:
    """The scopes Zoho refused to the configured credentials even with a fresh token: {scope: {call, at}}."""
    if not credentials_configured():
        return {}
    return ZohoAccessToken.objects.filter(key=configured_key()).values_list("scope_refusals", flat=True).first() or {}


def token_state() -> str:
    """One word for health checks: ok, refused, throttled, not-configured or not-yet-refreshed."""
    if not credentials_configured():
        return "not-configured"
    row = ZohoAccessToken.objects.filter(key=configured_key()).first()
    if row is not None and row.fatal_error:
        return "refused"
    if row is None or not row.access_token:
        return "not-yet-refreshed"
    if row.retry_not_before and row.retry_not_before > timezone.now():
        return "throttled"
    return "ok"
