#!/usr/bin/env python
"""A day of traffic on the sandbox, compressed: N pushes, M payments and K credit notes across the four demo
organizations, while a duplicate audit reads a 100,000-item catalogue in the UK one — through the product's real
processes (gunicorn, two Celery workers with beat, Redis, PostgreSQL) and the sandbox over HTTP.

    .venv/bin/python bench/day_bench.py                       # 2,000 pushes, 4,000 payments, 500 credit notes
    .venv/bin/python bench/day_bench.py --pushes 200 --payments 400 --credit-notes 50 --catalogue 20000

Time is compressed `--compress` times: our per-minute window and the sandbox's both count over 60/compress
seconds (the limits stay 90 and 100 calls), so a run lasts minutes and the per-minute limiter is really tested.
Each organization's daily cap is `--cap` (its Books plan; the demo entities' default is the lowest plan, 1,000,
which this volume does not fit) and review is switched off. Payments are made in two instalments per invoice in
Books (the sandbox's demo action), credit notes raised against paid invoices; Books sends its webhooks.

Reports, per organization: pushes, press-to-invoice latency (p50 / p95 / max), Books calls by kind of work against
the cap; the audit's progress; and what was lost: pushes not pushed, deals whose Payment_Status or Credited_Amount
differs from Books, payments without exactly one Cliq post, deliveries not processed, 429s from the sandbox.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import add_stack_arguments, sandbox_and_stack, wait  # noqa: E402

# One template deal per organization (sandbox/demo.py), copied N times.
TEMPLATES = {"60001001": 1, "60002002": 5, "60003003": 6, "60004004": 15}
AUDITED = "60002002"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pushes", type=int, default=2000)
    parser.add_argument("--payments", type=int, default=4000, help="two per invoice, on the first invoices")
    parser.add_argument("--credit-notes", type=int, default=500)
    parser.add_argument("--catalogue", type=int, default=100_000, help="items in the audited (UK) organization")
    parser.add_argument("--compress", type=float, default=10.0)
    parser.add_argument("--cap", type=int, default=10_000, help="each organization's Books calls a day")
    add_stack_arguments(parser, port=8772, web_port=8773)
    parser.set_defaults(database="postgres://postgres@127.0.0.1:5432/bench_day")
    args = parser.parse_args()

    sandbox, stack = sandbox_and_stack(args)
    window = 60 / args.compress
    stack.env.update(
        BOOKS_RATE_LIMIT_WINDOW_SECONDS=str(window),
        RECONCILE_INTERVAL_SECONDS=str(300 / args.compress),
        PUSH_SWEEP_INTERVAL_SECONDS=str(60 / args.compress),
    )
    from django.conf import settings

    from audits.models import AuditRun
    from integration.models import CliqPost, InvoicePush, InvoiceSync, LegalEntity, PushEvent, WebhookDelivery
    from sandbox.books import new_item
    from sandbox.demo import deal_id
    from sandbox.sales import creditnote_create
    from sandbox.wire import Request
    from tests.e2e import press

    sandbox.books_rate_window_seconds = window
    sandbox.books_daily_limit = args.cap
    sandbox.webhook_mode = "thread"
    sandbox.webhook_url = f"{stack.web_url}/api/books/webhook/{{organization_id}}/"
    sandbox.webhook_token = settings.BOOKS_WEBHOOK_TOKEN
    LegalEntity.objects.update(books_daily_cap=args.cap, require_review=False)
    audited = sandbox.orgs[AUDITED]
    for n in range(args.catalogue):
        new_item(sandbox, audited, name=f"Catalogue item {n}", rate="1", sku=f"CAT-{n:06d}")
    deals = []
    for n in range(args.pushes):
        org = list(TEMPLATES)[n % len(TEMPLATES)]
        template = sandbox.crm["Deals"][deal_id(TEMPLATES[org])]
        copy = json.loads(json.dumps(template, default=str))
        copy.update(id=deal_id(1000 + n), Deal_Name=f"{template['Deal_Name']} #{n}")
        sandbox.crm["Deals"][copy["id"]] = copy
        deals.append((org, copy["id"]))

    report: dict = {"args": vars(args) | {"database": None}}
    try:
        stack.start_web("gunicorn")
        stack.start_worker("worker", beat=True)
        stack.start_worker("worker2")
        started = time.monotonic()
        from audits.runs import audit_start

        audit, _ = audit_start(entity=LegalEntity.objects.get(books_org_id=AUDITED), trigger="command")

        pressed: dict[str, list[int]] = {org: [] for org in TEMPLATES}
        lock = threading.Lock()

        def presser(org: str) -> None:
            for o, deal in deals:
                if o == org:
                    status, reply = press(stack, settings, deal)
                    assert status == 202, reply
                    with lock:
                        pressed[org].append(reply["push_id"])

        pressers = [threading.Thread(target=presser, args=(org,)) for org in TEMPLATES]
        for thread in pressers:
            thread.start()

        paid: dict[str, int] = {}  # invoice id -> instalments paid
        credited: dict[str, Decimal] = {}
        payments_made = credit_notes_made = 0

        def payer() -> None:
            """Pays each pushed invoice in two instalments (the first half as soon as it exists), and raises a credit
            note against the first ones, until the day's payments and credit notes are made or nothing is left."""
            nonlocal payments_made, credit_notes_made
            while payments_made < args.payments:
                ready = InvoicePush.objects.filter(state="pushed").exclude(invoice_id__in=list(paid))
                ready = list(ready.values_list("organization_id", "invoice_id")[:50])
                halves = [invoice_id for invoice_id, n in paid.items() if n == 1][:50]
                moving = InvoicePush.objects.filter(state__in=["queued", "running"]).exists()
                if not ready and not halves and not moving and all(not t.is_alive() for t in pressers):
                    return
                for org, invoice_id in ready:
                    invoice = sandbox.orgs[org].invoices[invoice_id]
                    half = (Decimal(str(invoice["total"])) / 2).quantize(Decimal("0.01"))
                    if payments_made < args.payments:
                        sandbox.books_demo_action(org, invoice_id, "pay", {"amount": str(half)})
                        paid[invoice_id], payments_made = 1, payments_made + 1
                    if credit_notes_made < args.credit_notes:
                        credited[invoice_id] = _credit_note(sandbox, org, invoice, creditnote_create, Request)
                        credit_notes_made += 1
                for invoice_id in halves:
                    if payments_made < args.payments:
                        org = next(o for o in sandbox.orgs if invoice_id in sandbox.orgs[o].invoices)
                        sandbox.books_demo_action(org, invoice_id, "pay", {})
                        paid[invoice_id], payments_made = 2, payments_made + 1
                time.sleep(0.5)

        paying = threading.Thread(target=payer)
        paying.start()
        for thread in pressers:
            thread.join()
        pressing_done = time.monotonic() - started
        all_ids = [pk for ids in pressed.values() for pk in ids]
        wait(lambda: not InvoicePush.objects.filter(pk__in=all_ids, state__in=["queued", "running"]).exists(), 1800)
        paying.join(timeout=1800)
        wait(lambda: not sandbox.outbox, 1800)  # Books has sent every webhook
        wait(lambda: not WebhookDelivery.objects.filter(state="received").exists(), 1800)
        wait(lambda: AuditRun.objects.get(pk=audit.pk).state in ("done", "failed"), 1800)
        report["deliveries_done_s"] = round(time.monotonic() - started, 1)
        wait(lambda: not CliqPost.objects.filter(state__in=["pending", "sending"]).exists(), 1800)  # the last posts
        elapsed = time.monotonic() - started
        time.sleep(2 * window)  # the last Cliq posts and CRM writes settle

        report["elapsed_s"] = round(elapsed, 1)
        report["pressing_s"] = round(pressing_done, 1)
        report["payments"] = payments_made
        report["credit_notes"] = credit_notes_made
        report["organizations"] = _per_org(pressed, InvoicePush, PushEvent, args.cap)
        run = AuditRun.objects.get(pk=audit.pk)
        report["audit"] = {
            "state": run.state,
            "items_read": run.items_read,
            "books_calls": run.books_calls,
            "error": run.error,
            "finished_after_s": round((run.finished_at - run.created_at).total_seconds(), 1)
            if run.finished_at
            else None,
        }
        report["lost"] = _lost(
            sandbox, paid, credited, all_ids, payments_made, InvoicePush, InvoiceSync, CliqPost, WebhookDelivery
        )
    finally:
        stack.stop()
    report["sandbox_429s"] = len([c for c in sandbox.calls if c["product"] == "books" and c["status"] == 429])
    print(json.dumps(report, indent=2, default=str))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"day-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(report, indent=2, default=str))


def _credit_note(sandbox, org: str, invoice: dict, creditnote_create, Request) -> Decimal:
    """A 10-unit goodwill credit note raised in Books against the invoice (made inside the sandbox, as a person
    in Books would: it spends none of our API budget)."""
    body = {
        "customer_id": invoice["customer_id"],
        "line_items": [{**_line(invoice), "rate": 10, "quantity": 1}],
    }
    query = {"organization_id": org, "invoice_id": invoice["invoice_id"]}
    with sandbox.lock:
        reply = creditnote_create(
            sandbox, Request("POST", "/books/v3/creditnotes", query, {}, json.dumps(body).encode()), sandbox.orgs[org]
        )
    assert reply.status in (200, 201), reply.body
    return Decimal(str(reply.body["creditnote"]["total"]))


def _line(invoice: dict) -> dict:
    """The invoice's first line's item and tax, so the credit note is taxed as the invoice was."""
    first = invoice["line_items"][0]
    keep = ("item_id", "tax_id", "tax_exemption_id", "tax_authority_id", "product_type", "hsn_or_sac", "tax_treatment")
    return {k: first[k] for k in keep if first.get(k)}


def _per_org(pressed: dict, InvoicePush, PushEvent, cap: int) -> dict:
    from integration import ledger

    spent = ledger.today()
    orgs = {}
    for org, ids in pressed.items():
        latencies = []
        for push in InvoicePush.objects.filter(pk__in=ids, state="pushed"):
            done = PushEvent.objects.filter(push=push, action__startswith="Invoice created").order_by("at").first()
            if done:
                latencies.append((done.at - push.created_at).total_seconds())
        latencies.sort()
        line = spent.get(org, {"calls": 0, "by": {}})
        orgs[org] = {
            "pushes": len(ids),
            "pushed": len(latencies),
            "latency_s_p50": round(statistics.median(latencies), 2) if latencies else None,
            "latency_s_p95": round(latencies[int(len(latencies) * 0.95) - 1], 2) if latencies else None,
            "latency_s_max": round(latencies[-1], 2) if latencies else None,
            "books_calls": line["calls"],
            "cap": cap,
            "share_of_cap": f"{line['calls'] / cap:.0%}",
            "by": line["by"],
        }
    return orgs


def _lost(sandbox, paid, credited, push_ids, payments, InvoicePush, InvoiceSync, CliqPost, WebhookDelivery) -> dict:
    """Everything that should have happened and did not (all zero when nothing was lost)."""
    statuses = {"paid": "Paid", "partially_paid": "Partially Paid", "sent": "Unpaid", "overdue": "Overdue"}
    wrong_status = wrong_credit = 0
    examples: list[dict] = []
    for push in InvoicePush.objects.filter(pk__in=push_ids, state="pushed"):
        invoice = sandbox.orgs[push.organization_id].invoices[push.invoice_id]
        deal = sandbox.crm["Deals"][push.deal_id]
        if push.invoice_id in paid and deal.get("Payment_Status") != statuses.get(invoice["status"]):
            wrong_status += 1
            examples.append({"deal": push.deal_id, "books": invoice["status"], "crm": deal.get("Payment_Status")})
        expected = credited.get(push.invoice_id)
        if expected is not None and Decimal(str(deal.get("Credited_Amount") or 0)) != expected:
            wrong_credit += 1
            examples.append({"deal": push.deal_id, "credited": str(expected), "crm": deal.get("Credited_Amount")})
    return {
        "pushes_not_pushed": InvoicePush.objects.filter(pk__in=push_ids).exclude(state="pushed").count(),
        "deals_with_wrong_payment_status": wrong_status,
        "deals_with_wrong_credited_amount": wrong_credit,
        "payments_without_one_cliq_post": payments - CliqPost.objects.filter(state="sent").count(),
        "deliveries_failed_or_waiting": WebhookDelivery.objects.filter(state__in=["failed", "received"]).count(),
        "examples": examples[:10],
    }


if __name__ == "__main__":
    main()
