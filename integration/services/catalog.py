"""Each organization's Books item list, cached for five minutes, and the short cross-process locks that stop
two workers from creating the same customer or item at once. The matching rules are in audits/matching.py."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

from django.core.cache import cache

from integration.zoho.books import BooksClient
from integration.zoho.errors import HoldBack

ITEMS_CACHE_SECONDS = 300
CREATE_LOCK_SECONDS = 120


def _items_key(organization_id: str) -> str:
    return f"books:items:{organization_id}"


def item_index(books: BooksClient, organization_id: str, *, fresh: bool = False) -> list[dict]:
    """Every item of the organization, every page, active and inactive; cached for five minutes."""
    key = _items_key(organization_id)
    items = None if fresh else cache.get(key)
    if items is None:
        items = books.items_all(organization_id)
        cache.set(key, items, ITEMS_CACHE_SECONDS)
    return items


def item_index_cached(organization_id: str) -> list[dict] | None:
    """The cached item index, or None when it must be fetched."""
    return cache.get(_items_key(organization_id))


def item_index_add(organization_id: str, item: dict) -> None:
    """Keep the cached index in step after we created or reactivated an item."""
    key = _items_key(organization_id)
    items = cache.get(key)
    if items is not None:
        cache.set(key, [i for i in items if i["item_id"] != item["item_id"]] + [item], ITEMS_CACHE_SECONDS)


@contextlib.contextmanager
def creation_lock(kind: str, organization_id: str, key: str) -> Iterator[None]:
    """Hold a short cross-process lock while deciding to create one customer or item in Books.

    `cache.add` is atomic on Redis (and in-process on the local-memory cache). A busy lock means another
    push is creating the same thing right now: retry shortly, then the fresh lookup finds it.
    """
    name = f"books:create:{kind}:{organization_id}:{key}"
    token = uuid.uuid4().hex
    if not cache.add(name, token, CREATE_LOCK_SECONDS):
        raise HoldBack(f"Another push is creating the same Books {kind} ({key}) right now", retry_after=5)
    try:
        yield
    finally:
        if cache.get(name) == token:
            cache.delete(name)


def item_index_forget(organization_id: str) -> None:
    """Drop the cached index (items changed status outside a push: an audit's resolution)."""
    cache.delete(_items_key(organization_id))
