"""Matching CRM Accounts and Products to Books customers and items, without ever creating a duplicate.

Pure matching rules live here (exact by normalized name / SKU, near-duplicates by skeleton and fuzzy
ratio), with the per-organization item index cache and the short locks that stop two workers from
creating the same customer or item at once.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
import uuid
from collections.abc import Iterator

from django.core.cache import cache
from rapidfuzz import fuzz

from integration.normalize import normalize_name, normalize_sku, sku_skeleton
from integration.zoho.books import BooksClient
from integration.zoho.errors import ZohoDeferred

ITEMS_CACHE_SECONDS = 300
NEAR_RATIO = 90  # rapidfuzz ratio on normalized SKUs at or above which two SKUs are "near"
CREATE_LOCK_SECONDS = 120


class PushNeedsDecision(Exception):
    """A person must choose (near-duplicate items, several matching customers); retrying will not help."""


# --- items -----------------------------------------------------------------------------------------
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


def items_exact(index: list[dict], sku: str) -> list[dict]:
    """Items whose SKU equals `sku` after normalization (case, spacing, punctuation, dash look-alikes)."""
    wanted = normalize_sku(sku)
    return [i for i in index if wanted and normalize_sku(i.get("sku")) == wanted]


def items_near(index: list[dict], *, sku: str, name: str, limit: int = 5) -> list[dict]:
    """Items that look like the product without being it: same skeleton (look-alike letters, O for 0),
    a fuzzy SKU ratio of at least 90, or the same normalized name under another SKU."""
    wanted, skeleton, wanted_name = normalize_sku(sku), sku_skeleton(sku), normalize_name(name)
    scored = []
    for item in index:
        other = normalize_sku(item.get("sku"))
        if other == wanted and wanted:
            continue
        ratio = fuzz.ratio(wanted, other) if wanted and other else 0
        if (
            (other and sku_skeleton(item.get("sku")) == skeleton)
            or ratio >= NEAR_RATIO
            or (wanted_name and normalize_name(item.get("name")) == wanted_name)
        ):
            scored.append((ratio, item))
    scored.sort(key=lambda pair: -pair[0])
    return [item for _, item in scored[:limit]]


def describe_items(items: list[dict]) -> str:
    return "; ".join(
        f"“{i['name']}” (SKU {i.get('sku') or 'none'}{_lookalikes(i.get('sku') or '')}, item {i['item_id']}, "
        f"{i.get('status', 'active')})"
        for i in items
    )


def _lookalikes(sku: str) -> str:
    """Name the characters a reader cannot see: `ТНG-600` looks like `THG-600` but is not."""
    odd = [f"{ch} {unicodedata.name(ch, hex(ord(ch)))}" for ch in dict.fromkeys(sku) if ord(ch) > 127]
    return f" — contains {', '.join(odd)}" if odd else ""


# --- customers -------------------------------------------------------------------------------------
def customer_search_term(name: str) -> str:
    """The longest word of the name: Books' search_text is a substring match, so one distinctive word
    finds `Initech LLC` for `Initech, LLC` where an exact-name filter would not."""
    words = re.findall(r"\w+", name)
    return max(words, key=len) if words else name


def customers_matching(contacts: list[dict], name: str) -> list[dict]:
    """Contacts whose name or company name equals `name` after normalization (NFKC, case, punctuation)."""
    wanted = normalize_name(name)
    seen: dict[str, dict] = {}
    for contact in contacts:
        if wanted and wanted in (
            normalize_name(contact.get("contact_name")),
            normalize_name(contact.get("company_name")),
        ):
            seen.setdefault(contact["contact_id"], contact)
    return list(seen.values())


def describe_customers(contacts: list[dict]) -> str:
    return "; ".join(
        f"“{c['contact_name']}” (contact {c['contact_id']}, {c.get('status', 'active')})" for c in contacts
    )


# --- creation locks ----------------------------------------------------------------------------------
@contextlib.contextmanager
def creation_lock(kind: str, organization_id: str, key: str) -> Iterator[None]:
    """Hold a short cross-process lock while deciding to create one customer or item in Books.

    `cache.add` is atomic on Redis (and in-process on the local-memory cache). A busy lock means another
    push is creating the same thing right now: retry shortly, then the fresh lookup finds it.
    """
    name = f"books:create:{kind}:{organization_id}:{key}"
    token = uuid.uuid4().hex
    if not cache.add(name, token, CREATE_LOCK_SECONDS):
        raise ZohoDeferred(f"Another push is creating the same Books {kind} ({key}) right now", retry_after=5)
    try:
        yield
    finally:
        if cache.get(name) == token:
            cache.delete(name)
