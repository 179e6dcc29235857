"""What an outside probe found, each as a test: hostile headers, bodies, ids, CSV cells and sign-in abuse."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.urls import reverse

from integration.models import CustomerLink, InvoicePush, LegalEntity, WebhookDelivery
from integration.services.config_tables import legal_entities_export, legal_entities_import, tax_map_export
from integration.zoho.errors import MAX_RETRY_AFTER_SECONDS
from sandbox.demo import US_ORG, account_id, deal_id
from tests.conftest import at_once, sign
from tests.factories import InvoicePushFactory, LegalEntityFactory, TaxRuleFactory, UserFactory

pytestmark = pytest.mark.django_db


def post_button(client, body: bytes, headers: dict):
    return client.post("/api/crm/generate-invoice/", body, content_type="application/json", headers=headers)


# --- the machine endpoints ------------------------------------------------------------------------------
def test_a_non_ascii_signature_is_refused_not_a_500(client, settings):
    body = json.dumps({"deal_id": deal_id(1)}).encode()
    headers = {**sign(body, secret=settings.CRM_BUTTON_SECRET), "X-Signature": "é" * 64}
    resp = post_button(client, body, headers)
    assert resp.status_code == 401 and resp.json()["message"] == "The signature does not match."


@pytest.mark.parametrize(
    "raw",
    [
        b'{"deal_id": "1", "user": NaN}',
        b'{"deal_id": "1", "user": Infinity}',
        b'{"deal_id": "1", "n": 1e400}',
        b'{"deal_id": "1", "user": "a\\u0000b"}',
        b'{"deal_id": "1", "user": "\\ud800"}',
        b'{"deal_id": "1", "\\ud800": 1}',
        b'{"deal_id": "1", "n": 99999999999999999999999999}',
    ],
)
def test_bodies_postgresql_could_not_store_are_refused_at_the_door(client, settings, raw):
    resp = post_button(client, raw, sign(raw, secret=settings.CRM_BUTTON_SECRET))
    assert resp.status_code == 400 and resp.json()["message"]
    hook = client.post(
        f"/api/books/webhook/{US_ORG}/",
        raw.replace(b'"deal_id"', b'"invoice"').replace(b'"1"', b'{"invoice_id": "1"}'),
        content_type="application/json",
        headers={"X-Webhook-Token": settings.BOOKS_WEBHOOK_TOKEN},
    )
    assert hook.status_code == 400 and hook.json()["message"]
    assert not InvoicePush.objects.exists() and not WebhookDelivery.objects.exists()


def test_odd_webhook_bodies_and_addresses_get_json_answers(client, settings, demo_config):
    token = {"X-Webhook-Token": settings.BOOKS_WEBHOOK_TOKEN}
    resp = client.post(f"/api/books/webhook/{US_ORG}/", b'{"": "x"}', content_type="application/json", headers=token)
    assert resp.status_code == 200 and resp.json()["message"].startswith("Acknowledged and ignored")
    resp = client.post("/api/books/webhook/%00/", b"{}", content_type="application/json", headers=token)
    assert resp.status_code == 400 and "NUL" in resp.json()["message"]


def test_screens_refuse_nul_in_the_address_and_in_forms(client):
    client.force_login(UserFactory(groups=["reviewer", "finance-admin"]))
    resp = client.get("/audits/?entity=%00")
    assert resp.status_code == 400 and "NUL" in resp.content.decode()
    resp = client.post("/audits/run/", {"entity": "US\x00LLC"})
    assert resp.status_code == 400 and "NUL" in resp.content.decode()


@pytest.mark.django_db(transaction=True)
def test_concurrent_presses_on_a_failed_push_all_get_an_answer(client, settings, sandbox, demo_config):
    from django.test import Client

    push = InvoicePushFactory(deal_id=deal_id(1), state="failed", error="Books was down")
    body = json.dumps({"deal_id": deal_id(1)}).encode()

    def one_press():
        return post_button(Client(), body, sign(body, secret=settings.CRM_BUTTON_SECRET)).status_code

    statuses = at_once(8, one_press)
    assert all(s < 500 for s in statuses), statuses
    assert InvoicePush.objects.filter(deal_id=deal_id(1)).count() == 1 and push.events.exists()


@pytest.mark.django_db(transaction=True)
def test_presses_of_a_new_deal_arriving_together_read_it_once(settings, sandbox, demo_config):
    """Twenty presses of one deal at once (CRM retrying, a double click) plan it once: the others wait for that
    push and answer with it, instead of each reading CRM and Books and spending the organization's calls of the
    minute (which once left the push itself waiting a minute for a slot)."""
    from django.test import Client

    sandbox.add_fault("slow", method="GET", path=f"/Deals/{deal_id(2)}", seconds=0.5)  # the presses overlap
    body = json.dumps({"deal_id": deal_id(2)}).encode()

    def one_press():
        resp = post_button(Client(), body, sign(body, secret=settings.CRM_BUTTON_SECRET))
        return resp.status_code, resp.json().get("push_id")

    answers = at_once(20, one_press)
    assert {status for status, _ in answers} <= {200, 202} and len({push for _, push in answers}) == 1
    assert len(sandbox.calls_to("GET", rf"/Deals/{deal_id(2)}$")) == 1  # read once, by the press that planned
    assert InvoicePush.objects.filter(deal_id=deal_id(2)).count() == 1


# --- ids that would change the URL ----------------------------------------------------------------------
@pytest.mark.parametrize("bad", [".", "..", "../Deals", "1/2"])
def test_dot_segment_ids_from_crm_never_reach_a_url(press, sandbox, bad):
    sandbox.crm["Deals"][deal_id(1)]["Account_Name"]["id"] = bad
    status, _ = press(deal_id(1))
    assert status < 500
    assert sandbox.calls_to("GET", r"/crm/v\d+/Accounts$") == []  # the list endpoint, never
    push = InvoicePush.objects.get(deal_id=deal_id(1))
    assert "not a CRM record id" in push.error or any("not a CRM record id" in r for r in push.reasons)


def test_a_dot_product_id_never_becomes_the_mass_update(press, sandbox):
    sandbox.crm["Deals"][deal_id(1)]["Products"][0]["Product"]["id"] = "."
    press(deal_id(1))
    assert sandbox.calls_to("PUT", r"/crm/v\d+/Products$") == [] and sandbox.calls_to("GET", r"/Products$") == []


def test_a_dot_books_customer_id_never_reads_the_contact_list_by_id(press, sandbox):
    sandbox.crm["Accounts"][account_id(1)]["Books_Customer_Id"] = "."
    press(deal_id(1))
    assert [c for c in sandbox.calls_to("GET", r"/contacts") if c["path"].endswith("/contacts/")] == []
    assert InvoicePush.objects.get(deal_id=deal_id(1)).state == "pushed"


def test_the_http_layer_refuses_any_path_with_an_odd_segment(sandbox):
    from integration.zoho.crm import CrmClient
    from integration.zoho.errors import ZohoBadId

    with pytest.raises(ZohoBadId):
        CrmClient().call("GET", "/Accounts/./x", scope="ZohoCRM.modules.accounts.READ")
    assert sandbox.calls_to("GET", r"Accounts") == []


# --- waits Zoho asks for ----------------------------------------------------------------------------------
def test_a_huge_retry_after_is_bounded(press, sandbox):
    sandbox.add_fault("rate_limit", method="POST", path="/invoices", retry_after=1_000_000_000)
    _, reply = press(deal_id(2))
    push = InvoicePush.objects.get(pk=reply["push_id"])
    if push.state == "queued":
        wait = (push.next_attempt_at - push.updated_at).total_seconds()
        assert wait <= MAX_RETRY_AFTER_SECONDS + 5
    else:
        assert push.state == "pushed"


# --- decisions ----------------------------------------------------------------------------------------------
def test_a_customer_decision_on_a_push_without_one_changes_nothing(client, press, sandbox):
    _, reply = press(deal_id(1))
    push = InvoicePush.objects.get(pk=reply["push_id"])
    assert push.state == "pushed"
    before = list(CustomerLink.objects.values_list("crm_account_id", "books_contact_id"))
    client.force_login(UserFactory(groups=["finance-admin"]))
    other = next(c for c in sandbox.orgs[US_ORG].contacts if c != push.plan["customer_id"])
    resp = client.post(
        reverse("integration:push-decide", args=[push.pk]),
        {"kind": "customer", "subject": "Initech, LLC", "choice": other},
        follow=True,
    )
    assert "not waiting for this decision" in resp.content.decode()
    assert list(CustomerLink.objects.values_list("crm_account_id", "books_contact_id")) == before


# --- CSV ------------------------------------------------------------------------------------------------------
FORMULAS = ['=HYPERLINK("http://evil")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx"]


def test_exports_neutralise_formulas_and_quote_carriage_returns_and_read_back_unchanged():
    for n, name in enumerate(FORMULAS):
        LegalEntityFactory(code=f"E{n}", name=name, books_org_id=f"7000{n}")
    LegalEntityFactory(code="CR", name="Line one\rline two", books_org_id="79999")
    TaxRuleFactory(legal_entity=None, country="US", state="CA", tax_authority="=1+1")
    out = io.StringIO()
    legal_entities_export(out=out)
    text = out.getvalue()
    for line in text.splitlines()[1:]:
        cells = next(__import__("csv").reader([line])) if "\r" not in line else []
        assert not any(cell.startswith(("=", "+", "-", "@", "\t")) for cell in cells), line
    assert '"Line one\rline two"' in text
    taxes = io.StringIO()
    tax_map_export(out=taxes)
    assert ",'=1+1," in taxes.getvalue()
    summary = legal_entities_import(file=io.StringIO(text, newline=""))
    # every name reads back as it was, except the two starting with white space (which every form strips)
    assert (summary.unchanged, summary.updated, summary.created) == (len(FORMULAS) - 2 + 1, 2, 0)
    assert [LegalEntity.objects.get(code=f"E{n}").name for n in range(4)] == FORMULAS[:4]


def test_findings_export_neutralises_formulas(client, sandbox):
    from audits.models import DuplicateFlag

    entity = LegalEntityFactory(code="US-LLC", books_org_id=US_ORG)
    DuplicateFlag.objects.create(
        legal_entity=entity,
        organization_id=US_ORG,
        kind="item",
        key="x",
        members=[{"books_id": "1", "name": "=HYPERLINK(1)", "sku": "@A", "status": "active"}],
        reason="-x",
        score=90,
    )
    client.force_login(UserFactory(groups=["reviewer"]))
    body = client.get("/audits/findings.csv").content.decode()
    assert "'=HYPERLINK(1)" in body and "'@A" in body and "'-x" in body


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("code,name,code,books_org_id,require_review\n", "appear more than once"),
        ("code,name,books_org_id,require_review\nA,B\x00,1,true\n", "NUL"),
        ("code,name,books_org_id,require_review\nA," + "x" * 2000 + ",1,true\n", "over 1000 characters"),
        ("code,name,books_org_id,require_review\n" + "A,B,1,true\n" * 5001, "more than 5,000 rows"),
    ],
)
def test_bad_csv_imports_are_refused_plainly_and_change_nothing(tmp_path, content, problem):
    path = tmp_path / "le.csv"
    path.write_text(content)
    from django.core.management.base import CommandError

    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_legal_entities", str(path), stderr=err)
    assert problem in err.getvalue()
    assert not LegalEntity.objects.exists()


def test_an_oversized_csv_is_refused_before_it_is_read(client, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(UserFactory(groups=["finance-admin"]))
    big = SimpleUploadedFile("le.csv", b"code,name,books_org_id,require_review\n" + b"x" * 1_100_000)
    resp = client.post(reverse("integration:tables-import"), {"table": "legal_entities", "file": big}, follow=True)
    assert "the limit is 1,000,000" in resp.content.decode()


def test_a_large_upload_with_a_nul_byte_is_refused_before_it_is_stored(client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from integration.models import CsvImport

    client.force_login(UserFactory(groups=["finance-admin"]))
    content = legal_entities_csv(600).replace(b"Entity 5,", b"Entity \x005,")
    upload = SimpleUploadedFile("le.csv", content)
    resp = client.post(reverse("integration:tables-import"), {"table": "legal_entities", "file": upload}, follow=True)
    assert resp.status_code == 200 and "NUL character" in resp.content.decode()
    assert not CsvImport.objects.exists() and not LegalEntity.objects.exists()


def test_an_import_with_a_million_bad_rows_answers_a_short_page(tmp_path):
    path = tmp_path / "le.csv"
    path.write_text("code,name,books_org_id,require_review\n" + ",,,\nx,,y,z\n" * 2400)
    err = io.StringIO()
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("import_legal_entities", str(path), stderr=err)
    assert len(err.getvalue().splitlines()) <= 51 and "more lines with problems" in err.getvalue()


def test_a_legal_entity_code_with_a_slash_keeps_the_tables_screen_working(client):
    LegalEntityFactory(code="US/LLC", books_org_id="70001")
    client.force_login(UserFactory(groups=["finance-admin"]))
    page = client.get(reverse("integration:tables"))
    assert page.status_code == 200
    edit = client.get(reverse("integration:entity-edit", args=["US/LLC"]))
    assert edit.status_code == 200 and "US/LLC" in edit.content.decode()


def legal_entities_csv(rows: int, *, bad_line: int | None = None) -> bytes:
    lines = [f"E{n:04d},Entity {n},{80000000 + n},false" for n in range(rows)]
    if bad_line is not None:
        lines[bad_line - 2] = "X,,not-digits,maybe"
    return ("code,name,books_org_id,require_review\n" + "\n".join(lines) + "\n").encode()


@pytest.mark.django_db(transaction=True)
def test_a_large_csv_is_applied_by_a_worker_with_its_progress_on_a_page(client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from integration.models import CsvImport

    client.force_login(UserFactory(groups=["finance-admin"]))
    upload = SimpleUploadedFile("entities.csv", legal_entities_csv(800))
    resp = client.post(reverse("integration:tables-import"), {"table": "legal_entities", "file": upload})
    job = CsvImport.objects.get()
    assert resp.status_code == 302 and resp["Location"] == reverse("integration:csv-import", args=[job.pk])
    page = client.get(resp["Location"]).content.decode()  # in-process tasks: it has run by now
    assert "Imported — 800 created, 0 updated, 0 unchanged." in page and LegalEntity.objects.count() == 800
    job.refresh_from_db()
    assert (job.state, job.checked, job.rows, job.content) == ("done", 800, 800, "")  # the file is not kept

    bad = SimpleUploadedFile("entities.csv", legal_entities_csv(900, bad_line=700))
    resp = client.post(reverse("integration:tables-import"), {"table": "legal_entities", "file": bad}, follow=True)
    page = resp.content.decode()
    assert "Refused: nothing was imported" in page and "line 700: name is empty" in page
    assert LegalEntity.objects.count() == 800
    partial = client.get(resp.redirect_chain[-1][0], headers={"HX-Request": "true"}).content.decode()
    assert 'id="progress"' in partial and "hx-get" not in partial  # finished: the page stops polling


@pytest.mark.django_db(transaction=True)
def test_a_csv_import_no_worker_picked_up_is_sent_by_the_sweeper(settings):
    from datetime import timedelta

    from django.utils import timezone

    from integration.models import CsvImport
    from integration.services.sweeper import csv_imports_due, push_sweep_task

    job = CsvImport.objects.create(table="legal_entities", content=legal_entities_csv(3).decode(), rows=3)
    stalled = CsvImport.objects.create(table="legal_entities", content="code\n", rows=0, state="checking")
    CsvImport.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(hours=1))
    CsvImport.objects.filter(pk=stalled.pk).update(
        created_at=timezone.now() - timedelta(hours=1), progress_at=timezone.now() - timedelta(hours=1)
    )
    assert sorted(csv_imports_due()) == [job.pk, stalled.pk]
    push_sweep_task()
    job.refresh_from_db()
    assert job.state == "done" and LegalEntity.objects.count() == 3
