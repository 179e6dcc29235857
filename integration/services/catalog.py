"""Each organization's Books item list, cached for five minutes. The matching rules are in audits/matching.py;
the fence that stops two workers creating the same item is in fence.py.

Reading the list is single-flight per organization: a catalogue of 100,000 items is 500 Books calls, and pushes
arriving together with unlinked products would each read it. The first claims the reading (`cache.add`); the
others hold back (their worker is free meanwhile, and no attempt is spent) and find the list cached when they
come back. A claim outlives a reader that died by `ITEMS_READ_CLAIM_SECONDS` at most."""

from __future__ import annotations

import time

from django.core.cache import cache

from integration.zoho.books import BooksClient
from integration.zoho.errors import HoldBack

ITEMS_CACHE_SECONDS = 300
ITEMS_READ_CLAIM_SECONDS = 300
ITEMS_READ_WAIT_SECONDS = 10  # how soon a push held back by another reading looks again


def _items_key(organization_id: str) -> str:
    return f"books:items:v2:{organization_id}"


def item_index(books: BooksClient, organization_id: str, *, since: float | None = None) -> list[dict]:
    """Every item of the organization, every page, active and inactive: the cached list, or — when there is none,
    or it was read before `since` (epoch seconds) — read from Books now. Raises `HoldBack` while another worker is
    reading it, and when our rate limiter holds this reading back: what it read so far is kept, and the next
    reading carries on from the next page (a fresh reading, with `since`, starts again)."""
    key = _items_key(organization_id)
    entry = cache.get(key)
    if entry is not None and (since is None or entry["read_at"] >= since):
        return entry["items"]
    claim, partial = f"{key}:reading", f"{key}:partial"
    if not cache.add(claim, 1, timeout=ITEMS_READ_CLAIM_SECONDS):
        raise HoldBack(
            f"Another worker is reading Books organization {organization_id}'s item list; this push uses it once "
            "it is read",
            retry_after=ITEMS_READ_WAIT_SECONDS,
        )
    try:
        progress = cache.get(partial) if since is None else None
        progress = progress or {"read_at": time.time(), "next_page": 1, "items": []}
        while True:
            try:
                rows, more = books.items_page(organization_id, progress["next_page"])
            except HoldBack:
                cache.set(partial, progress, ITEMS_CACHE_SECONDS)  # the next reading carries on from here
                raise
            progress["items"] += rows
            progress["next_page"] += 1
            if not more:
                break
        items = list({i["item_id"]: i for i in progress["items"]}.values())  # a row that moved pages, once
        cache.set(key, {"read_at": progress["read_at"], "items": items}, ITEMS_CACHE_SECONDS)
        cache.delete(partial)
    finally:
        cache.delete(claim)
    return items


def item_index_cached(organization_id: str) -> list[dict] | None:
    """The cached item index, or None when it must be fetched."""
    entry = cache.get(_items_key(organization_id))
    return entry["items"] if entry is not None else None


def item_index_add(organization_id: str, item: dict) -> None:
    """Keep the cached index in step after we created or reactivated an item."""
    key = _items_key(organization_id)
    entry = cache.get(key)
    if entry is not None:
        items = [i for i in entry["items"] if i["item_id"] != item["item_id"]] + [item]
        cache.set(key, {**entry, "items": items}, ITEMS_CACHE_SECONDS)


def item_index_forget(organization_id: str) -> None:
    """Drop the cached index (items changed status outside a push: an audit's resolution)."""
    cache.delete(_items_key(organization_id))
