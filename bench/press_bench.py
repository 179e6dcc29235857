#!/usr/bin/env python
"""Press benchmark: how long the CRM button waits for Invoice Bridge's answer, under gunicorn.

    .venv/bin/python bench/press_bench.py --presses 20

Two rounds of concurrent signed presses against the web app under gunicorn (config/gunicorn.py), with two
Celery workers on Redis and the sandbox over HTTP: one press on each of N different deals, then N presses on
one deal (which must make exactly one invoice). Each press plans at once (three CRM reads, cached Books taxes,
one insert) and enqueues the push. PostgreSQL database `bench_bridge`, Redis db 13.
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
    parser.add_argument("--presses", type=int, default=20)
    add_stack_arguments(parser, port=8768, web_port=8769)
    args = parser.parse_args()

    sandbox, stack = sandbox_and_stack(args)
    import httpx
    from django.conf import settings

    from integration.models import InvoicePush
    from sandbox.demo import US_ORG, deal_id
    from tests.conftest import sign

    templates = [1, 2, 12]
    distinct = []
    for n in range(args.presses + 1):
        new_id = deal_id(60000 + n)
        sandbox.crm["Deals"][new_id] = {**sandbox.crm["Deals"][deal_id(templates[n % 3])], "id": new_id}
        distinct.append(new_id)
    one_deal, distinct = distinct[-1], distinct[:-1]

    def press(client: httpx.Client, deal: str) -> tuple[float, int]:
        body = json.dumps({"deal_id": deal, "user": "bench@acme.example"}).encode()
        headers = {**sign(body, secret=settings.CRM_BUTTON_SECRET), "Content-Type": "application/json"}
        t = time.perf_counter()
        resp = client.post(f"{stack.web_url}/api/crm/generate-invoice/", content=body, headers=headers)
        return (time.perf_counter() - t) * 1000, resp.status_code

    def round_of(deals: list[str]) -> tuple[list[float], list[int]]:
        barrier, out, lock = threading.Barrier(len(deals)), [], threading.Lock()

        def run(deal: str) -> None:
            with httpx.Client(timeout=40) as client:
                barrier.wait()
                result = press(client, deal)
            with lock:
                out.append(result)

        threads = [threading.Thread(target=run, args=(d,)) for d in deals]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        return sorted(ms for ms, _ in out), [status for _, status in out]

    try:
        stack.start_web("gunicorn")
        stack.start_worker("w1", concurrency=2)
        stack.start_worker("w2", concurrency=2)
        with httpx.Client(timeout=40) as client:  # warm up: a token, the taxes cache, the connections
            press(client, deal_id(4))
        wait(lambda: not InvoicePush.objects.filter(state__in=["queued", "running"]).exists())
        spread, spread_status = round_of(distinct)
        same, same_status = round_of([one_deal] * args.presses)
        wait(lambda: not InvoicePush.objects.filter(state__in=["queued", "running"]).exists(), timeout=600)
    finally:
        stack.stop()

    def pct(values: list[float], p: float) -> float:
        return round(values[max(0, int(len(values) * p) - 1)], 1)

    result = {
        "server": "gunicorn",
        "presses": args.presses,
        "different_deals_ms_p50": round(statistics.median(spread), 1),
        "different_deals_ms_p95": pct(spread, 0.95),
        "different_deals_ms_max": round(spread[-1], 1),
        "different_deals_statuses": sorted(set(spread_status)),
        "one_deal_ms_p50": round(statistics.median(same), 1),
        "one_deal_ms_p95": pct(same, 0.95),
        "one_deal_ms_max": round(same[-1], 1),
        "one_deal_statuses": sorted(set(same_status)),
        "one_deal_invoices": sum(
            1 for i in sandbox.orgs[US_ORG].invoices.values() if i["reference_number"] == one_deal
        ),
        "different_deals_pushed": InvoicePush.objects.filter(deal_id__in=distinct, state="pushed").count(),
    }
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"press-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
