#!/usr/bin/env python
"""Webhook benchmark: how fast the Books webhook endpoint acknowledges concurrent deliveries, side by side with
the database floor on the same server (bench/floor_urls.py: a view that parses the body and inserts one row), and
what the worker then does with them (CRM writes, Cliq posts, Books calls per delivery).

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
        stack.env["DJANGO_SETTINGS_MODULE"] = "bench.floor_settings"  # the product, plus the one-insert floor
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

        # The worker is stopped while the acknowledgements are measured (its work would share the cores with the
        # server), and started again to process what was acknowledged.
        stack.kill("worker")
        token = settings.BOOKS_WEBHOOK_TOKEN
        ack = f"/api/books/webhook/{US_ORG}/"
        floor = f"/bench/one-insert/{US_ORG}/"
        bodies = [e["body"] for e in events]
        headers = {"Content-Type": "application/json", "X-Webhook-Token": token}
        # Side by side on the same server: the floor, the acknowledgement, each twice, alternating (best run of
        # each kept), at the benchmark's concurrency and with one client.
        hammer(stack.web_url, floor, bodies, headers, 200, args.concurrency)  # warm both
        hammer(stack.web_url, ack, bodies, headers, 200, args.concurrency)
        runs: dict[str, list] = {"floor": [], "ack": [], "floor_1": [], "ack_1": []}
        for _ in range(2):
            for name, address in (("floor", floor), ("ack", ack)):
                runs[name].append(hammer(stack.web_url, address, bodies, headers, args.deliveries, args.concurrency))
                runs[f"{name}_1"].append(hammer(stack.web_url, address, bodies, headers, args.deliveries // 4, 1))
        side_by_side = {name: max(results, key=lambda r: r["per_second"]) for name, results in runs.items()}
        total = WebhookDelivery.objects.filter(state__in=["received", "processed"]).count()
        started = time.perf_counter()
        stack.start_worker()
        if not args.ack_only:
            wait(lambda: WebhookDelivery.objects.filter(state="processed").count() >= total, timeout=600)
        processed = time.perf_counter() - started
    finally:
        stack.stop()

    ack_run, floor_run = side_by_side["ack"], side_by_side["floor"]
    books_calls = len([c for c in sandbox.calls if c["product"] == "books"]) - books_before
    result = {
        "server": args.server,
        "deliveries": total,
        "concurrency": args.concurrency,
        "side_by_side": side_by_side,
        "throughput_ratio": round(ack_run["per_second"] / floor_run["per_second"], 2),
        "p99_ratio": round(ack_run["p99_ms"] / floor_run["p99_ms"], 2),
        "single_client_ratio": round(side_by_side["ack_1"]["per_second"] / side_by_side["floor_1"]["per_second"], 2),
        "all_processed_after_s": None if args.ack_only else round(processed, 1),
        "crm_status_writes": len([w for w in sandbox.crm_writes if "Payment_Status" in w["fields"]]),
        "cliq_posts": CliqPost.objects.count(),
        "books_calls_per_delivery": round(books_calls / total, 2),
    }
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"webhook-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(result, indent=2))


def hammer(base: str, address: str, bodies: list[bytes], headers: dict, total: int, concurrency: int) -> dict:
    """POST `total` bodies to `address` from `concurrency` clients; throughput and latency percentiles. Each
    client is http.client on one keep-alive connection: a lean generator, so that the figures measure the
    server rather than the load generator sharing its cores."""
    import http.client
    from urllib.parse import urlsplit

    latencies: list[float] = []
    lock = threading.Lock()
    url = urlsplit(base)

    def client(count: int) -> None:
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        for n in range(count):
            t = time.perf_counter()
            conn.request("POST", address, body=bodies[n % len(bodies)], headers=headers)
            resp = conn.getresponse()
            text = resp.read()
            elapsed = (time.perf_counter() - t) * 1000
            assert resp.status == 200, text
            with lock:
                latencies.append(elapsed)
        conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(total // concurrency,)) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "concurrency": concurrency,
        "per_second": round(len(latencies) / seconds, 1),
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(latencies[max(0, int(len(latencies) * 0.99) - 1)], 1),
    }


if __name__ == "__main__":
    main()
