"""Outbound Books rate limit: at most BOOKS_RATE_LIMIT_PER_MINUTE calls per organization in any
60-second window, counted across every process (CONTRACT.md §1).

With Redis configured the window is a sorted set per organization, checked and filled by one Lua
script using Redis' own clock (so workers on different machines agree). Without Redis (the embedded
default, one process) an in-process window does the same job.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import defaultdict, deque

from django.conf import settings

from integration.zoho.errors import ZohoDeferred

_ACQUIRE = """
local key, limit, window, member = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) < limit then
  redis.call('ZADD', key, now, member)
  redis.call('EXPIRE', key, math.ceil(window) + 1)
  return '0'
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return tostring(tonumber(oldest[2]) + window - now)
"""


class RedisWindow:
    def __init__(self, url: str):
        import redis

        self.client = redis.Redis.from_url(url)
        self.script = self.client.register_script(_ACQUIRE)

    def try_acquire(self, key: str, limit: int, window: float) -> float:
        """0 when a slot was taken, else seconds until one frees up."""
        return float(self.script(keys=[f"ratelimit:books:{key}"], args=[limit, window, uuid.uuid4().hex]))

    def reset(self) -> None:
        for key in self.client.scan_iter("ratelimit:books:*"):
            self.client.delete(key)


class LocalWindow:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: dict[str, deque] = defaultdict(deque)

    def try_acquire(self, key: str, limit: int, window: float) -> float:
        with self.lock:
            now = time.monotonic()
            calls = self.calls[key]
            while calls and calls[0] <= now - window:
                calls.popleft()
            if len(calls) < limit:
                calls.append(now)
                return 0.0
            return calls[0] + window - now

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()


_windows: dict[str, RedisWindow | LocalWindow] = {}


def _window() -> RedisWindow | LocalWindow:
    url = settings.REDIS_URL
    if url not in _windows:
        _windows[url] = RedisWindow(url) if url else LocalWindow()
    return _windows[url]


def books_acquire(organization_id: str, *, max_wait: float | None = None) -> float:
    """Take one Books call slot for the organization, waiting up to `max_wait` seconds for it.

    Returns the seconds waited. Raises `ZohoDeferred` (retryable, with `retry_after`) rather than
    hold a worker longer than `max_wait`.
    """
    limit, window = settings.BOOKS_RATE_LIMIT_PER_MINUTE, settings.BOOKS_RATE_LIMIT_WINDOW_SECONDS
    # Slots are taken here but counted when Books receives the call; latency varies between the two.
    # Counting over 61 s for a 60 s window keeps Books' own count within the limit despite that.
    guarded = window * (1 + 1 / 60)
    budget = settings.BOOKS_RATE_LIMIT_MAX_WAIT if max_wait is None else max_wait
    waited = 0.0
    while True:
        wait = _window().try_acquire(organization_id, limit, guarded)
        if wait <= 0:
            return waited
        if waited + wait > budget:
            raise ZohoDeferred(
                f"Holding back: the limit of {limit} Books calls per "
                f"{'minute' if window == 60 else f'{window:g} s'} for organization "
                f"{organization_id} is used up",
                retry_after=wait,
            )
        pause = wait + random.uniform(0, 0.05)  # jitter: waiters do not stampede the same instant
        time.sleep(pause)
        waited += pause


def reset() -> None:
    """Forget every recorded call (tests and benchmarks start from an empty window)."""
    _window().reset()
