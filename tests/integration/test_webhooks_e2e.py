"""Books → CRM across real processes: the sandbox fires webhooks over HTTP at the web app, a Celery
worker on Redis re-reads Books and writes CRM and Cliq."""

from __future__ import annotations

import httpx
import pytest

from integration.models import CliqPost, InvoicePush, WebhookDelivery
from sandbox.demo import US_ORG, deal_id
from tests.conftest import at_once
from tests.e2e import press, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
DEAL = deal_id(2)


@pytest.fixture
def pushed(stack, http_sandbox, settings):
    stack.start_worker()
    _, reply = press(stack, settings, DEAL)
    wait_for(lambda: InvoicePush.objects.get(pk=reply["push_id"]).state == "pushed", "the push")
    http_sandbox.webhook_url = f"{stack.web_url}/api/books/webhook/{{organization_id}}/"
    http_sandbox.webhook_token = settings.BOOKS_WEBHOOK_TOKEN
    return InvoicePush.objects.get(pk=reply["push_id"])


def status_writes(sandbox) -> list[dict]:
    return [w for w in sandbox.crm_writes if w["id"] == DEAL and "Payment_Status" in w["fields"]]


def test_partial_then_full_payment_reach_the_deal_and_cliq(pushed, http_sandbox):
    http_sandbox.webhook_mode = "thread"  # Books delivers on its own, in the background
    http_sandbox.books_demo_action(US_ORG, pushed.invoice_id, "pay", {"amount": 100})
    wait_for(lambda: http_sandbox.crm["Deals"][DEAL]["Payment_Status"] == "Partially Paid", "Partially Paid")
    http_sandbox.books_demo_action(US_ORG, pushed.invoice_id, "pay", {})
    wait_for(lambda: http_sandbox.crm["Deals"][DEAL]["Payment_Status"] == "Paid", "Paid")
    wait_for(lambda: len(http_sandbox.cliq_messages) == 2, "two Cliq posts")
    partial, full = sorted((m["payload"]["text"] for m in http_sandbox.cliq_messages), reverse=True)
    assert partial.startswith("*Payment received*") and "Amount: 100.00 USD" in partial
    assert full.startswith("*Paid in full*")


def test_ten_concurrent_deliveries_update_the_deal_once_and_post_once(pushed, stack, http_sandbox, settings):
    http_sandbox.outbox.clear()
    http_sandbox.books_demo_action(US_ORG, pushed.invoice_id, "pay", {})
    event = next(e for e in http_sandbox.outbox if e["kind"] == "payment")
    http_sandbox.outbox.clear()
    statuses = at_once(
        10,
        lambda: (
            httpx.post(
                event["url"],
                content=event["body"],
                timeout=30,
                headers={"Content-Type": "application/json", "X-Webhook-Token": settings.BOOKS_WEBHOOK_TOKEN},
            ).status_code
        ),
    )
    assert statuses == [200] * 10
    wait_for(lambda: WebhookDelivery.objects.filter(state="processed").count() == 10, "all ten processed")
    wait_for(lambda: len(http_sandbox.cliq_messages) >= 1, "the Cliq post")
    assert len(status_writes(http_sandbox)) == 1
    assert len(http_sandbox.cliq_messages) == 1 and CliqPost.objects.count() == 1
    # The acknowledgements only stored the deliveries; drains handed each to the worker exactly once.
    log = stack.log("worker")
    received = [line for line in log.splitlines() if "received" in line]
    assert sum("webhook_process_task[" in line for line in received) == 10
    assert 1 <= sum("webhook_drain_task[" in line for line in received) <= 10
