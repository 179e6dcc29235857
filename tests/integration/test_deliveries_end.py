"""Deliveries with an end: a delivery for an invoice Invoice Bridge did not make is settled (ignored, with its
reason) as soon as that is clear, or after a bounded wait for a push still on its way — never parked forever, and
checked in a constant number of queries however many wait."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from integration.models import InvoicePush, WebhookDelivery
from integration.services.reconcile import parked_releasepushed
from sandbox.demo import US_ORG, deal_id
from tests.conftest import books_api
from tests.factories import InvoicePushFactory

pytestmark = pytest.mark.django_db


def invoice_by_hand(hooks, reference: str = "PO-77") -> dict:
    """An invoice someone made in Books themselves, for a customer we know."""
    api = books_api(hooks)
    customer = next(iter(hooks.orgs[US_ORG].contacts))
    item = next(i for i in hooks.orgs[US_ORG].items.values() if i["status"] == "active")
    body = {
        "customer_id": customer,
        "reference_number": reference,
        "line_items": [{"item_id": item["item_id"], "rate": 10, "quantity": 1}],
    }
    return api("POST", "/invoices", body)["invoice"]


def test_a_payment_on_an_invoice_made_by_hand_is_settled_at_once(hooks, demo_config):
    invoice = invoice_by_hand(hooks)
    before = len(hooks.calls)
    hooks.books_demo_action(US_ORG, invoice["invoice_id"], "pay", {})
    hooks.flush_webhooks()
    states = set(WebhookDelivery.objects.values_list("state", flat=True))
    assert states == {"ignored"}
    note = WebhookDelivery.objects.filter(kind="invoice").first().note
    assert "was not made by Invoice Bridge" in note
    # no push on its way in the organization: told apart without reading the invoice
    reads = [c for c in hooks.calls[before:] if c["method"] == "GET" and c["path"].endswith(invoice["invoice_id"])]
    assert len(reads) <= 2  # the delivery's own entity reads, none to decide


def test_with_a_push_on_its_way_the_invoices_reference_decides(hooks, demo_config):
    InvoicePushFactory(deal_id=deal_id(7), organization_id=US_ORG, state="queued")  # a push not done yet
    mine = invoice_by_hand(hooks, reference=deal_id(7))  # its invoice, created before the push recorded it
    theirs = invoice_by_hand(hooks, reference="PO-78")
    for invoice in (mine, theirs):
        hooks.books_demo_action(US_ORG, invoice["invoice_id"], "pay", {})
    hooks.flush_webhooks()
    by_invoice = {d.parked_invoice_id or d.note: d.state for d in WebhookDelivery.objects.filter(kind="invoice")}
    assert by_invoice[mine["invoice_id"]] == "parked"
    assert [s for k, s in by_invoice.items() if theirs["invoice_id"] in k] == ["ignored"]


def test_parked_deliveries_end_within_a_day_in_two_queries(demo_config):
    old = timezone.now() - timedelta(days=2)
    for n in range(30):
        WebhookDelivery.objects.create(
            organization_id=US_ORG, kind="invoice", entity_id=str(n), state="parked", parked_invoice_id=str(900 + n)
        )
    WebhookDelivery.objects.update(received_at=old)
    InvoicePushFactory(organization_id=US_ORG, state="pushed", invoice_id="901")  # one became ours
    with CaptureQueriesContext(connection) as queries:
        released = parked_releasepushed()
    assert released == 1 and len(queries) <= 3
    ignored = WebhookDelivery.objects.filter(state="ignored")
    assert ignored.count() == 29
    assert "was never recorded by a push of ours within a day" in ignored.first().note
    assert InvoicePush.objects.count() == 1
