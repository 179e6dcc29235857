#!/usr/bin/env python
"""Push benchmark: N deals through real Celery workers against the Zoho sandbox over HTTP, with the
sandbox's per-organization Books limit scaled down so the limit, not the machine, is what is measured.

    .venv/bin/python bench/push_bench.py --deals 40 --limit 40 --workers 2

Uses PostgreSQL (database `bench_bridge`, created if missing) and Redis db 13 (flushed). Reports
pushes per minute against the ceiling the limit allows, Books calls per push (overall and in the steady
state, when customer and items are already linked), 429s received, and the press latency.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=40)
    parser.add_argument("--limit", type=int, default=40, help="Books calls per organization per minute (sandbox)")
    parser.add_argument(
        "--our-limit",
        type=int,
        default=0,
        help="our BOOKS_RATE_LIMIT_PER_MINUTE (default 90%% of --limit; set it above to provoke 429s)",
    )
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--concurrency", type=int, default=4, help="processes (prefork) or threads per worker")
    parser.add_argument("--pool", choices=["prefork", "threads"], default="prefork", help="as production: prefork")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/bench_bridge")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    args = parser.parse_args()

    ours = args.our_limit or max(1, int(args.limit * 0.9))  # under Books' own, as 90 is under 100
    sandbox_url = f"http://127.0.0.1:{args.port}"
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "true",
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": args.database,
        "CELERY_BROKER_URL": args.redis,
        "REDIS_URL": args.redis,
        "ZOHO_ACCOUNTS_URL": sandbox_url,
        "ZOHO_API_DOMAIN": sandbox_url,
        "ZOHO_CLIENT_ID": "bench-client",
        "ZOHO_CLIENT_SECRET": "bench-secret",
        "ZOHO_REFRESH_TOKEN": "bench-refresh",
        "CRM_BUTTON_SECRET": "bench",
        "BOOKS_RATE_LIMIT_PER_MINUTE": str(ours),
        "BOOKS_RATE_LIMIT_MAX_WAIT": "30",
    }
    from bench.common import prepare

    prepare(database=args.database, redis_url=args.redis, env=env)
    from integration.models import InvoicePush
    from integration.services.press import push_request
    from sandbox import Sandbox, serve
    from sandbox.demo import US_ORG, deal_id
    from tests.stack import worker_command

    sandbox = Sandbox(
        base_url=sandbox_url,
        clients={"bench-client": "bench-secret"},
        refresh_tokens={"bench-refresh": "bench-client"},
        demo=True,
    )
    sandbox.books_rate_limit_per_minute = args.limit
    serve(sandbox, port=args.port, background=True)
    templates = [1, 2, 12]  # two accounts (one new customer, one adopted), five products, all US
    deals = []
    for n in range(args.deals):
        new_id = deal_id(50000 + n)
        sandbox.crm["Deals"][new_id] = {**sandbox.crm["Deals"][deal_id(templates[n % 3])], "id": new_id}
        deals.append(new_id)

    workers = [
        subprocess.Popen(
            worker_command(f"bench{i}", concurrency=args.concurrency, loglevel="WARNING", pool=args.pool),
            cwd=ROOT,
            env={**os.environ},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for i in range(args.workers)
    ]
    time.sleep(4)  # workers connect
    try:
        latencies, push_ids = [], []
        started = time.monotonic()
        for deal in deals:
            t = time.monotonic()
            push_ids.append(push_request(deal_id=deal, user="bench@acme.example").pk)
            latencies.append((time.monotonic() - t) * 1000)
        while InvoicePush.objects.filter(pk__in=push_ids, state__in=["queued", "running"]).exists():
            if time.monotonic() - started > 1800:
                raise SystemExit("benchmark timed out")
            time.sleep(0.5)
        elapsed = time.monotonic() - started
    finally:
        for w in workers:
            os.killpg(w.pid, signal.SIGTERM)

    states = {s: InvoicePush.objects.filter(pk__in=push_ids, state=s).count() for s in ("pushed", "failed", "blocked")}
    books_calls = [c for c in sandbox.calls if c["product"] == "books" and c["org"] == US_ORG]
    invoices = [
        c for c in books_calls if c["method"] == "POST" and c["path"] == "/books/v3/invoices" and c["status"] == 201
    ]
    # Steady state: the calls made after the last customer/item/tax call (everything linked and cached).
    setup = [i for i, c in enumerate(books_calls) if not (c["method"] == "POST" and c["path"] == "/books/v3/invoices")]
    steady = books_calls[setup[-1] + 1 :] if setup else books_calls
    steady_invoices = [c for c in steady if c["status"] == 201]
    result = {
        "deals": args.deals,
        "workers": args.workers,
        "pool": args.pool,
        "concurrency_per_worker": args.concurrency,
        "books_limit_per_minute": args.limit,
        "our_limit_per_minute": ours,
        **states,
        "elapsed_s": round(elapsed, 1),
        "pushes_per_minute": round(states["pushed"] / elapsed * 60, 1),
        "ceiling_pushes_per_minute": ours,  # at one Books call per push
        # A sliding window frees its slots in bursts, so a run of T seconds may make ours × (⌊T/60⌋ + 1) calls.
        "max_books_calls_in_any_60s": _max_in_window([c["at"] for c in books_calls], 60.0),
        "limit_utilisation": round(len(books_calls) / (ours * (int(elapsed // 60) + 1)), 3),
        # The share of our per-organization budget used: in the densest 60 s, and on average over the
        # saturated part of the run (first to last Books call).
        "budget_share_densest_60s": round(_max_in_window([c["at"] for c in books_calls], 60.0) / ours, 3),
        "budget_share_average_60s": _average_share(books_calls, ours),
        "books_calls_per_push": round(len(books_calls) / max(1, len(invoices)), 2),
        "steady_books_calls_per_push": round(len(steady) / max(1, len(steady_invoices)), 2),
        "books_429s": sum(1 for c in books_calls if c["status"] == 429),
        "max_attempts_of_a_push": max(p.attempts for p in InvoicePush.objects.filter(pk__in=push_ids)),
        "books_calls_by_kind": _kinds(books_calls),
        "press_latency_ms_p50": round(statistics.median(latencies), 1),
        "press_latency_ms_p99": round(sorted(latencies)[int(len(latencies) * 0.99) - 1], 1),
    }
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"push-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(result, indent=2))


def _average_share(calls: list[dict], ours: int) -> float:
    times = sorted(c["at"] for c in calls)
    span = times[-1] - times[0] if len(times) > 1 else 0
    if span < 60:
        return 0.0
    # Mean calls over every 60 s window that fits inside the run, sampled each second.
    counts = [sum(1 for t in times if start <= t < start + 60) for start in _frange(times[0], times[-1] - 60, 1.0)]
    return round(statistics.mean(counts) / ours, 3)


def _frange(start: float, stop: float, step: float):
    while start <= stop:
        yield start
        start += step


def _max_in_window(times: list[float], span: float) -> int:
    times, best, start = sorted(times), 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - span:
            start += 1
        best = max(best, end - start + 1)
    return best


def _kinds(calls: list[dict]) -> dict[str, int]:
    import re
    from collections import Counter

    ids = re.compile(r"/\d+")
    return dict(Counter(c["method"] + " " + ids.sub("/{id}", c["path"]) for c in calls).most_common())


if __name__ == "__main__":
    main()
