"""The cache backend: Django's Redis cache, except that Redis being away is a cache miss, not an error. Every
value we cache (Books' taxes, items, currencies, the screens' banners) can be read again from its source, so
while Redis is down every screen and every push works uncached, a little slower."""

from __future__ import annotations

import functools
import logging
import time

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)
_last_warned = 0.0


def _forgiving(default):
    def wrap(method):
        @functools.wraps(method)
        def call(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except RedisError as exc:
                global _last_warned
                if time.monotonic() - _last_warned > 60:  # once a minute, not once a call
                    _last_warned = time.monotonic()
                    logger.warning("Redis is unavailable (%s): working without the cache", type(exc).__name__)
                return default(*args, **kwargs)

        return call

    return wrap


def _default_arg(key, default=None, *args, **kwargs):
    return default


class ForgivingRedisCache(RedisCache):
    get = _forgiving(_default_arg)(RedisCache.get)
    get_many = _forgiving(lambda *a, **k: {})(RedisCache.get_many)
    has_key = _forgiving(lambda *a, **k: False)(RedisCache.has_key)
    set = _forgiving(lambda *a, **k: None)(RedisCache.set)
    set_many = _forgiving(lambda keys, *a, **k: list(keys))(RedisCache.set_many)
    add = _forgiving(lambda *a, **k: False)(RedisCache.add)
    touch = _forgiving(lambda *a, **k: False)(RedisCache.touch)
    delete = _forgiving(lambda *a, **k: False)(RedisCache.delete)
    delete_many = _forgiving(lambda *a, **k: None)(RedisCache.delete_many)
    clear = _forgiving(lambda *a, **k: None)(RedisCache.clear)
