"""Outbound Books rate limit: at most BOOKS_RATE_LIMIT_PER_MINUTE calls per organization in any
60-second window, counted across every process (CONTRACT.md §1).

With Redis configured the window is a sorted set per organization, checked and filled by one Lua
script using Redis' own clock (so workers on different machines agree). Without Redis the window is a
database row per organization, locked while it is checked and filled, so the demo's web, worker and
beat processes share it too. There is no per-process window.

Work has a priority (from the ledger's kind of work): pushes, webhook syncs and checks a person waits for first,
reconciliation next, audits last. A caller waiting for a slot says so in the window's list of waiters; while a
caller of a higher priority is waiting, a lower one takes no slot even when one is free, so the next slot to free
goes to the waiting push, not to the audit page that asked first. A waiter that stops asking (gave up, died) drops
off the list a couple of seconds after it would have retried.

Books' daily cap (code 45) pauses an organization: `books_pause` records until when, and every call for
it is held back (`ZohoQuotaExceeded`, which spends no retry attempt) until then.
"""

from __future__ import annotations

import random
import time
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from integration import ledger
from integration.models import BooksCallWindow, BooksPause
from integration.zoho.errors import HoldBack, ZohoQuotaExceeded

# A caller of a lower priority waits this long before asking again while a higher one is waiting; a waiter stays on
# the list this long after it said it would ask again.
YIELD_SECONDS = 0.25
WAITER_GRACE_SECONDS = 2.0

_ACQUIRE = """
local key, waiters = KEYS[1], KEYS[2]
local limit, window, waiter, priority = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local yield, grace = tonumber(ARGV[5]), tonumber(ARGV[6])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', waiters, '-inf', now)
local ahead = false
for _, other in ipairs(redis.call('ZRANGE', waiters, 0, -1)) do
  if tonumber(string.sub(other, 1, 1)) < priority then ahead = true end
end
local count = redis.call('ZCARD', key)
if count < limit and not ahead then
  redis.call('ZADD', key, now, waiter)
  redis.call('EXPIRE', key, math.ceil(window) + 1)
  redis.call('ZREM', waiters, priority .. ':' .. waiter)
  return '0'
end
local wait = yield
if count >= limit then
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  wait = math.max(wait, tonumber(oldest[2]) + window - now)
end
redis.call('ZADD', waiters, now + wait + grace, priority .. ':' .. waiter)
redis.call('EXPIRE', waiters, math.ceil(wait + grace) + 1)
return tostring(wait)
"""


class RedisWindow:
    def __init__(self, url: str):
        import redis

        self.errors = redis.RedisError
        self.client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        self.script = self.client.register_script(_ACQUIRE)

    def try_acquire(self, key: str, limit: int, window: float, *, priority: int = 0, waiter: str = "") -> float:
        """0 when a slot was taken, else seconds to wait before asking again (the caller is then on the list of
        waiters). While Redis is away, the database's window counts instead (every process falls back the same
        way), so Books is still paced."""
        waiter = waiter or uuid.uuid4().hex
        try:
            keys = [f"ratelimit:books:{key}", f"ratelimit:books:{key}:waiting"]
            args = [limit, window, waiter, priority, YIELD_SECONDS, WAITER_GRACE_SECONDS]
            return float(self.script(keys=keys, args=args))
        except self.errors:
            return DatabaseWindow().try_acquire(key, limit, window, priority=priority, waiter=waiter)

    def forget(self, key: str, *, priority: int, waiter: str) -> None:
        """The waiter stopped waiting (it holds back and retries later)."""
        try:
            self.client.zrem(f"ratelimit:books:{key}:waiting", f"{priority}:{waiter}")
        except self.errors:
            DatabaseWindow().forget(key, priority=priority, waiter=waiter)

    def reset(self) -> None:
        for key in self.client.scan_iter("ratelimit:books:*"):
            self.client.delete(key)


class DatabaseWindow:
    """The same window in a database row per organization (the shared store when there is no Redis)."""

    def try_acquire(self, key: str, limit: int, window: float, *, priority: int = 0, waiter: str = "") -> float:
        waiter = waiter or uuid.uuid4().hex
        with transaction.atomic():
            BooksCallWindow.objects.get_or_create(organization_id=key)
            row = BooksCallWindow.objects.select_for_update().get(organization_id=key)
            now = time.time()
            calls = [t for t in row.calls if t > now - window]
            waiting = {w: (p, until) for w, (p, until) in row.waiting.items() if until > now and w != waiter}
            ahead = any(p < priority for p, _ in waiting.values())
            if len(calls) < limit and not ahead:
                calls.append(now)
                wait = 0.0
            else:
                wait = max(YIELD_SECONDS, calls[0] + window - now if len(calls) >= limit else 0.0)
                waiting[waiter] = (priority, now + wait + WAITER_GRACE_SECONDS)
            row.calls, row.waiting = calls, waiting
            row.save(update_fields=["calls", "waiting"])
            return wait

    def forget(self, key: str, *, priority: int, waiter: str) -> None:
        with transaction.atomic():
            row = BooksCallWindow.objects.select_for_update().filter(organization_id=key).first()
            if row and row.waiting.pop(waiter, None):
                row.save(update_fields=["waiting"])

    def reset(self) -> None:
        BooksCallWindow.objects.all().delete()


_windows: dict[str, RedisWindow | DatabaseWindow] = {}


def _window() -> RedisWindow | DatabaseWindow:
    url = settings.REDIS_URL
    if url not in _windows:
        _windows[url] = RedisWindow(url) if url else DatabaseWindow()
    return _windows[url]


# --- the daily cap ----------------------------------------------------------------------------------
def books_pause(organization_id: str, *, reason: str, now: datetime | None = None) -> BooksPause:
    """Books refused the organization for its daily cap: hold its calls until the cap has reset.

    When Books resets the cap is not documented (midnight in the organization's time zone, or a rolling
    day): we wait for the next UTC midnight but at least an hour, then try one call; a refusal pauses again.
    """
    now = now or timezone.now()
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    until = max(midnight, now + timedelta(hours=1))
    pause, _ = BooksPause.objects.update_or_create(
        organization_id=organization_id, defaults={"until": until, "reason": reason[:500]}
    )
    return pause


def books_paused_until(organization_id: str) -> datetime | None:
    """When Books work for the organization may resume, or None when it is not paused."""
    return (
        BooksPause.objects.filter(organization_id=organization_id, until__gt=timezone.now())
        .values_list("until", flat=True)
        .first()
    )


def quota_exceeded(organization_id: str, until: datetime) -> ZohoQuotaExceeded:
    wait = max(1.0, (until - timezone.now()).total_seconds())
    return ZohoQuotaExceeded(
        f"Books' daily API limit for organization {organization_id} is used up: its Books work is paused "
        f"until {until:%Y-%m-%d %H:%M} UTC and resumes by itself",
        code=45,
        retry_after=wait,
    )


def books_acquire(organization_id: str, *, max_wait: float | None = None) -> float:
    """Take one Books call slot for the organization, waiting up to `max_wait` seconds for it.

    Returns the seconds waited. Raises `HoldBack` (retryable, with `retry_after`) rather than
    hold a worker longer than `max_wait`, and `ZohoQuotaExceeded` while the organization is paused.
    """
    paused_until = books_paused_until(organization_id)
    if paused_until:
        raise quota_exceeded(organization_id, paused_until)
    limit, window = settings.BOOKS_RATE_LIMIT_PER_MINUTE, settings.BOOKS_RATE_LIMIT_WINDOW_SECONDS
    # Slots are taken here but counted when Books receives the call; latency varies between the two.
    # Counting over 61 s for a 60 s window keeps Books' own count within the limit despite that.
    guarded = window * (1 + 1 / 60)
    budget = settings.BOOKS_RATE_LIMIT_MAX_WAIT if max_wait is None else max_wait
    priority, waiter = ledger.priority(), uuid.uuid4().hex
    waited = 0.0
    while True:
        wait = _window().try_acquire(organization_id, limit, guarded, priority=priority, waiter=waiter)
        if wait <= 0:
            return waited
        if waited + wait > budget:
            _window().forget(organization_id, priority=priority, waiter=waiter)
            raise HoldBack(
                f"Holding back: the limit of {limit} Books calls per "
                f"{'minute' if window == 60 else f'{window:g} s'} for organization "
                f"{organization_id} is used up, or goes to more urgent work first",
                retry_after=wait,
            )
        pause = wait + random.uniform(0, 0.05)  # jitter: waiters do not stampede the same instant
        time.sleep(pause)
        waited += pause


def reset() -> None:
    """Forget every recorded call (tests and benchmarks start from an empty window)."""
    _window().reset()
