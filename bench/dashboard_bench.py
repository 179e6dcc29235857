#!/usr/bin/env python
"""Dashboard benchmark: the push list, a filtered list, a search and a push page, with N pushes (each with
timeline events, and a sync row for the pushed ones) in PostgreSQL. Server time (the view, in-process through
Django's test client) and query count per page, at each size.

    .venv/bin/python bench/dashboard_bench.py --sizes 1000 100000

PostgreSQL database `bench_dashboard` (created if missing, emptied first). The history is dated as a team pushing
2,000 invoices a day would have it (one push every 43 s back from now; most invoices paid), and the sweeper's
compaction of the dashboard's tally has run, as it does every minute. Goal: ≤ 30 ms median server time and ≤ 10
queries per list page, the same at 100,000 and 1,000,000 pushes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100000])
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/bench_dashboard")
    parser.add_argument("--repeat", type=int, default=31)
    parser.add_argument("--keep", action="store_true", help="keep the pushes a previous run made; add to them")
    args = parser.parse_args()
    from bench.common import prepare_database

    prepare_database(args.database, keep=args.keep)
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from integration import tally
    from integration.models import InvoicePush, InvoiceSync, LegalEntity, PushEvent
    from tests.factories import UserFactory

    client = Client(HTTP_HOST="localhost")
    reviewer = get_user_model().objects.filter(username="bench-reviewer").first()
    client.force_login(reviewer or UserFactory(username="bench-reviewer", groups=["reviewer"]))
    results = []
    made = InvoicePush.objects.count()
    for size in sorted(args.sizes):
        made = _grow(size, made, InvoicePush, PushEvent, InvoiceSync, LegalEntity)
        with connection.cursor() as cursor:
            # One push every 43 s back from now (2,000 a day); an invoice is synced when its push was made.
            cursor.execute(
                "UPDATE integration_invoicepush SET created_at = now() - (SELECT max(id) FROM integration_invoicepush"
                " p) * interval '43 seconds' + id * interval '43 seconds', updated_at = now() - (SELECT max(id) FROM"
                " integration_invoicepush p) * interval '43 seconds' + id * interval '43 seconds'"
            )
            cursor.execute(
                "UPDATE integration_invoicesync s SET synced_at = p.updated_at FROM integration_invoicepush p"
                " WHERE p.id = s.push_id"
            )
        tally.compact()  # as the sweeper does every minute
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
            cursor.execute("CHECKPOINT")  # the build's writes flushed now, not while pages are measured
        middle = InvoicePush.objects.order_by("id")[size // 2]
        pages = {
            "list": ("/", {}),
            "filtered (failed, US-LLC)": ("/", {"state": "failed", "entity": "US-LLC"}),
            "search (deal name)": ("/", {"q": f"Deal {size // 3}"}),
            "search (customer)": ("/", {"q": "Customer 123"}),
            "search (invoice number)": ("/", {"q": f"INV-{size // 2:06d}"}),
            "older page": ("/", {"before": middle.pk}),
            "push page": (f"/pushes/{middle.pk}/", {}),
        }
        for name, (url, params) in pages.items():
            client.get(url, params)  # warm
            times, queries = [], 0
            for _ in range(args.repeat):
                with CaptureQueriesContext(connection) as ctx:
                    started = time.perf_counter()
                    resp = client.get(url, params)
                    times.append((time.perf_counter() - started) * 1000)
                assert resp.status_code == 200, (url, resp.status_code)
                queries = len(ctx.captured_queries)
            results.append(
                {
                    "pushes": size,
                    "page": name,
                    "ms_median": round(statistics.median(times), 1),
                    "ms_max": round(max(times), 1),
                    "queries": queries,
                }
            )
            print(json.dumps(results[-1]))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"dashboard-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(results, indent=2))


SYNCED = [{"payment_status": "Paid", "balance": Decimal("0")}] * 8 + [
    {"payment_status": "Unpaid", "balance": Decimal("1180.00")},
    {"payment_status": "Overdue", "balance": Decimal("590.00")},
]


def _grow(size: int, made: int, InvoicePush, PushEvent, InvoiceSync, LegalEntity) -> int:
    """Add pushes until there are `size`: a realistic mix of states, three timeline events each, a sync per
    pushed one."""
    entities = [
        LegalEntity.objects.get_or_create(code=code, defaults={"name": code, "books_org_id": org})[0]
        for code, org in (("US-LLC", "60001001"), ("UK-LTD", "60002002"), ("IN-PVT", "60003003"))
    ]
    states = ["pushed"] * 7 + ["failed", "blocked", "queued"]
    batch = 5000
    while made < size:
        pushes = []
        for n in range(made, min(size, made + batch)):
            state = states[n % len(states)]
            entity = entities[n % 3]
            pushes.append(
                InvoicePush(
                    deal_id=f"5725767{n:012d}",
                    deal_name=f"Deal {n}",
                    state=state,
                    legal_entity=entity,
                    organization_id=entity.books_org_id,
                    invoice_id=f"46{n:012d}" if state == "pushed" else "",
                    invoice_number=f"INV-{n:06d}" if state == "pushed" else "",
                    error="Internal error (Zoho code 1000)" if state == "failed" else "",
                    plan={"account": {"name": f"Customer {n % 997}"}},
                    customer_name=f"Customer {n % 997}",
                )
            )
        created = InvoicePush.objects.bulk_create(pushes)
        PushEvent.objects.bulk_create(
            [PushEvent(push=p, action=a, step="invoice") for p in created for a in ("Pressed", "Create", "Stamp")]
        )
        InvoiceSync.objects.bulk_create(
            [
                InvoiceSync(
                    organization_id=p.organization_id,
                    invoice_id=p.invoice_id,
                    push=p,
                    currency="USD",
                    total=Decimal("1180.00"),
                    **SYNCED[(p.pk // 10) % len(SYNCED)],
                )
                for p in created
                if p.state == "pushed"
            ]
        )
        made += len(created)
    return made


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    main()
