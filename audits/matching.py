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

from integration.normalize import normalize_name, normalize_sku, sku_skeleton, sku_skeleton_segments

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
    odd = unusual_characters(sku)
    return f" — contains {odd}" if odd else ""


def unusual_characters(text: str) -> str:
    """Name the characters a reader cannot see: `ТНG-600` looks like `THG-600` but is not."""
    return ", ".join(f"{ch} {unicodedata.name(ch, hex(ord(ch)))}" for ch in dict.fromkeys(text) if ord(ch) > 127)


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


# --- a whole catalogue at once (the audit) ---------------------------------------------------------------
class _Groups:
    """Union-find over record indexes, remembering why two were joined."""

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

    def join_equal(self, keys: list[str], reason: str, score: int) -> None:
        """Join every index to the first one with the same non-blank key."""
        first: dict[str, int] = {}
        for i, key in enumerate(keys):
            if not key:
                continue
            if key in first:
                self.join(first[key], i, reason, score)
            else:
                first[key] = i

    def result(self) -> list[dict]:
        found: dict[int, list[int]] = {}
        for i in range(len(self.parent)):
            found.setdefault(self.find(i), []).append(i)
        groups = []
        for members in (m for m in found.values() if len(m) > 1):
            inside = set(members)
            reasons = {pair: why for pair, why in self.why.items() if pair[0] in inside}
            groups.append({"members": members, "reasons": reasons, "score": min(s for _, s in reasons.values())})
        return sorted(groups, key=lambda g: -len(g["members"]))


def duplicate_item_groups(items: list[dict], *, block: int = 4) -> list[dict]:
    """Groups of Books items that are one product: the same normalized SKU, the same skeleton (look-alike letters,
    O for 0), the same normalized name, or SKUs at a fuzzy ratio of at least NEAR_RATIO. Never compares all
    pairs: candidates for the fuzzy test share a block — the first or the last `block` characters of the skeleton
    (a one-character typo leaves one of them intact) — and only pairs within a block are scored.

    Returns [{"members": [item indexes], "reasons": {(i, j): (reason, score)}, "score": weakest link}], largest
    first. Scores: 100 identical after normalization, 95 look-alikes, 90 same name, else the fuzzy ratio.
    """
    n = len(items)
    groups = _Groups(n)
    skus = [normalize_sku(i.get("sku")) for i in items]
    skeletons = [sku_skeleton(i.get("sku")) for i in items]
    names = [normalize_name(i.get("name")) for i in items]
    segments = [sku_skeleton_segments(i.get("sku") or "") for i in items]
    groups.join_equal(skus, "same SKU once normalized", 100)
    groups.join_equal(skeletons, "SKUs alike but for look-alike characters", 95)
    groups.join_equal(names, "same name", 90)
    for members in _blocks(list(range(n)), skeletons, block):
        keys = [skeletons[i] for i in members]
        for r, key in enumerate(keys):
            for _, score, c in process.extract(key, keys, scorer=fuzz.ratio, score_cutoff=NEAR_RATIO, limit=None):
                a, b = members[r], members[c]
                if (
                    r < c
                    and groups.find(a) != groups.find(b)
                    and not _numbered_apart(skeletons[a], skeletons[b], skus[a], skus[b])
                    and not _variants(segments[a], segments[b])
                ):
                    groups.join(a, b, "SKUs one typo apart", int(score))
    return groups.result()


# Words that say what legal form a company has, not which company it is: `Initech, LLC` is `Initech Inc.`.
# fmt: off
LEGAL_FORMS = frozenset((
    "inc", "incorporated", "llc", "ltd", "limited", "corp", "corporation", "co", "company", "plc", "gmbh", "pvt",
    "private", "llp", "lp", "sa", "ag", "bv", "nv", "pty", "the", "and",
))
# Mailbox providers: sharing one says nothing about being one customer.
PUBLIC_MAIL = frozenset((
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "yahoo.co.in", "hotmail.com", "outlook.com",
    "live.com", "msn.com", "aol.com", "icloud.com", "me.com", "mail.com", "gmx.com", "gmx.de", "proton.me",
    "protonmail.com", "zoho.com", "zohomail.com", "rediffmail.com", "yandex.com", "qq.com", "163.com",
    # and the internet providers people use as one
    "comcast.net", "verizon.net", "att.net", "btinternet.com", "sky.com", "virginmedia.com", "t-online.de",
    "web.de", "orange.fr", "free.fr", "libero.it", "shaw.ca", "rogers.com", "bell.net", "bigpond.com",
))
# fmt: on


def company_key(name: str | None) -> str:
    """The company a name means, without its legal form or punctuation: `Vandelay Industries, Inc.` → `vandelay
    industries`. Empty when nothing distinctive is left."""
    text = unicodedata.normalize("NFKC", name or "").casefold()
    words = [w for w in re.split(r"[^\w]+", text.replace("&", " and ")) if w]
    return " ".join(w for w in words if w not in LEGAL_FORMS)


def email_domain(email: str | None) -> str:
    """The company mail domain of an address; blank for public mailbox providers."""
    domain = (email or "").rpartition("@")[2].strip().casefold().rstrip(".")
    return "" if "." not in domain or domain in PUBLIC_MAIL else domain


def tax_number_key(number: str | None) -> str:
    """A VAT or GST registration number without spaces, punctuation or a VAT country prefix: `GB 123 4567 89` =
    `GB123456789` = `123456789`; a GSTIN (`29ABCDE1234F1Z5`) stays whole."""
    key = "".join(ch for ch in unicodedata.normalize("NFKC", number or "").upper() if ch.isalnum())
    return re.sub(r"^[A-Z]{2}(?=\d)", "", key)


def duplicate_customer_groups(contacts: list[dict]) -> list[dict]:
    """Groups of Books contacts that are one customer: the same company name once legal forms and punctuation are
    ignored (a contact made from a CRM Contact carries the person's name and the company in `company_name`), the
    same tax registration number, or the same company mail domain. Same shape as duplicate_item_groups."""
    groups = _Groups(len(contacts))
    companies = [company_key(c.get("company_name") or c.get("contact_name")) for c in contacts]
    exact = [normalize_name(c.get("company_name") or c.get("contact_name")) for c in contacts]
    groups.join_equal(exact, "same company name once normalized", 100)
    groups.join_equal(companies, "same company name but for its legal form", 95)
    groups.join_equal([tax_number_key(c.get("tax_number")) for c in contacts], "same tax registration number", 100)
    groups.join_equal([email_domain(c.get("email")) for c in contacts], "same company email domain", 70)
    return groups.result()


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


def typo_excused(a: str, b: str) -> bool:
    """SKUs close enough to be one typo apart that are, by their shape, distinct products: a numbered series, or
    variants of one model."""
    skeleton_a, skeleton_b, normal_a, normal_b = sku_skeleton(a), sku_skeleton(b), normalize_sku(a), normalize_sku(b)
    if _numbered_apart(skeleton_a, skeleton_b, normal_a, normal_b):
        return True
    return _variants(sku_skeleton_segments(a), sku_skeleton_segments(b))


def _variants(sa: list[str], sb: list[str]) -> bool:
    """Variants of one model (`TEE-1234-S`, `TEE-1234-M`, `TEE-1234-XL`; `MUG-RED`, `MUG-BLU`): the same
    segments but a different short last one (≤ 3 characters). A typo there is missed: the price of not flagging
    every size and colour of every model. Takes the SKUs' segments (`_segments`)."""
    return len(sa) == len(sb) >= 2 and sa[:-1] == sb[:-1] and sa[-1] != sb[-1] and len(sa[-1]) <= 3 and len(sb[-1]) <= 3


def _numbered_apart(ka: str, kb: str, na: str, nb: str) -> bool:
    """Two SKUs of one numbered series (`SKU-00001`, `SKU-00002`; also `SKU-0O001` against `SKU-00002`), given
    their skeletons (k) and normal forms (n): the same length, every difference between digits of the skeleton
    at least one of which is a real digit — `HSBLY` and `HBSLY` (S and B pass for 5 and 8) stay a typo. A catalogue
    is full of series, so they are never taken for typos (a digit typo is then missed: the price of not
    flagging every neighbour in a series)."""
    if len(ka) != len(kb) or len(na) != len(ka) or len(nb) != len(kb):
        return False
    return all(
        x == y or (x.isdigit() and y.isdigit() and (na[i].isdigit() or nb[i].isdigit()))
        for i, (x, y) in enumerate(zip(ka, kb, strict=True))
    )
