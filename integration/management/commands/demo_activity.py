from __future__ import annotations

import re
import time

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from audits.runs import audit_start
from integration.models import LegalEntity
from sandbox.demo import deal_id

# Deals pressed so the demo opens on a dashboard worth looking at: invoices in every organization (one in EUR, one
# for a customer Books knows by its company name), one waiting for review (UK), one needing a decision
# (near-duplicate items), one blocked (Texas has no tax rule); then one paid and one written off.
PRESSED = (1, 2, 4, 16, 6, 14, 15, 5, 8, 3)
PAID, WRITTEN_OFF = 1, 2  # Initech pays in full; Globex pays 100 and the rest is written off


class Command(BaseCommand):
    help = (
        "Demo only: wait for the sandbox and the dashboard to answer, then press Generate Invoice on a few demo "
        "deals through the sandbox's CRM button, pay one invoice and queue a duplicate audit, so the screens have "
        "something to show."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--sandbox", default="http://127.0.0.1:8001")
        parser.add_argument("--wait", type=float, default=60.0, help="Seconds to wait for both to answer.")

    def handle(self, *args, sandbox: str, wait: float, **options) -> None:
        if not settings.DEBUG:
            raise CommandError("demo_activity presses demo deals; it runs only with DEBUG on.")
        deadline = time.monotonic() + wait
        while True:
            try:
                httpx.get(f"{sandbox}/__sandbox__/", timeout=2).raise_for_status()
                httpx.get(f"{settings.PUBLIC_BASE_URL}/healthz", timeout=2).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise CommandError("The sandbox or the dashboard did not answer in time.") from None
                time.sleep(1)
        answers = []
        for n in PRESSED:
            reply = httpx.post(f"{sandbox}/__sandbox__/crm/deals/{deal_id(n)}/generate-invoice", timeout=60).json()
            answers.append(f"{n}: {reply.get('http_status')} {(reply.get('reply') or {}).get('status', '')}")
        time.sleep(5)  # the worker creates the invoices
        invoices = _payable(httpx.get(f"{sandbox}/", timeout=10).text)
        done = []
        if deal_id(PAID) in invoices:
            org, invoice = invoices[deal_id(PAID)]
            httpx.post(f"{sandbox}/__sandbox__/books/{org}/invoices/{invoice}/pay", timeout=30)
            done.append("paid one invoice")
        if deal_id(WRITTEN_OFF) in invoices:
            org, invoice = invoices[deal_id(WRITTEN_OFF)]
            base = f"{sandbox}/__sandbox__/books/{org}/invoices/{invoice}"
            httpx.post(f"{base}/pay", json={"amount": 100}, timeout=30)
            httpx.post(f"{base}/writeoff", timeout=30)
            done.append("wrote another off after a part payment")
        # A duplicate audit of every organization, queued for the worker: the Duplicates screen opens with findings.
        for entity in LegalEntity.objects.filter(active=True):
            audit_start(entity=entity, trigger="demo")
        self.stdout.write(
            f"Demo activity: pressed {', '.join(answers)}; {', '.join(done) or 'paid nothing'}; queued a duplicate "
            "audit of each organization."
        )


def _payable(page: str) -> dict[str, tuple[str, str]]:
    """{deal id: (organization, invoice)} for the invoices the sandbox page offers to pay."""
    found = {}
    for row in page.split("<tr>"):
        cells = re.findall(r"<td>(.*?)</td>", row)
        button = re.search(r"act\('(\d+)','(\d+)','pay'\)", row)
        if button and len(cells) > 3:
            found[cells[3]] = (button[1], button[2])  # the fourth cell: the reference number, i.e. the deal
    return found
