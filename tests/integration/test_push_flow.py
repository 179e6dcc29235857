"""Generate Invoice end to end in one process: the signed endpoint, planning, the worker (eager) and the
sandbox standing in for Zoho. The cross-process cases (real worker, SIGKILL) are in test_push_e2e.py."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from audits.decisions import customer_link_choose, item_confirm_new, item_link_choose
from integration.models import BooksCreate, CustomerLink, InvoicePush, ItemLink, PushEvent
from integration.services.review import push_approve, push_replay
from integration.services.sweeper import push_sweep
from sandbox.demo import IN_ORG, UK_ORG, US_ORG, account_id, deal_id
from tests.conftest import sign
from tests.factories import InvoicePushFactory, UserFactory

pytestmark = pytest.mark.django_db
URL = "/api/crm/generate-invoice/"


def books_writes(sandbox, org: str | None = None) -> list[dict]:
    return [
        c
        for c in sandbox.calls
        if c["product"] == "books" and c["method"] in ("POST", "PUT") and (org is None or c["org"] == org)
    ]


def invoices(sandbox, org: str, deal: str) -> list[dict]:
    return [i for i in sandbox.orgs[org].invoices.values() if i["reference_number"] == deal]


# --- the endpoint's contract ---------------------------------------------------------------------
def test_a_bad_missing_or_stale_signature_is_refused_and_records_nothing(press, settings):
    body = json.dumps({"deal_id": deal_id(1)}).encode()
    assert press("", raw=body, headers={})[0] == 401
    assert press("", raw=body, headers=sign(body, secret="not-the-secret"))[0] == 401
    stale = sign(body, secret=settings.CRM_BUTTON_SECRET, timestamp_ms=int(time.time() * 1000) - 6 * 60 * 1000)
    status, reply = press("", raw=body, headers=stale)
    assert status == 401 and "stale" in reply["message"]
    tampered = sign(body, secret=settings.CRM_BUTTON_SECRET)
    assert press("", raw=body.replace(b"01", b"02"), headers=tampered)[0] == 401
    assert InvoicePush.objects.count() == 0


def test_a_malformed_body_is_a_400(press):
    assert press("", raw=b"not json")[0] == 400
    status, reply = press("", raw=b'{"user": "x@example.com"}')
    assert status == 400 and "deal_id" in reply["message"]
    assert press("", raw=b'{"deal_id": "../../etc"}')[0] == 400
    assert InvoicePush.objects.count() == 0


def test_the_endpoint_takes_only_post(client):
    assert client.get(URL).status_code == 405


# --- the demo deals -----------------------------------------------------------------------------
def test_initech_adopts_the_existing_customer_and_items_and_taxes_by_authority(press, sandbox):
    contacts_before = set(sandbox.orgs[US_ORG].contacts)
    items_before = set(sandbox.orgs[US_ORG].items)
    status, reply = press(deal_id(1))
    assert (status, reply["status"]) == (202, "queued")
    push = InvoicePush.objects.get(pk=reply["push_id"])
    assert push.state == "pushed", push.error
    # The customer the connector made from a Contact ("Initech LLC") is adopted, not duplicated.
    assert set(sandbox.orgs[US_ORG].contacts) == contacts_before
    assert push.plan["customer_id"] == "460000000000501"
    assert sandbox.crm["Accounts"][account_id(1)]["Books_Customer_Id"] == "460000000000501"
    # Widget Pro matches WID-100; the inactive SPR‐300 is reactivated, not duplicated.
    assert set(sandbox.orgs[US_ORG].items) == items_before
    sprocket = next(i for i in sandbox.orgs[US_ORG].items.values() if i["name"] == "Sprocket")
    assert sprocket["status"] == "active"
    [invoice] = invoices(sandbox, US_ORG, deal_id(1))
    assert {ln["tax_name"] for ln in invoice["line_items"]} == {"CA Sales Tax"}
    assert sandbox.orgs[US_ORG].authorities[invoice["tax_authority_id"]]["tax_authority_name"] == "BOE_CA"
    assert invoice["total"] == Decimal("2400") + Decimal("450") + Decimal("206.63")  # 7.25% of 2850, per line
    deal = sandbox.crm["Deals"][deal_id(1)]
    assert (deal["Invoice_Id"], deal["Invoice_Number"], deal["Invoice_URL"]) == (
        invoice["invoice_id"],
        invoice["invoice_number"],
        invoice["invoice_url"],
    )


def test_a_second_press_answers_200_with_the_same_invoice(press, sandbox):
    _, first = press(deal_id(1))
    status, again = press(deal_id(1))
    push = InvoicePush.objects.get(pk=first["push_id"])
    assert status == 200 and again == {
        "status": "pushed",
        "push_id": push.pk,
        "invoice_id": push.invoice_id,
        "invoice_number": push.invoice_number,
        "invoice_url": push.invoice_url,
        "message": f"Invoice {push.invoice_number} already exists for this deal.",
    }
    assert len(invoices(sandbox, US_ORG, deal_id(1))) == 1


def test_the_steady_state_costs_one_books_call(press, sandbox):
    press(deal_id(1))
    twin = {**sandbox.crm["Deals"][deal_id(1)], "id": deal_id(99), "Invoice_Id": None}
    sandbox.crm["Deals"][deal_id(99)] = twin
    before = len(sandbox.calls)
    _, reply = press(deal_id(99))
    assert InvoicePush.objects.get(pk=reply["push_id"]).state == "pushed"
    books_calls = [c for c in sandbox.calls[before:] if c["product"] == "books"]
    assert [(c["method"], c["path"]) for c in books_calls] == [("POST", "/books/v3/invoices")]


def test_globex_gets_a_new_customer_and_matches_a_spaced_lowercase_sku(press, sandbox):
    contacts_before = len(sandbox.orgs[US_ORG].contacts)
    _, reply = press(deal_id(2))
    push = InvoicePush.objects.get(pk=reply["push_id"])
    assert push.state == "pushed", push.error
    assert len(sandbox.orgs[US_ORG].contacts) == contacts_before + 1
    gadget = next(i for i in sandbox.orgs[US_ORG].items.values() if i["sku"] == "gad 200")
    assert (
        ItemLink.objects.get(organization_id=US_ORG, crm_product_id="5725767000000300002").books_item_id
        == gadget["item_id"]
    )
    [invoice] = invoices(sandbox, US_ORG, deal_id(2))
    assert {ln["tax_name"] for ln in invoice["line_items"]} == {"NY Sales Tax"}


def test_a_fullwidth_sku_matches(press, sandbox):
    _, reply = press(deal_id(12))
    assert InvoicePush.objects.get(pk=reply["push_id"]).state == "pushed"
    flange = next(i for i in sandbox.orgs[US_ORG].items.values() if i["name"] == "Fullwidth Flange")
    assert invoices(sandbox, US_ORG, deal_id(12))[0]["line_items"][0]["item_id"] == flange["item_id"]


def test_the_uk_entity_waits_for_review_then_pushes(press, sandbox, django_capture_on_commit_callbacks):
    status, reply = press(deal_id(5))
    assert (status, reply["status"]) == (202, "pending_review")
    assert books_writes(sandbox, UK_ORG) == []
    push = InvoicePush.objects.get(pk=reply["push_id"])
    reviewer = UserFactory(groups=["reviewer"])
    with django_capture_on_commit_callbacks(execute=True):
        push_approve(push=push, user=reviewer)
    push.refresh_from_db()
    assert push.state == "pushed" and push.reviewed_by == reviewer
    [invoice] = invoices(sandbox, UK_ORG, deal_id(5))
    # UK edition: VAT by rate and the invoice's vat_treatment; no authority anywhere.
    assert [(ln["name"], ln["tax_name"]) for ln in invoice["line_items"]] == [
        ("Widget Pro", "Standard Rate"),
        ("Gadget", "Reduced Rate"),
        ("Installation", ""),
    ]
    assert invoice["vat_treatment"] == "uk" and invoice["tax_authority_id"] == ""
    [customer] = [c for c in sandbox.orgs[UK_ORG].contacts.values() if c["contact_id"] == invoice["customer_id"]]
    assert customer["vat_treatment"] == "uk"  # the customer agrees
    assert invoice["tax_total"] == Decimal("950.00") + Decimal("28.00")  # 20 % of 4,750 + 5 % of 560


def test_india_matches_an_en_dash_sku_and_creates_a_new_item(press, sandbox):
    _, tata = press(deal_id(6))
    _, reliance = press(deal_id(7))
    assert InvoicePush.objects.get(pk=tata["push_id"]).state == "pushed"
    assert InvoicePush.objects.get(pk=reliance["push_id"]).state == "pushed"
    [intra] = invoices(sandbox, IN_ORG, deal_id(6))  # Karnataka, the organization's home state
    assert intra["line_items"][0]["tax_name"] == "GST18" and intra["place_of_supply"] == "KA"
    assert intra["gst_treatment"] == "business_gst"
    new = [i for i in sandbox.orgs[IN_ORG].items.values() if i["sku"] == "QW-800"]
    [inter] = invoices(sandbox, IN_ORG, deal_id(7))  # Maharashtra
    assert len(new) == 1 and inter["line_items"][0]["tax_name"] == "IGST18" and inter["place_of_supply"] == "MH"
    tata_customer = sandbox.orgs[IN_ORG].contacts[intra["customer_id"]]
    assert (tata_customer["gst_treatment"], tata_customer["place_of_contact"]) == ("business_gst", "KA")
    assert ItemLink.objects.get(organization_id=IN_ORG, crm_product_id="5725767000000300008").created_in_books
    assert sandbox.crm["Products"]["5725767000000300008"]["Books_Item_Id"] == new[0]["item_id"]


def test_an_untaxed_deal_needs_no_tax_rule(press, sandbox):
    sandbox.crm["Deals"][deal_id(3)]["Products"][0]["Tax"] = 0  # Texas has no rule in the tax map
    _, reply = press(deal_id(3))
    assert InvoicePush.objects.get(pk=reply["push_id"]).state == "pushed"
    assert (
        "tax_id" not in invoices(sandbox, US_ORG, deal_id(3))[0]["line_items"][0]
        or not invoices(sandbox, US_ORG, deal_id(3))[0]["line_items"][0]["tax_id"]
    )


@pytest.mark.parametrize(
    ("deal", "reason"),
    [
        (3, "No tax authority for US/TX in entity US-LLC."),
        (9, "Legal entity “US-INC” (Account “Stark Industries”) is not set up here"),
        (10, "The deal has no Account, only a Contact."),
        (11, "The deal is at stage “Negotiation/Review”; only Closed Won deals can be invoiced."),
        (13, "Account “Soylent Corp” has no Legal_Entity"),
    ],
)
def test_deals_that_cannot_be_invoiced_are_blocked_with_reasons_and_touch_nothing(press, sandbox, deal, reason):
    status, reply = press(deal_id(deal))
    assert status == 422 and reply["status"] == "blocked"
    assert any(r.startswith(reason) for r in reply["reasons"]), reply["reasons"]
    assert reason.split(".")[0] in reply["message"]
    assert InvoicePush.objects.get(pk=reply["push_id"]).state == "blocked"
    assert books_writes(sandbox) == []


def test_every_reason_is_given_at_once(press, sandbox):
    deal = sandbox.crm["Deals"][deal_id(3)]
    deal["Stage"] = "Closed Lost"
    deal["Products"][0]["Quantity"] = 0
    _, reply = press(deal_id(3))
    assert len(reply["reasons"]) == 3


def test_a_missing_books_tax_at_the_rate_blocks(press, sandbox):
    sandbox.crm["Deals"][deal_id(1)]["Products"][0]["Tax"] = 8.25
    status, reply = press(deal_id(1))
    assert status == 422
    assert "has no 8.25% tax under the tax authority BOE_CA for US/CA" in reply["reasons"][0]


def test_an_unknown_deal_is_blocked(press):
    status, reply = press("5725767000000499999")
    assert status == 422 and reply["reasons"] == ["There is no deal 5725767000000499999 in CRM."]


# --- near-duplicates ----------------------------------------------------------------------------
def test_near_duplicate_items_stop_the_push_until_finance_decides(press, sandbox, django_capture_on_commit_callbacks):
    items_before = set(sandbox.orgs[US_ORG].items)
    _, reply = press(deal_id(8))
    push = InvoicePush.objects.get(pk=reply["push_id"])
    assert push.state == "failed"
    assert "“Doohickey” (SKU DHK-500) has no exact match" in push.error and "DHK-5OO" in push.error
    assert "“Thingamajig” (SKU THG-600)" in push.error and "\u0422\u041dG-600" in push.error
    assert "contains Т CYRILLIC CAPITAL LETTER TE, Н CYRILLIC CAPITAL LETTER EN" in push.error
    assert set(sandbox.orgs[US_ORG].items) == items_before and invoices(sandbox, US_ORG, deal_id(8)) == []

    user = UserFactory(groups=["finance-admin"])
    doohickey = next(i for i in sandbox.orgs[US_ORG].items.values() if i["sku"] == "DHK-5OO")
    item_link_choose(push=push, product_id="5725767000000300005", item_id=doohickey["item_id"], user=user)
    item_confirm_new(push=push, product_id="5725767000000300006", user=user)
    with django_capture_on_commit_callbacks(execute=True):
        push_replay(push=push, user=user)
    push.refresh_from_db()
    assert push.state == "pushed", push.error
    [invoice] = invoices(sandbox, US_ORG, deal_id(8))
    new_items = set(sandbox.orgs[US_ORG].items) - items_before
    assert [sandbox.orgs[US_ORG].items[i]["sku"] for i in new_items] == ["THG-600"]
    # Books refuses a second item named "Thingamajig" (code 1001): the new one carries its SKU in its name.
    assert [sandbox.orgs[US_ORG].items[i]["name"] for i in new_items] == ["Thingamajig (THG-600)"]
    assert push.events.filter(action__contains="(the plain name is taken)").exists()
    assert invoice["line_items"][0]["item_id"] == doohickey["item_id"]


def test_several_matching_customers_need_a_decision(press, sandbox, django_capture_on_commit_callbacks):
    org = sandbox.orgs[US_ORG]
    org.contacts["460000000000502"] = {
        **org.contacts["460000000000501"],
        "contact_id": "460000000000502",
        "contact_name": "INITECH L.L.C.",
        "company_name": "",
    }
    _, reply = press(deal_id(1))
    push = InvoicePush.objects.get(pk=reply["push_id"])
    assert push.state == "failed" and "2 Books customers match the Account “Initech, LLC”" in push.error
    assert not CustomerLink.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        customer_link_choose(push=push, contact_id="460000000000502", user=UserFactory(groups=["finance-admin"]))
        push_replay(push=push, user=None)
    push.refresh_from_db()
    assert push.state == "pushed" and push.plan["customer_id"] == "460000000000502"
    assert invoices(sandbox, US_ORG, deal_id(1))[0]["customer_id"] == "460000000000502"


# --- failures, retries, one invoice -----------------------------------------------------------------
def test_crm_unreachable_at_the_press_is_planned_by_the_worker(press, sandbox):
    sandbox.add_fault("error", path="/crm/", count=1)
    status, reply = press(deal_id(2))
    assert (status, reply["status"]) == (202, "queued")
    assert InvoicePush.objects.get(pk=reply["push_id"]).state == "pushed"


def test_a_server_error_on_create_is_retried_into_one_invoice(press, sandbox):
    sandbox.add_fault("error", method="POST", path="/invoices", count=2)
    _, reply = press(deal_id(2))
    push = InvoicePush.objects.get(pk=reply["push_id"])
    assert push.state == "pushed" and push.attempts == 3
    assert len(invoices(sandbox, US_ORG, deal_id(2))) == 1


def test_retries_stop_after_the_limit_with_a_plain_message(press, sandbox, settings):
    settings.PUSH_MAX_ATTEMPTS = 3
    sandbox.add_fault("error", method="POST", path="/invoices", count=50)
    _, reply = press(deal_id(2))
    push = InvoicePush.objects.get(pk=reply["push_id"])
    assert push.state == "failed" and push.attempts == 3
    assert push.error == "Gave up after 3 attempts: Internal error (Zoho code 1000)"
    assert invoices(sandbox, US_ORG, deal_id(2)) == []


def test_a_permanent_error_fails_at_once_and_replay_resumes_at_the_failed_step(
    press, sandbox, django_capture_on_commit_callbacks
):
    sandbox.crm_locked.add(deal_id(2))
    _, reply = press(deal_id(2))
    push = InvoicePush.objects.get(pk=reply["push_id"])
    assert (push.state, push.step, push.attempts) == ("failed", "stamp", 1)
    assert "cannot update record that is locked" in push.error and push.invoice_id
    sandbox.crm_locked.clear()
    status, again = press(deal_id(2))  # pressing a failed push replays it
    push.refresh_from_db()
    assert push.state == "pushed" and len(invoices(sandbox, US_ORG, deal_id(2))) == 1
    assert status == 202 and again["push_id"] == push.pk


def test_the_timeline_records_each_call_before_it_happens_and_holds_no_secret(press, sandbox, settings):
    # Zoho echoes input in its error texts; here one echoes a secret (as a misconfigured field could).
    leak = f"Invalid value for field: {settings.ZOHO_REFRESH_TOKEN} {settings.CLIQ_WEBHOOK_URL}"
    sandbox.add_fault("error", method="POST", path="/invoices", count=1, message=leak)
    _, reply = press(deal_id(2))
    push = InvoicePush.objects.get(pk=reply["push_id"])
    assert push.state == "pushed"  # the error was retried
    events = list(PushEvent.objects.filter(push_id=reply["push_id"]))
    assert any("Invalid value for field" in e.message for e in events)
    actions = [e.action for e in events]
    assert "Create the Books invoice" in actions and "Create the Books customer" in actions
    assert all(e.outcome != "started" for e in events)  # every call recorded its outcome
    assert all(e.duration_ms is not None for e in events if e.action.startswith("Create"))
    dump = json.dumps([[e.action, e.message, e.detail] for e in events])
    for secret in (settings.ZOHO_CLIENT_SECRET, settings.ZOHO_REFRESH_TOKEN, "Zoho-oauthtoken", "sandbox-zapikey"):
        assert secret not in dump

    # The same for a push that ends failed: its stored error text is masked too.
    sandbox.add_fault("error", method="POST", path="/invoices", count=100, message=leak)
    _, reply = press(deal_id(4))
    failed = InvoicePush.objects.get(pk=reply["push_id"])
    assert failed.state in ("failed", "queued") and "Invalid value for field" in failed.error
    assert settings.ZOHO_REFRESH_TOKEN not in failed.error and "sandbox-zapikey" not in failed.error


def test_the_sweeper_requeues_a_push_whose_worker_vanished():
    stuck = InvoicePushFactory(state="running", running_since=timezone.now() - timedelta(minutes=30), step="invoice")
    fresh = InvoicePushFactory(state="running", running_since=timezone.now())
    due = push_sweep()
    stuck.refresh_from_db()
    fresh.refresh_from_db()
    assert stuck.state == "queued" and stuck.pk in due
    assert fresh.state == "running" and fresh.pk not in due
    assert stuck.events.filter(action="Sweeper re-queued the push").exists()


def test_our_own_limiter_paces_calls_without_failing_the_push(press, sandbox, settings):
    # Books allows 6 calls per (shortened) window; we allow ourselves 5 and never wait inside a call.
    # (Creating a customer takes five calls in one attempt: a contact-name and a company-name search, both again
    # under the lock, the create.)
    settings.BOOKS_RATE_LIMIT_WINDOW_SECONDS = 1.0
    settings.BOOKS_RATE_LIMIT_PER_MINUTE = 5
    settings.BOOKS_RATE_LIMIT_MAX_WAIT = 0
    settings.PUSH_MAX_ATTEMPTS = 1  # waiting for a slot is not a failed attempt
    sandbox.books_rate_limit_per_minute, sandbox.books_rate_window_seconds = 6, 1.0
    started = time.monotonic()
    _, reply = press(deal_id(2))
    push = InvoicePush.objects.get(pk=reply["push_id"])
    assert push.state == "pushed", push.error
    assert push.events.filter(message__startswith="Holding back").exists()
    assert time.monotonic() - started >= 1.0  # more Books calls than five a second
    assert not [c for c in sandbox.calls if c["status"] == 429]  # Books never had to refuse us


def test_tax_authorities_named_only_by_id_are_looked_up(press, sandbox):
    for tax in sandbox.orgs[US_ORG].taxes.values():
        tax["tax_authority_name"] = ""
    _, reply = press(deal_id(1))
    assert InvoicePush.objects.get(pk=reply["push_id"]).state == "pushed"
    assert sandbox.calls_to("GET", "/settings/taxauthorities")


def test_a_refused_create_is_retried_without_a_lookup(press, sandbox):
    sandbox.add_fault("rate_limit", method="POST", path="/invoices", count=2)
    _, reply = press(deal_id(2))
    assert InvoicePush.objects.get(pk=reply["push_id"]).state == "pushed"
    assert len(invoices(sandbox, US_ORG, deal_id(2))) == 1
    assert sandbox.calls_to("GET", r"/invoices$") == []  # a 429 means Books did not act


def test_in_process_retries_stop_within_the_button_timeout_and_a_later_press_resumes(
    press, sandbox, settings, monkeypatch
):
    from integration.services import retry

    settings.PUSH_RETRY_BASE_SECONDS = settings.PUSH_RETRY_MAX_SECONDS = 0.3
    monkeypatch.setattr(retry, "EAGER_RETRY_BUDGET_SECONDS", 1.0)
    sandbox.add_fault("error", method="POST", path="/invoices", count=100)
    started = time.monotonic()
    status, reply = press(deal_id(2))
    assert status == 202 and time.monotonic() - started < 5
    push = InvoicePush.objects.get(pk=reply["push_id"])
    assert push.state == "queued" and push.attempts >= 2
    sandbox.faults.clear()
    time.sleep(0.35)  # the retry time has come
    status, again = press(deal_id(2))
    push.refresh_from_db()
    assert (status, again["status"]) == (200, "pushed")
    assert push.state == "pushed" and len(invoices(sandbox, US_ORG, deal_id(2))) == 1


# --- faults found in review -------------------------------------------------------------------------
def test_several_invoices_with_the_deals_reference_stop_the_push(
    press, sandbox, settings, django_capture_on_commit_callbacks
):
    settings.PUSH_MAX_ATTEMPTS = 1
    sandbox.add_fault("drop", method="POST", path="/invoices")  # created, answer lost: the push gives up
    _, reply = press(deal_id(2))
    push = InvoicePush.objects.get(pk=reply["push_id"])
    assert push.state == "failed" and len(invoices(sandbox, US_ORG, deal_id(2))) == 1
    # Someone made another one by hand in Books with the same reference.
    [first] = invoices(sandbox, US_ORG, deal_id(2))
    copy = {**first, "invoice_id": "460000000009999", "invoice_number": "INV-09999"}
    sandbox.orgs[US_ORG].invoices[copy["invoice_id"]] = copy
    with django_capture_on_commit_callbacks(execute=True):
        push_replay(push=push, user=None)
    push.refresh_from_db()
    assert push.state == "failed" and not push.invoice_id
    assert f"Books already has 2 invoices with reference number {deal_id(2)}" in push.error
    assert "INV-00001, INV-09999" in push.error
    assert len(invoices(sandbox, US_ORG, deal_id(2))) == 2  # nothing new created, neither adopted


def test_the_daily_cap_pauses_the_organization_without_spending_attempts(press, sandbox, client):
    from integration.models import BooksPause

    sandbox.books_daily_limit = 0  # Books: code 45, sent with HTTP 429
    status, reply = press(deal_id(2))
    push = InvoicePush.objects.get(pk=reply["push_id"])
    assert status == 202 and push.state == "queued" and push.attempts == 0
    pause = BooksPause.objects.get(organization_id=US_ORG)
    assert pause.until >= timezone.now() + timedelta(minutes=59)
    assert push.next_attempt_at >= pause.until - timedelta(seconds=1)
    assert "daily API limit" in push.error and "resumes by itself" in push.error
    refused = len(sandbox.calls_to("GET", "/", org=US_ORG)) + len(sandbox.calls_to("POST", "/", org=US_ORG))

    press(deal_id(4))  # another deal of the same organization: held back without calling Books
    assert len(sandbox.calls_to("GET", "/", org=US_ORG)) + len(sandbox.calls_to("POST", "/", org=US_ORG)) == refused
    assert InvoicePush.objects.get(deal_id=deal_id(4)).attempts == 0

    client.force_login(UserFactory(groups=["reviewer"]))
    html = client.get("/").content.decode()
    assert f"Books' daily API limit is used up for organization {US_ORG}" in html
    assert press(deal_id(5))[0] == 202  # other organizations carry on


def test_books_concurrency_cap_1070_is_retried(press, sandbox):
    sandbox.books_concurrency_limit = 0  # every Books call: 429 with code 1070
    _, reply = press(deal_id(2))
    push = InvoicePush.objects.get(pk=reply["push_id"])
    assert push.state in ("queued", "failed") and "concurrent" in push.error.lower()
    assert not push.error.startswith("Books' daily")
    sandbox.books_concurrency_limit = 10
    from integration.models import BooksPause

    assert not BooksPause.objects.exists()  # not the daily cap


def test_a_press_while_zoho_auth_is_broken_says_so(press, sandbox):
    sandbox.revoke_refresh_token("sandbox-refresh-token")
    status, reply = press(deal_id(2))
    assert status == 503 and reply["status"] == "failed"
    assert "ZOHO_REFRESH_TOKEN" in reply["message"] and "being created" not in reply["message"]
    assert InvoicePush.objects.get(pk=reply["push_id"]).state == "failed"
    assert press(deal_id(2))[0] == 503  # pressing again does not pretend either


def test_decisions_are_refused_while_the_push_runs(press, sandbox):
    from integration.services.review import PushStateError

    _, reply = press(deal_id(8))
    push = InvoicePush.objects.get(pk=reply["push_id"])
    InvoicePush.objects.filter(pk=push.pk).update(state="running", running_since=timezone.now())
    push.refresh_from_db()
    user = UserFactory(groups=["finance-admin"])
    with pytest.raises(PushStateError, match="being worked on right now"):
        item_confirm_new(push=push, product_id="5725767000000300006", user=user)
    with pytest.raises(PushStateError, match="being worked on right now"):
        doohickey = next(i for i in sandbox.orgs[US_ORG].items.values() if i["sku"] == "DHK-5OO")
        item_link_choose(push=push, product_id="5725767000000300005", item_id=doohickey["item_id"], user=user)
    assert not ItemLink.objects.exists()


def test_a_reviewer_rejects_a_push_and_the_deal_can_be_pressed_again(press, sandbox):
    _, reply = press(deal_id(5))
    push = InvoicePush.objects.get(pk=reply["push_id"])
    from integration.services.review import PushStateError, push_reject

    with pytest.raises(PushStateError, match="Say why"):
        push_reject(push=push, user=UserFactory(groups=["reviewer"]), reason="  ")
    push_reject(push=push, user=UserFactory(username="rita", groups=["reviewer"]), reason="Wrong PO number")
    push.refresh_from_db()
    assert push.state == "rejected" and push.error == "Wrong PO number"
    assert push.events.filter(action__startswith="Rejected by").exists()
    [note] = sandbox.crm["Notes"].values()  # the AE is told, on the deal
    assert note["Parent_Id"] == {"module": {"api_name": "Deals"}, "id": deal_id(5)}
    assert note["Note_Title"] == "Invoice rejected by finance" and "rita rejected" in note["Note_Content"]
    assert "Wrong PO number" in note["Note_Content"]
    assert invoices(sandbox, UK_ORG, deal_id(5)) == []
    status, again = press(deal_id(5))
    assert status == 202 and again["push_id"] != push.pk and again["status"] == "pending_review"


def test_the_sweeper_resends_a_queued_push_whose_message_was_lost(
    sandbox, demo_config, django_capture_on_commit_callbacks
):
    from integration.services.press import push_request
    from integration.tasks import push_sweep_task

    with django_capture_on_commit_callbacks(execute=False):  # the message never reaches a worker
        push = push_request(deal_id=deal_id(2))
    assert push.state == "queued"
    InvoicePush.objects.filter(pk=push.pk).update(updated_at=timezone.now() - timedelta(minutes=5))
    assert push_sweep_task() == 1
    push.refresh_from_db()
    assert push.state == "pushed" and len(invoices(sandbox, US_ORG, deal_id(2))) == 1


def test_the_accounts_books_customer_id_is_adopted(press, sandbox):
    org = sandbox.orgs[US_ORG]
    contact = {**org.contacts["460000000000501"], "contact_id": "460000000000777", "contact_name": "GLX Corp (billing)"}
    org.contacts[contact["contact_id"]] = contact
    sandbox.crm["Accounts"][account_id(2)]["Books_Customer_Id"] = contact["contact_id"]
    _, reply = press(deal_id(2))
    push = InvoicePush.objects.get(pk=reply["push_id"])
    assert push.state == "pushed" and push.plan["customer_id"] == "460000000000777"
    assert sandbox.calls_to("GET", r"/contacts$", org=US_ORG) == []  # no search
    assert sandbox.calls_to("POST", r"/contacts$", org=US_ORG) == []  # no create


def test_an_inactive_customer_is_reactivated_not_duplicated(press, sandbox):
    org = sandbox.orgs[US_ORG]
    org.contacts["460000000000501"]["status"] = "inactive"
    _, reply = press(deal_id(1))
    push = InvoicePush.objects.get(pk=reply["push_id"])
    assert push.state == "pushed" and push.plan["customer_id"] == "460000000000501"
    assert org.contacts["460000000000501"]["status"] == "active"
    assert sandbox.calls_to("POST", r"/contacts$", org=US_ORG) == []


@pytest.mark.django_db(transaction=True)
def test_a_create_slower_than_the_deadline_still_makes_one_invoice(sandbox, demo_config, settings):
    """The sweeper takes the push from a worker still waiting on Books' answer to its create (the threads
    pool has no hard time limit). The next attempt must not look up too early and create a second one."""
    import threading

    from django.db import connection

    from integration.services.attempt import push_execute
    from integration.services.press import push_request

    sandbox.add_fault("slow", method="POST", path="/invoices", seconds=3)
    first = threading.Thread(target=lambda: (push_request(deal_id=deal_id(2)), connection.close()))
    first.start()
    deadline = time.monotonic() + 20
    while not BooksCreate.objects.filter(kind="invoice", key=deal_id(2)).exists():
        assert time.monotonic() < deadline, "the first attempt never reached the create"
        time.sleep(0.05)
    push = InvoicePush.objects.get(deal_id=deal_id(2))

    time.sleep(0.5)  # beyond any deadline: the sweeper re-queues the push from its (live) worker
    push_sweep(stale_after=timedelta(0))
    assert push_execute(push_id=push.pk) is not None  # a second worker: told to wait, not to create
    push.refresh_from_db()
    assert push.state == "queued" and len(invoices(sandbox, US_ORG, deal_id(2))) == 0

    first.join(timeout=30)
    push.refresh_from_db()
    assert push.invoice_id  # the slow create answered: recorded even though its run lost the push
    while push.state == "queued":
        push_execute(push_id=push.pk)
        push.refresh_from_db()
    assert push.state == "pushed", push.error
    assert len(invoices(sandbox, US_ORG, deal_id(2))) == 1
    assert sandbox.crm["Deals"][deal_id(2)]["Invoice_Id"] == push.invoice_id


def test_four_eyes_whoever_requested_a_push_cannot_approve_it(
    press, sandbox, settings, django_capture_on_commit_callbacks
):
    from integration.services.review import PushStateError

    ava = UserFactory(username="ava", email="ava@acme.example", groups=["reviewer"], is_superuser=True)
    _, reply = press(deal_id(5), user="AVA@acme.example")  # she pressed it in CRM
    push = InvoicePush.objects.get(pk=reply["push_id"])
    with pytest.raises(PushStateError, match="another reviewer must approve it"):
        push_approve(push=push, user=ava)
    push.refresh_from_db()
    assert push.state == "pending_review"
    settings.REVIEW_ALLOW_SELF_APPROVAL = True  # a team of one
    with django_capture_on_commit_callbacks(execute=True):
        push_approve(push=push, user=ava)
    push.refresh_from_db()
    assert push.state == "pushed"


def test_a_replayer_becomes_a_requester(press, sandbox):
    from integration.services.review import identities, push_requesters

    push = InvoicePushFactory(deal_id=deal_id(5), state="failed", requested_by="ava@acme.example")
    rob = UserFactory(username="rob", email="rob@acme.example", groups=["reviewer"])
    push_replay(push=push, user=rob)
    push.refresh_from_db()
    assert identities(rob) <= push_requesters(push)


def test_a_push_that_gives_up_tells_the_ae_on_the_deal(press, sandbox, settings):
    sandbox.add_fault("error", method="POST", path="/invoices", count=50)
    settings.PUSH_MAX_ATTEMPTS = 1
    _, reply = press(deal_id(2))
    push = InvoicePush.objects.get(pk=reply["push_id"])
    assert push.state == "failed" and push.error.startswith("Gave up after 1 attempts")
    [note] = sandbox.crm["Notes"].values()
    assert note["Note_Title"] == "Invoice not created" and "Gave up after 1 attempts" in note["Note_Content"]
    assert f"/pushes/{push.pk}/" in note["Note_Content"]
