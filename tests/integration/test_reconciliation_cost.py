"""Reconciliation that costs what changed and always moves on (integration/services/reconcile.py)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from integration.models import InvoicePush, ReconcileCursor
from integration.services.reconcile import reconcile
from sandbox.demo import US_ORG, deal_id

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pushed(press, sandbox, demo_config, settings, django_capture_on_commit_callbacks):
    """Three US invoices of ours, pushed and synced once by a first reconciliation (a second after their last change:
    Books' times count whole seconds, so only a reading taken after that second proves it has seen them all)."""
    settings.RECONCILE_SAME_SECOND_MARGIN_SECONDS = 1
    ids = []
    for n in (1, 2, 4):
        _, reply = press(deal_id(n))
        ids.append(InvoicePush.objects.get(pk=reply["push_id"]).invoice_id)
    time.sleep(1.1)
    with django_capture_on_commit_callbacks(execute=True):
        reconcile(organization_id=US_ORG)
    return ids


def books_calls(sandbox, since: int) -> list[str]:
    return [f"{c['method']} {c['path']}" for c in sandbox.calls[since:] if c["product"] == "books"]


def test_a_change_in_the_same_second_as_our_reading_is_not_skipped(sandbox, demo_config, press, settings):
    settings.RECONCILE_SAME_SECOND_MARGIN_SECONDS = 60  # every reading is "too soon" after the change it saw
    _, reply = press(deal_id(1))
    invoice_id = InvoicePush.objects.get(pk=reply["push_id"]).invoice_id
    reconcile(organization_id=US_ORG)
    before = len(sandbox.calls)
    assert reconcile(organization_id=US_ORG)["skipped"] == 0
    assert any(invoice_id in call for call in books_calls(sandbox, before))  # read again, to be sure


def test_a_run_over_unchanged_invoices_makes_one_list_call(sandbox, pushed):
    before = len(sandbox.calls)
    report = reconcile(organization_id=US_ORG)
    assert books_calls(sandbox, before) == ["GET /books/v3/invoices"]
    assert report["calls"] == 1 and report["synced"] == 0 and report["skipped"] == 3
    assert ReconcileCursor.objects.get(organization_id=US_ORG).last_report["calls"] == 1


def test_a_changed_invoice_costs_its_sync_and_the_others_nothing(sandbox, pushed, django_capture_on_commit_callbacks):
    sandbox.webhook_url = ""
    sandbox.books_demo_action(US_ORG, pushed[0], "pay", {})
    before = len(sandbox.calls)
    with django_capture_on_commit_callbacks(execute=True):
        report = reconcile(organization_id=US_ORG)
    assert report["synced"] == 1 and report["skipped"] == 2
    assert all(pushed[1] not in call and pushed[2] not in call for call in books_calls(sandbox, before))
    assert sandbox.crm["Deals"][deal_id(1)]["Payment_Status"] == "Paid"


def test_held_back_by_our_own_limiter_is_not_a_failure_and_the_next_run_carries_on(
    sandbox, pushed, settings, django_capture_on_commit_callbacks
):
    from integration import ratelimit

    sandbox.webhook_url = ""
    for invoice_id in pushed:
        sandbox.books_demo_action(US_ORG, invoice_id, "pay", {})
    time.sleep(1.1)  # our readings come a second after the payments: what they applied can be skipped later
    cursor_before = ReconcileCursor.objects.get(organization_id=US_ORG).last_run_at
    ratelimit.reset()
    settings.BOOKS_RATE_LIMIT_PER_MINUTE, settings.BOOKS_RATE_LIMIT_MAX_WAIT = 4, 0  # room for ~one invoice
    with django_capture_on_commit_callbacks(execute=True):
        first = reconcile(organization_id=US_ORG)
    assert first["failed"] == [] and "held back by our own pacing" in first["note"]
    assert 0 < first["synced"] < 3
    assert ReconcileCursor.objects.get(organization_id=US_ORG).last_run_at >= cursor_before  # never back
    ratelimit.reset()
    settings.BOOKS_RATE_LIMIT_PER_MINUTE = 90
    with django_capture_on_commit_callbacks(execute=True):
        second = reconcile(organization_id=US_ORG)
    assert second["synced"] == 3 - first["synced"] and second["skipped"] == first["synced"]
    assert all(sandbox.crm["Deals"][deal_id(n)]["Payment_Status"] == "Paid" for n in (1, 2, 4))


def test_two_overlapping_runs_make_one_pass(sandbox, pushed):
    sandbox.add_fault("slow", method="GET", path="/invoices", seconds=1.0)  # the first run's list takes a while
    reports = []

    def run():
        try:
            reports.append(reconcile(organization_id=US_ORG))
        finally:
            connection.close()

    first = threading.Thread(target=run)
    first.start()
    deadline = time.monotonic() + 10
    while not ReconcileCursor.objects.filter(organization_id=US_ORG, lease__isnull=False).exists():
        assert time.monotonic() < deadline, "the first run never started"
        time.sleep(0.02)
    second = reconcile(organization_id=US_ORG)  # while the first one is still listing
    first.join(10)
    assert second["note"] == "another run of this organization is in progress" and second["calls"] == 0
    assert reports[0]["calls"] == 1
    lists = [c for c in sandbox.calls if c["method"] == "GET" and c["path"].endswith("/invoices")]
    assert len(lists) == 2  # the fixture's run and the first of these two: the second made none
