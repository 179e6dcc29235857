#!/usr/bin/env python
"""Webhook benchmark: how fast the Books webhook endpoint acknowledges concurrent deliveries, and what
the worker then does with them (CRM writes, Cliq posts, Books calls per delivery).

    .venv/bin/python bench/webhook_bench.py --deliveries 400 --concurrency 20

The web app runs under gunicorn as production runs it (`--server runserver` for the development server),
one Celery worker on Redis, PostgreSQL database `bench_bridge` and Redis db 13, the sandbox over HTTP.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import add_stack_arguments, sandbox_and_stack, wait  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--ack-only", action="store_true", help="measure acknowledgements; do not wait for processing")
    parser.add_argument("--server", choices=["gunicorn", "runserver"], default="gunicorn")
    add_stack_arguments(parser, port=8766, web_port=8767)
    args = parser.parse_args()

    sandbox, stack = sandbox_and_stack(args)
    import httpx
    from django.conf import settings

    from integration.models import CliqPost, InvoicePush, WebhookDelivery
    from sandbox.demo import US_ORG, deal_id
    from tests.conftest import sign

    try:
        stack.start_web(args.server)
        stack.start_worker()
        body = json.dumps({"deal_id": deal_id(2)}).encode()
        headers = {**sign(body, secret=settings.CRM_BUTTON_SECRET), "Content-Type": "application/json"}
        push_id = httpx.post(f"{stack.web_url}/api/crm/generate-invoice/", content=body, headers=headers).json()[
            "push_id"
        ]
        wait(lambda: InvoicePush.objects.get(pk=push_id).state == "pushed")
        invoice_id = InvoicePush.objects.get(pk=push_id).invoice_id
        sandbox.webhook_url = f"{stack.web_url}/api/books/webhook/{{organization_id}}/"
        sandbox.webhook_token = settings.BOOKS_WEBHOOK_TOKEN
        sandbox.outbox.clear()
        sandbox.books_demo_action(US_ORG, invoice_id, "pay", {"amount": 100})
        events = [e for e in sandbox.outbox if e["kind"] in ("invoice", "payment")]
        sandbox.outbox.clear()
        if not events:
            raise SystemExit("the sandbox emitted no webhooks")
        books_before = len([c for c in sandbox.calls if c["product"] == "books"])

        latencies: list[float] = []
        lock = threading.Lock()
        per_thread = args.deliveries // args.concurrency
        token = settings.BOOKS_WEBHOOK_TOKEN

        def fire() -> None:
            # http.client on one keep-alive connection per client: a lean generator, so that the figures
            # measure the server rather than the load generator sharing its cores.
            import http.client
            from urllib.parse import urlsplit

            url = urlsplit(stack.web_url)
            conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
            headers = {"Content-Type": "application/json", "X-Webhook-Token": token}
            for n in range(per_thread):
                event = events[n % len(events)]
                t = time.perf_counter()
                conn.request("POST", f"/api/books/webhook/{US_ORG}/", body=event["body"], headers=headers)
                resp = conn.getresponse()
                text = resp.read()
                elapsed = (time.perf_counter() - t) * 1000
                assert resp.status == 200, text
                with lock:
                    latencies.append(elapsed)
            conn.close()

        started = time.perf_counter()
        threads = [threading.Thread(target=fire) for _ in range(args.concurrency)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        acked = time.perf_counter() - started
        total = per_thread * args.concurrency
        if len(latencies) != total:
            raise SystemExit(f"only {len(latencies)} of {total} deliveries were acknowledged")
        if not args.ack_only:
            wait(lambda: WebhookDelivery.objects.filter(state="processed").count() >= total, timeout=600)
        processed = time.perf_counter() - started
    finally:
        stack.stop()

    latencies.sort()
    books_calls = len([c for c in sandbox.calls if c["product"] == "books"]) - books_before
    result = {
        "server": args.server,
        "deliveries": total,
        "concurrency": args.concurrency,
        "ack_ms_p50": round(statistics.median(latencies), 1),
        "ack_ms_p99": round(latencies[int(len(latencies) * 0.99) - 1], 1),
        "ack_ms_max": round(latencies[-1], 1),
        "acks_per_second": round(total / acked, 1),
        "all_processed_after_s": None if args.ack_only else round(processed, 1),
        "crm_status_writes": len([w for w in sandbox.crm_writes if "Payment_Status" in w["fields"]]),
        "cliq_posts": CliqPost.objects.count(),
        "books_calls_per_delivery": round(books_calls / total, 2),
    }
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"webhook-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
