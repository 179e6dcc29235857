"""The dashboard's running tally always equals what the tables hold (PostgreSQL triggers), whatever writes them —
saves, queryset updates, bulk inserts, deletes — and stays equal while the sweeper compacts it beside writers."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.utils import timezone

from integration import tally
from integration.models import InvoicePush, InvoiceSync, Tally, WebhookDelivery
from tests.factories import InvoicePushFactory, LegalEntityFactory

State = InvoicePush.State
DAY = {"today": timezone.now() - timedelta(hours=1), "week": timezone.now() - timedelta(days=2)}


def _sync(push: InvoicePush, **fields) -> InvoiceSync:
    return InvoiceSync.objects.create(
        organization_id=push.organization_id, invoice_id=f"46{push.pk:012d}", push=push, **fields
    )


@pytest.mark.django_db
def test_the_tally_equals_the_tables_after_every_kind_of_write():
    assert connection.vendor == "postgresql" and tally.kept()
    entity = LegalEntityFactory()
    pushes = [InvoicePushFactory(legal_entity=entity, state=state) for state in (State.QUEUED,) * 4 + (State.BLOCKED,)]
    assert tally.read(**DAY) == tally.counted(**DAY)

    first, second, third, fourth, blocked = pushes
    first.state, first.invoice_id = State.PUSHED, "460000000001"
    first.save()  # a whole-row save
    InvoicePush.objects.filter(pk=second.pk).update(state=State.FAILED, plan={"decisions": [{"kind": "item"}]})
    InvoicePush.objects.filter(pk=third.pk).update(state=State.FAILED, plan={"decisions": []})  # no decision asked
    InvoicePush.objects.filter(pk=second.pk).update(plan={"decisions": [{"kind": "item"}], "lines": []})  # same
    assert tally.read(**DAY)["needs_decision"] == 1
    third.plan = {"decisions": [{"kind": "customer"}]}
    third.save(update_fields=["plan"])  # a decision is asked of a push already failed
    fourth.delete()
    InvoicePush.objects.bulk_create(
        [InvoicePush(deal_id=f"9{n:018d}", legal_entity=entity, state=State.PENDING_REVIEW) for n in range(3)]
    )
    assert tally.read(**DAY)["needs_decision"] == 2
    assert tally.read(**DAY) == tally.counted(**DAY)

    paid = _sync(first, payment_status="Unpaid", balance=Decimal("100.50"), currency="USD")
    other = _sync(blocked, payment_status="Overdue", balance=Decimal("12.345"), currency="KWD")
    _sync(third, payment_status="Unpaid", balance=None, currency="USD")  # not synced yet: owes nothing known
    assert tally.read(**DAY)["owed"] == [
        {"currency": "KWD", "unpaid": Decimal("12.345"), "overdue": Decimal("12.345")},
        {"currency": "USD", "unpaid": Decimal("100.50"), "overdue": Decimal("0")},
    ]
    InvoiceSync.objects.filter(pk=paid.pk).update(payment_status="Partially Paid", balance=Decimal("40.25"))
    InvoiceSync.objects.filter(pk=other.pk).update(currency="EUR")
    InvoiceSync.objects.filter(pk=paid.pk).update(payment_status="Paid", balance=Decimal("0"))
    assert tally.read(**DAY) == tally.counted(**DAY)

    delivery = WebhookDelivery.objects.create(organization_id=entity.books_org_id, state=WebhookDelivery.State.FAILED)
    WebhookDelivery.objects.create(organization_id=entity.books_org_id, state=WebhookDelivery.State.FAILED)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(state=WebhookDelivery.State.PROCESSED)
    assert tally.read(**DAY)["deliveries_failed"] == 1 == tally.deliveries_failed()
    assert tally.read(**DAY) == tally.counted(**DAY)

    rows = Tally.objects.count()
    tally.compact()
    assert Tally.objects.count() < rows and tally.read(**DAY) == tally.counted(**DAY)
    assert Tally.objects.count() == len(set(Tally.objects.values_list("key", flat=True)))  # one row per key


@pytest.mark.django_db(transaction=True)
def test_writers_and_compaction_side_by_side_keep_the_tally_exact():
    """Four writers change push states while the sweeper compacts over and over: the tally ends exact."""
    entity = LegalEntityFactory()
    done = threading.Event()

    def writer(n: int) -> None:
        try:
            for i in range(40):
                push = InvoicePush.objects.create(deal_id=f"8{n}{i:017d}", legal_entity=entity, state=State.QUEUED)
                InvoicePush.objects.filter(pk=push.pk).update(state=State.RUNNING)
                if i % 3:
                    InvoicePush.objects.filter(pk=push.pk).update(state=State.REJECTED)
        finally:
            connections.close_all()

    def compactor() -> None:
        try:
            while not done.is_set():
                tally.compact()
        finally:
            connections.close_all()

    sweeper = threading.Thread(target=compactor)
    sweeper.start()
    writers = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join(timeout=120)
    done.set()
    sweeper.join(timeout=60)
    assert tally.read(**DAY) == tally.counted(**DAY)
    assert (
        tally.read(**DAY)["counts"][State.RUNNING] == 4 * 14 and tally.read(**DAY)["counts"][State.REJECTED] == 4 * 26
    )


@pytest.mark.django_db
def test_the_blocked_chip_counts_deals_and_past_its_limit_the_presses(monkeypatch):
    for deal in ("1", "1", "1", "2"):
        InvoicePushFactory(deal_id=f"57257670000000{deal}", state="blocked")
    assert tally.read(**DAY)["blocked_rows"] == 2 == tally.counted(**DAY)["blocked_rows"]  # one row per deal
    monkeypatch.setattr(tally, "BLOCKED_ROWS_COUNTED_UP_TO", 3)  # a backlog past the limit: the presses, flat cost
    assert tally.read(**DAY)["blocked_rows"] == 4 == tally.counted(**DAY)["blocked_rows"]
