#!/usr/bin/env python
"""Reconciliation cost benchmark: what one run costs in Books calls over an organization with N invoices of ours,
when nothing changed and when K of them did (paid). In-process sandbox (its Books limits lifted: the cost is counted,
not paced), PostgreSQL database `bench_reconcile` (created if missing, emptied first).

    .venv/bin/python bench/reconcile_bench.py --invoices 500 --changed 0 10 100

Goal: an organization where nothing changed costs its list call(s) only — one per page of 200 — and a changed
invoice costs only its own sync.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=500)
    parser.add_argument("--changed", type=int, nargs="+", default=[0, 10, 100])
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/bench_reconcile")
    args = parser.parse_args()
    from bench.common import prepare_database

    prepare_database(args.database, BOOKS_RATE_LIMIT_PER_MINUTE="100000", RECONCILE_SAME_SECOND_MARGIN_SECONDS="1")
    from django.conf import settings

    from integration import ratelimit
    from integration.models import InvoicePush, LegalEntity
    from integration.services.reconcile import reconcile
    from integration.zoho import http
    from sandbox import Sandbox, SandboxTransport
    from sandbox.demo import US_ORG, deal_id
    from tests.conftest import books_api

    sandbox = Sandbox(demo=True)
    sandbox.books_rate_limit_per_minute = 10**9
    sandbox.webhook_mode = "manual"
    http.set_transport(SandboxTransport(sandbox))
    settings.ZOHO_ACCOUNTS_URL = settings.ZOHO_API_DOMAIN = sandbox.base_url
    ratelimit.reset()
    api = books_api(sandbox, US_ORG)
    entity = LegalEntity.objects.get(books_org_id=US_ORG)
    customer = next(iter(sandbox.orgs[US_ORG].contacts))
    item = next(i for i in sandbox.orgs[US_ORG].items.values() if i["status"] == "active")
    ids = []
    for n in range(args.invoices):
        deal = f"57257670008{n:08d}"
        body = {
            "customer_id": customer,
            "reference_number": deal,
            "line_items": [{"item_id": item["item_id"], "rate": 10}],
        }
        sandbox.crm["Deals"][deal] = {**sandbox.crm["Deals"][deal_id(2)], "id": deal}  # a deal for each invoice
        invoice = api("POST", "/invoices", body)["invoice"]
        api("POST", f"/invoices/{invoice['invoice_id']}/status/sent")
        ids.append(invoice["invoice_id"])
        InvoicePush.objects.create(
            deal_id=deal, legal_entity=entity, organization_id=US_ORG, state="pushed", invoice_id=invoice["invoice_id"]
        )
    sandbox.outbox.clear()
    time.sleep(1.1)
    first = reconcile(organization_id=US_ORG)  # every invoice read once: the baseline
    results = {"invoices": args.invoices, "first_run_calls": first["calls"], "runs": []}
    assert not first["failed"], first["failed"][:3]
    paid = 0
    for changed in args.changed:
        time.sleep(1.1)  # readings a second after the changes they saw (Books' times count whole seconds)
        for invoice_id in ids[paid : paid + changed]:
            sandbox.books_demo_action(US_ORG, invoice_id, "pay", {})
        paid += changed
        sandbox.outbox.clear()
        time.sleep(1.1)
        started = time.perf_counter()
        report = reconcile(organization_id=US_ORG)
        results["runs"].append(
            {
                "changed": changed,
                "calls": report["calls"],
                "synced": report["synced"],
                "skipped": report["skipped"],
                "seconds": round(time.perf_counter() - started, 2),
            }
        )
    print(json.dumps(results, indent=2))
    (ROOT / "bench" / "results" / "reconcile_bench.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
