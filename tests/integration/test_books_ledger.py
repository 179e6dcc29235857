"""The day's Books budget: every call counted per organization and kind of work, in every process, and shown."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from integration.ledger import Work, today, working_on
from integration.models import BooksCallDay, InvoicePush
from integration.services.reconcile import reconcile_all
from integration.zoho.books import BooksClient
from sandbox.demo import US_ORG, deal_id
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_every_books_call_is_counted_by_organization_and_work(
    press, sandbox, hooks, django_capture_on_commit_callbacks
):
    books_calls = lambda: sum(1 for c in sandbox.calls if c["product"] == "books")  # noqa: E731
    _, reply = press(deal_id(2))
    assert InvoicePush.objects.get(pk=reply["push_id"]).state == "pushed"
    hooks.books_demo_action(US_ORG, InvoicePush.objects.get(pk=reply["push_id"]).invoice_id, "pay", {})
    hooks.flush_webhooks()
    with django_capture_on_commit_callbacks(execute=True):
        reconcile_all(only=US_ORG)
    line = today()[US_ORG]
    assert line["calls"] == sum(
        c for c in BooksCallDay.objects.filter(organization_id=US_ORG).values_list("calls", flat=True)
    )
    assert set(line["by"]) >= {"pushes", "webhook syncs", "reconciliation"}
    assert sum(today()[org]["calls"] for org in today()) == books_calls()  # not one call missed, none counted twice


def test_the_work_in_hand_names_the_calls(sandbox, demo_config):
    with working_on(Work.AUDIT):
        BooksClient().organization_get(US_ORG)
    BooksClient().organization_get(US_ORG)
    assert today()[US_ORG]["by"] == {"duplicate audits": 1, "checks and screens": 1}


def test_the_setup_screen_shows_todays_calls_against_the_cap(client, sandbox, demo_config):
    from integration.models import LegalEntity

    LegalEntity.objects.filter(books_org_id=US_ORG).update(books_daily_cap=2500)
    with working_on(Work.PUSH):
        BooksClient().organization_get(US_ORG)
    client.force_login(UserFactory(groups=["finance-admin"]))
    page = client.get("/setup/").content.decode()
    assert "1 of 2,500, 2,499 left" in page and "pushes 1" in page
    with CaptureQueriesContext(connection) as ctx:
        today()
    assert len(ctx) == 1


def test_finance_sets_an_entitys_daily_cap_on_its_screen(client, demo_config):
    from integration.models import LegalEntity

    client.force_login(UserFactory(groups=["finance-admin"]))
    entity = LegalEntity.objects.get(code="US-LLC")
    form = {"code": "US-LLC", "name": entity.name, "books_org_id": entity.books_org_id, "books_daily_cap": "5000"}
    assert client.post("/tables/entities/US-LLC/edit/", form).status_code == 302
    assert LegalEntity.objects.get(code="US-LLC").books_daily_cap == 5000
    assert client.post("/tables/entities/US-LLC/edit/", {**form, "books_daily_cap": "0"}).status_code == 400
    assert LegalEntity.objects.get(code="US-LLC").books_daily_cap == 5000


def test_an_audit_stops_at_its_share_of_the_day_and_carries_on_the_next(client, sandbox, demo_config, settings):
    from datetime import timedelta

    from audits.models import AuditRun
    from audits.runs import audit_claim, audit_start, audit_work
    from integration.models import LegalEntity

    settings.AUDIT_DAILY_SHARE = 0.5
    LegalEntity.objects.filter(code="US-LLC").update(books_daily_cap=4)  # audits may make 2 calls today
    run, _ = audit_start(entity=LegalEntity.objects.get(code="US-LLC"), trigger="command", queue=False)
    assert audit_work(audit_claim(run.pk)) is False  # paused, not failed
    run.refresh_from_db()
    assert run.state == "queued" and run.books_calls == 2 and "carries on tomorrow" in run.error
    assert today()[US_ORG]["by"] == {"duplicate audits": 2}
    client.force_login(UserFactory(groups=["finance-admin"]))
    page = client.get("/audits/").content.decode()
    assert "audits may use 50% of US-LLC" in page, page[page.find("US-LLC") : page.find("US-LLC") + 1500]

    assert audit_work(audit_claim(run.pk)) is False  # the same day: no call at all
    assert today()[US_ORG]["calls"] == 2
    BooksCallDay.objects.update(day=F("day") - timedelta(days=1))  # the next day
    LegalEntity.objects.filter(code="US-LLC").update(books_daily_cap=10_000)
    assert audit_work(audit_claim(run.pk)) is True
    run.refresh_from_db()
    assert run.state == "done" and run.error == "" and AuditRun.objects.count() == 1
