"""Each organization's Books item list, cached for five minutes. The matching rules are in audits/matching.py;
the fence that stops two workers creating the same item is in fence.py."""

from __future__ import annotations

from django.core.cache import cache

from integration.zoho.books import BooksClient

ITEMS_CACHE_SECONDS = 300


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


def item_index_forget(organization_id: str) -> None:
    """Drop the cached index (items changed status outside a push: an audit's resolution)."""
    cache.delete(_items_key(organization_id))
