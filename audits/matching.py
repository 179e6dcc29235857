"""The one home of duplicate detection: when a CRM Account or Product *is* a Books customer or item.

Exact matches compare normalized names and SKUs (Unicode NFKC, case, punctuation, spacing and dash
look-alikes ignored); near-duplicates share a skeleton once look-alike letters and O/0-style digits are
folded, or are close by a fuzzy ratio, or carry the same name under another SKU. The push calls these before
it creates anything; a near match stops it with `PushNeedsDecision` until finance decides (decisions.py).
"""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz import fuzz, process

from integration.normalize import normalize_name, normalize_sku, sku_skeleton

NEAR_RATIO = 90  # rapidfuzz ratio on normalized SKUs at or above which two SKUs are "near"


class PushNeedsDecision(Exception):
    """A person must choose (near-duplicate items, several matching customers); retrying will not help.
    `decisions` says what to choose between, for the push page: one dict per choice to make."""

    def __init__(self, message: str, *, decisions: list[dict] | None = None):
        super().__init__(message)
        self.decisions = decisions or []


def item_choice(line: dict, candidates: list[dict], *, allow_new: bool) -> dict:
    """A decision for the push page: which Books item a CRM product is (or a new one)."""
    return {
        "kind": "item",
        "product_id": line["product_id"],
        "name": line["name"],
        "sku": line["sku"],
        "allow_new": allow_new,
        "candidates": [
            {"id": str(i["item_id"]), "name": i.get("name", ""), "sku": i.get("sku", ""), "status": i.get("status", "")}
            for i in candidates
        ],
    }


def customer_choice(account_name: str, candidates: list[dict]) -> dict:
    """A decision for the push page: which Books customer an Account is."""
    return {
        "kind": "customer",
        "name": account_name,
        "allow_new": False,
        "candidates": [
            {
                "id": str(c["contact_id"]),
                "name": c.get("contact_name", ""),
                "sku": c.get("company_name", ""),
                "status": c.get("status", ""),
            }
            for c in candidates
        ],
    }


# --- items -----------------------------------------------------------------------------------------
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


# --- a whole catalogue at once (the audit) ---------------------------------------------------------------
class _Groups:
    """Union-find over item indexes, remembering why two were joined."""

    def __init__(self, n: int):
        self.parent = list(range(n))
        self.why: dict[tuple[int, int], tuple[str, int]] = {}

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, a: int, b: int, reason: str, score: int) -> None:
        self.why.setdefault((min(a, b), max(a, b)), (reason, score))
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def duplicate_item_groups(items: list[dict], *, block: int = 4) -> list[dict]:
    """Groups of Books items that are one product: the same normalized SKU, the same skeleton (look-alike letters,
    O for 0), the same normalized name, or SKUs at a fuzzy ratio of at least NEAR_RATIO. Never compares all
    pairs: candidates for the fuzzy test share a block — the first or the last `block` characters of the skeleton
    (a one-character typo leaves one of them intact) — and only pairs within a block are scored.

    Returns [{"members": [item indexes], "reasons": {(i, j): (reason, score)}, "score": best score}], largest first.
    """
    n = len(items)
    groups = _Groups(n)
    skus = [normalize_sku(i.get("sku")) for i in items]
    skeletons = [sku_skeleton(i.get("sku")) for i in items]
    names = [normalize_name(i.get("name")) for i in items]
    for key_list, reason in (
        (skus, "same SKU once normalized"),
        (skeletons, "SKUs alike but for look-alike characters"),
        (names, "same name"),
    ):
        first: dict[str, int] = {}
        for i, key in enumerate(key_list):
            if not key:
                continue
            if key in first:
                groups.join(first[key], i, reason, 100)
            else:
                first[key] = i
    for members in _blocks(list(range(n)), skeletons, block):
        keys = [skeletons[i] for i in members]
        for r, key in enumerate(keys):
            for _, score, c in process.extract(key, keys, scorer=fuzz.ratio, score_cutoff=NEAR_RATIO, limit=None):
                a, b = members[r], members[c]
                if r < c and groups.find(a) != groups.find(b) and not _numbered_apart(skeletons[a], skeletons[b]):
                    groups.join(a, b, "SKUs one typo apart", int(score))
    found: dict[int, list[int]] = {}
    for i in range(n):
        found.setdefault(groups.find(i), []).append(i)
    result = []
    for members in (m for m in found.values() if len(m) > 1):
        inside = set(members)
        reasons = {pair: why for pair, why in groups.why.items() if pair[0] in inside}
        result.append({"members": members, "reasons": reasons, "score": min(s for _, s in reasons.values())})
    return sorted(result, key=lambda g: -len(g["members"]))


MAX_BLOCK = 2000  # a block larger than this is split by a longer key, so no comparison matrix grows unbounded


def _blocks(indexes: list[int], skeletons: list[str], length: int):
    """Candidate blocks for fuzzy comparison: items sharing their skeleton's first or last `length` characters;
    an oversized block (a catalogue of `ITEM-000001`…) is split again by longer keys."""
    for side in ("<", ">"):
        by_key: dict[str, list[int]] = {}
        for i in indexes:
            skeleton = skeletons[i]
            if len(skeleton) >= length:
                by_key.setdefault(skeleton[:length] if side == "<" else skeleton[-length:], []).append(i)
        for members in by_key.values():
            if len(members) < 2:
                continue
            if len(members) > MAX_BLOCK and all(len(skeletons[i]) > length for i in members):
                yield from _blocks(members, skeletons, length + 2)
            else:
                yield members


def _numbered_apart(a: str, b: str) -> bool:
    """Two SKUs of one numbered series (`SKU-00001`, `SKU-00002`): same length, differing only in digits. A
    catalogue is full of them, so they are never taken for typos (a digit typo is then missed: the price of not
    flagging every neighbour in a series)."""
    return len(a) == len(b) and all(x == y or (x.isdigit() and y.isdigit()) for x, y in zip(a, b, strict=True))
