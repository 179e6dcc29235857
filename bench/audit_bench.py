#!/usr/bin/env python
"""Duplicate-audit benchmark: the item matching on a generated catalogue of N items (default 100,000) with a known
set of planted duplicates of every kind the matching handles — spacing, case, dash look-alikes, Unicode
look-alike letters, O for 0 (and I for 1), one-typo SKUs, the same name under another SKU — plus one kind it
deliberately does not flag (a single-digit change, indistinguishable from a numbered series), reported apart.

Measures the matching's wall time and peak memory, recall and precision per kind, and the speed-up over
comparing all pairs (rapidfuzz's C++ cdist on 2 cores) on a sample where all pairs is still feasible. Then, unless
--no-read, runs a whole audit in-process against the sandbox holding the same catalogue (PostgreSQL database
`bench_audit`): Books calls, our own time per page, and the time a real run takes at the configured Books limit.

    .venv/bin/python bench/audit_bench.py                 # 100,000 items
    .venv/bin/python bench/audit_bench.py --items 20000 --no-read

Goal: matching under 10 s and under 1 GiB on 2 cores, recall ≥ 0.99, precision ≥ 0.95.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import resource
import string
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CYRILLIC = {"A": "\u0410", "B": "\u0412", "C": "\u0421", "E": "\u0415", "H": "\u041d", "K": "\u041a", "M": "\u041c"}
CYRILLIC |= {"O": "\u041e", "P": "\u0420", "T": "\u0422", "X": "\u0425"}
DASHES = ["\u2010", "\u2011", "\u2013", "\u2014", "\u2212", "\uff0d"]
WORDS = ["alpha", "bravo", "cobalt", "delta", "ember", "falcon", "granite", "harbor", "ivory", "juniper", "kestrel"]


def plant(kind: str, sku: str, name: str, rng: random.Random) -> tuple[str, str] | None:
    """A duplicate of (sku, name) of the given kind, or None when this SKU cannot carry that kind."""
    if kind == "spacing":
        return " " + sku.replace("-", " ").lower() + " ", name + " (old)"
    if kind == "case":
        return sku.lower(), name + " (copy)"
    if kind == "dash":
        return sku.replace("-", rng.choice(DASHES)), name + " (import)"
    if kind == "unicode":
        spots = [i for i, ch in enumerate(sku) if ch in CYRILLIC]
        if not spots:
            return None
        i = rng.choice(spots)
        return sku[:i] + CYRILLIC[sku[i]] + sku[i + 1 :], name + " (EU)"
    if kind == "O/0":
        spots = [i for i, ch in enumerate(sku) if ch in "01"]
        if not spots:
            return None
        i = rng.choice(spots)
        return sku[:i] + {"0": "O", "1": "I"}[sku[i]] + sku[i + 1 :], name + " (legacy)"
    if kind == "typo":  # a letter typo in a SKU long enough for one edit to be ≥ 90 similar
        letters = [i for i, ch in enumerate(sku) if ch.isalpha()]
        if len(sku.replace("-", "")) < 10 or len(letters) < 2:
            return None
        i = rng.choice(letters[:-1])
        how = rng.choice(["swap", "drop", "insert", "replace"])
        if how == "swap" and sku[i + 1].isalpha() and sku[i] != sku[i + 1]:
            typo = sku[:i] + sku[i + 1] + sku[i] + sku[i + 2 :]
        elif how == "drop":
            typo = sku[:i] + sku[i + 1 :]
        elif how == "insert":
            typo = sku[:i] + rng.choice("ACDEFGHJKMNPRTUVWXY") + sku[i:]
        else:
            typo = sku[:i] + rng.choice([c for c in "ACDEFGHJKMNPRTUVWXY" if c != sku[i]]) + sku[i + 1 :]
        return typo, name + " (typo)"
    if kind == "same name":
        return f"ZZ-{rng.randrange(10**8):08d}", name.replace(" ", "-").upper()
    if kind == "digit typo (not flagged by design)":
        digits = [i for i, ch in enumerate(sku) if ch.isdigit()]
        i = rng.choice(digits)
        return sku[:i] + str((int(sku[i]) + 1) % 10) + sku[i + 1 :], name + " (digit typo)"
    raise ValueError(kind)


KINDS = ["spacing", "case", "dash", "unicode", "O/0", "typo", "same name"]
NOT_FLAGGED = "digit typo (not flagged by design)"


def catalogue(n: int, planted: int, seed: int) -> tuple[list[dict], dict[int, tuple[int, str]]]:
    """n items; `planted` of them duplicates of another (truth: dup index → (original index, kind))."""
    from integration.normalize import sku_skeleton

    rng = random.Random(seed)
    bases: list[dict] = []
    skeletons: set[str] = set()
    letters = string.ascii_uppercase
    while len(bases) < n - planted:
        roll = rng.random()
        if roll < 0.10:  # hard negatives: a numbered series (SKU-000101, SKU-000102 …), distinct products
            family, start = "".join(rng.choices(letters, k=4)), rng.randrange(10**5)
            series = [f"{family}-{start + k:06d}" for k in range(rng.randint(5, 40))]
        elif roll < 0.15:  # hard negatives: sizes of one model (…-S, …-M, …-L, …-XL), distinct products
            model = f"{''.join(rng.choices(letters, k=5))}-{rng.randrange(10**4):04d}"
            series = [f"{model}-{size}" for size in ("S", "M", "L", "XL")]
        else:
            series = []
        for sku in series:
            skeleton = sku_skeleton(sku)
            if skeleton not in skeletons and len(bases) < n - planted:
                skeletons.add(skeleton)
                bases.append({"sku": sku, "name": f"{rng.choice(WORDS).title()} {rng.choice(WORDS)} {len(bases)}"})
        if series:
            continue
        if roll < 0.575:  # short codes: 3 letters, 6 digits
            sku = f"{''.join(rng.choices(letters, k=3))}-{rng.randrange(10**6):06d}"
        else:  # long codes: family, model, variant
            sku = (
                f"{''.join(rng.choices(letters, k=5))}-{''.join(rng.choices(letters, k=3))}-{rng.randrange(10**4):04d}"
            )
        skeleton = sku_skeleton(sku)
        if skeleton in skeletons:
            continue
        skeletons.add(skeleton)
        n_base = len(bases)
        bases.append({"sku": sku, "name": f"{rng.choice(WORDS).title()} {rng.choice(WORDS)} {n_base}"})
    items = list(bases)
    truth: dict[int, tuple[int, str]] = {}
    kinds = [*KINDS, NOT_FLAGGED]
    per_kind = planted // len(kinds)
    for kind in kinds:
        made = 0
        while made < per_kind:
            original = rng.randrange(len(bases))
            if original in {o for o, _ in truth.values()}:
                continue
            dup = plant(kind, bases[original]["sku"], bases[original]["name"], rng)
            if dup is None:
                continue
            if sku_skeleton(dup[0]) != sku_skeleton(bases[original]["sku"]):  # a new code: not another product's
                if sku_skeleton(dup[0]) in skeletons:
                    continue
                skeletons.add(sku_skeleton(dup[0]))
            truth[len(items)] = (original, kind)
            items.append({"sku": dup[0], "name": dup[1]})
            made += 1
    order = list(range(len(items)))
    rng.shuffle(order)  # the planted ones are not at the end
    where = {old: new for new, old in enumerate(order)}
    shuffled = [items[old] for old in order]
    return shuffled, {where[d]: (where[o], k) for d, (o, k) in truth.items()}


def score(groups: list[dict], truth: dict[int, tuple[int, str]], items: list[dict]) -> dict:
    group_of = {i: g for g, found in enumerate(groups) for i in found["members"]}
    recall = {}
    for kind in [*KINDS, NOT_FLAGGED]:
        pairs = [(d, o) for d, (o, k) in truth.items() if k == kind]
        hit = sum(1 for d, o in pairs if d in group_of and group_of.get(d) == group_of.get(o))
        recall[kind] = {"planted": len(pairs), "found": hit, "recall": round(hit / len(pairs), 4) if pairs else None}
    true_pairs = {frozenset((d, o)) for d, (o, k) in truth.items()}
    flagged = [frozenset(p) for g in groups for p in itertools.combinations(g["members"], 2)]
    right = sum(1 for p in flagged if p in true_pairs)
    handled = [k for k in KINDS]
    planted = sum(recall[k]["planted"] for k in handled)
    found = sum(recall[k]["found"] for k in handled)
    missed = [
        (d, o, k)
        for d, (o, k) in truth.items()
        if k in KINDS and not (d in group_of and group_of[d] == group_of.get(o))
    ]
    return {
        "missed_examples": [(items[o]["sku"], items[d]["sku"], k) for d, o, k in missed[:8]],
        "recall_by_kind": recall,
        "recall": round(found / planted, 4),
        "flagged_pairs": len(flagged),
        "true_flagged_pairs": right,
        "precision": round(right / len(flagged), 4) if flagged else 1.0,
        "groups": len(groups),
    }


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def matching(args) -> dict:
    from audits.matching import NEAR_RATIO, duplicate_item_groups, typo_excused

    items, truth = catalogue(args.items, args.planted, args.seed)
    before = peak_rss_mib()
    started = time.perf_counter()
    groups = duplicate_item_groups(items)
    seconds = time.perf_counter() - started
    result = {"items": len(items), "planted": len(truth), "seconds": round(seconds, 2)}
    result |= {"peak_rss_mib": round(peak_rss_mib(), 1), "rss_before_matching_mib": round(before, 1)}
    result |= score(groups, truth, items)
    wrong = [
        g
        for g in groups
        if not any(
            frozenset(p) in {frozenset((d, o)) for d, (o, _) in truth.items()}
            for p in itertools.combinations(g["members"], 2)
        )
    ]
    result["false_group_examples"] = [[items[i]["sku"] for i in g["members"]] for g in wrong[:8]]

    # All pairs on a sample small enough for it: every SKU skeleton scored against every other, with the same
    # scorer and cutoff the blocks use (rapidfuzz's C++ extract over the whole sample instead of a block).
    from rapidfuzz import fuzz, process

    from integration.normalize import sku_skeleton

    sample = items[: args.sample]
    started = time.perf_counter()
    blocked = duplicate_item_groups(sample)
    blocked_seconds = time.perf_counter() - started
    started = time.perf_counter()
    keys = [sku_skeleton(i["sku"]) for i in sample]
    near = {
        (a, b)
        for a, key in enumerate(keys)
        for _, _, b in process.extract(key, keys, scorer=fuzz.ratio, score_cutoff=NEAR_RATIO, limit=None)
        if a < b and not typo_excused(sample[a]["sku"], sample[b]["sku"])
    }
    all_pairs_seconds = time.perf_counter() - started
    grouped = {frozenset(p) for g in blocked for p in itertools.combinations(g["members"], 2)}
    result["all_pairs_sample"] = {
        "items": len(sample),
        "pairs": len(sample) * (len(sample) - 1) // 2,
        "all_pairs_seconds": round(all_pairs_seconds, 2),
        "blocked_seconds": round(blocked_seconds, 3),
        "speed_up": round(all_pairs_seconds / blocked_seconds, 1),
        "all_pairs_near_pairs": len(near),
        "near_pairs_blocking_also_groups": sum(1 for p in near if frozenset(p) in grouped),
        "all_pairs_extrapolated_to_catalogue_s": round(all_pairs_seconds * (len(items) / len(sample)) ** 2),
    }
    return result


def _timed_transport():
    from sandbox import SandboxTransport

    class TimedTransport(SandboxTransport):
        """The in-process sandbox, timing itself: what Books would spend is not our cost."""

        seconds = 0.0

        def handle_request(self, request):
            started = time.perf_counter()
            try:
                response = super().handle_request(request)
                response.read()
                return response
            finally:
                TimedTransport.seconds += time.perf_counter() - started

    return TimedTransport


def whole_run(args) -> dict:
    """A whole audit in-process against the sandbox holding the catalogue: Books calls and our time per page."""
    from bench.common import prepare_database

    # Our limiter and the audits' share of the day out of the way too: measure our own cost.
    prepare_database(args.database, BOOKS_RATE_LIMIT_PER_MINUTE="100000", AUDIT_DAILY_SHARE="1000")
    from django.conf import settings

    from audits.models import AuditRun, DuplicateFlag
    from audits.runs import audit_claim, audit_start, audit_work
    from integration import ratelimit
    from integration.models import LegalEntity
    from integration.zoho import http
    from integration.zoho.auth import forget_cached_tokens
    from sandbox import Sandbox
    from sandbox.books import new_item
    from sandbox.demo import US_ORG

    TimedTransport = _timed_transport()
    items, _ = catalogue(args.items, args.planted, args.seed)
    sb = Sandbox(demo=True)
    sb.books_rate_limit_per_minute = 10**6  # Books' limit lifted: measure our own cost; the limit's is computed
    us = sb.orgs[US_ORG]
    us.items = {}
    for item in items:
        new_item(sb, us, name=item["name"], rate="1", sku=item["sku"])
    transport = TimedTransport(sb)
    http.set_transport(transport)
    settings.ZOHO_ACCOUNTS_URL = settings.ZOHO_API_DOMAIN = sb.base_url
    forget_cached_tokens()
    ratelimit.reset()
    entity = LegalEntity.objects.get(code="US-LLC")
    run, _ = audit_start(entity=entity, trigger="command", queue=False)
    run = audit_claim(run.pk)
    started = time.perf_counter()
    audit_work(run)
    seconds = time.perf_counter() - started
    run = AuditRun.objects.get(pk=run.pk)
    calls = len(sb.calls_to("GET", r"/(items|contacts)"))
    limit = int(args.books_limit)
    return {
        "items_read": run.items_read,
        "books_calls": run.books_calls,
        "sandbox_calls": calls,
        "seconds_in_process": round(seconds, 1),
        "seconds_in_the_sandbox": round(transport.seconds, 1),
        "our_seconds": round(seconds - transport.seconds, 1),
        "our_ms_per_page": round((seconds - transport.seconds) * 1000 / run.books_calls, 1),
        "item_groups_recorded": DuplicateFlag.objects.filter(kind="item", state="open").count(),
        "books_limit_per_minute": limit,
        "minutes_at_the_limit": round(run.books_calls / limit, 1),
        "peak_rss_mib": round(peak_rss_mib(), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--planted", type=int, default=4_000, help="duplicates among the items, all kinds")
    parser.add_argument("--sample", type=int, default=5_000, help="items for the all-pairs comparison")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--no-read", action="store_true", help="only the matching, no whole run")
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/bench_audit")
    parser.add_argument("--books-limit", type=int, default=90, help="BOOKS_RATE_LIMIT_PER_MINUTE of a real run")
    args = parser.parse_args()
    result = {"matching": matching(args)}
    if not args.no_read:
        result["whole_run"] = whole_run(args)
    out = ROOT / "bench" / "results" / "audit_bench.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
