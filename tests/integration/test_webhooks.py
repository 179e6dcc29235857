"""Books → CRM in one process: the webhook endpoint, the worker (eager) and the sandbox firing real
"Default payload" webhooks. The real-worker cases are in test_webhooks_e2e.py."""

from __future__ import annotations

import io
import itertools
import json
from decimal import Decimal

import pytest
from django.core.management import call_command

from integration.models import CliqPost, InvoicePush, InvoiceSync, WebhookDelivery
from sandbox.demo import US_ORG, deal_id
from tests.conftest import books_api

pytestmark = pytest.mark.django_db
URL = f"/api/books/webhook/{US_ORG}/"
DEAL = deal_id(2)  # Globex, a new customer, NY tax


@pytest.fixture
def invoice(press, hooks):
    """Globex's deal pushed to Books and marked sent; its invoice as Books has it."""
    _, reply = press(DEAL)
    push = InvoicePush.objects.get(pk=reply["push_id"])
    assert push.state == "pushed"
    hooks.outbox.clear()  # the creation webhook: not part of these tests
    hooks.books_demo_action(US_ORG, push.invoice_id, "send", {})
    return hooks.orgs[US_ORG].invoices[push.invoice_id]


def deal(sandbox) -> dict:
    return sandbox.crm["Deals"][DEAL]


def pay(sandbox, invoice, amount=None):
    data = {"amount": amount} if amount is not None else {}
    resp = sandbox.books_demo_action(US_ORG, invoice["invoice_id"], "pay", data)
    assert resp.status in (200, 201), resp.body
    sandbox.flush_webhooks()


def post(client, payload, *, token, org=US_ORG):
    headers = {"X-Webhook-Token": token} if token is not None else {}
    return client.post(
        f"/api/books/webhook/{org}/", json.dumps(payload), content_type="application/json", headers=headers
    )


# --- the endpoint ---------------------------------------------------------------------------------
def test_a_wrong_or_missing_token_is_refused_and_nothing_stored(client, sandbox, demo_config):
    body = {"invoice": {"invoice_id": "1", "status": "paid"}}
    assert post(client, body, token="wrong").status_code == 401
    assert post(client, body, token=None).status_code == 401
    assert WebhookDelivery.objects.count() == 0


def test_a_body_that_is_not_json_is_a_400_and_nothing_stored(client, settings, demo_config):
    resp = client.post(
        URL, "nope", content_type="application/json", headers={"X-Webhook-Token": settings.BOOKS_WEBHOOK_TOKEN}
    )
    assert resp.status_code == 400 and WebhookDelivery.objects.count() == 0


def test_unknown_organizations_and_kinds_are_acknowledged_and_ignored(client, settings, sandbox, demo_config):
    token = settings.BOOKS_WEBHOOK_TOKEN
    assert post(client, {"invoice": {"invoice_id": "1"}}, token=token, org="999").status_code == 200
    assert post(client, {"salesorder": {"salesorder_id": "1"}}, token=token).status_code == 200
    assert list(WebhookDelivery.objects.values_list("state", flat=True)) == ["ignored", "ignored"]
    assert [c for c in sandbox.calls if c["product"] == "books"] == []


def test_stored_deliveries_carry_no_secret(client, settings, hooks, invoice):
    pay(hooks, invoice)
    delivery = WebhookDelivery.objects.first()
    assert settings.BOOKS_WEBHOOK_TOKEN not in json.dumps([delivery.headers, delivery.payload])
    assert delivery.headers["X-Webhook-Token"] == "[redacted]"


# --- payments -----------------------------------------------------------------------------------------
def test_a_full_payment_marks_the_deal_paid_and_posts_once_to_cliq(hooks, invoice):
    pay(hooks, invoice)
    assert deal(hooks)["Payment_Status"] == "Paid"
    [message] = hooks.cliq_messages
    text = message["payload"]["text"]
    assert text.startswith("*Paid in full* — Globex annual order") and "Customer: Globex Corporation" in text
    assert f"Invoice {invoice['invoice_number']}" in text and "Left to pay: 0.00 USD" in text
    assert "/pushes/" in text


def test_void_and_overdue_follow_books(hooks, invoice, press):
    hooks.books_demo_action(US_ORG, invoice["invoice_id"], "overdue", {})
    hooks.flush_webhooks()
    assert deal(hooks)["Payment_Status"] == "Overdue"
    hooks.books_demo_action(US_ORG, invoice["invoice_id"], "void", {})
    hooks.flush_webhooks()
    assert deal(hooks)["Payment_Status"] == "Void"


def test_a_credit_note_and_a_refund_on_a_paid_invoice(hooks, invoice, client):
    pay(hooks, invoice)
    api = books_api(hooks)
    note = credit_note(api, invoice, 120)
    hooks.flush_webhooks()
    assert deal(hooks)["Credited_Amount"] == Decimal("120.00")
    api("POST", f"/creditnotes/{note['creditnote_id']}/refunds", {"amount": 45, "date": "2026-11-25"})
    hooks.flush_webhooks()
    assert (deal(hooks)["Credited_Amount"], deal(hooks)["Refunded_Amount"]) == (Decimal("120.00"), Decimal("45.00"))
    assert deal(hooks)["Payment_Status"] == "Paid"
    push = InvoicePush.objects.get(deal_id=DEAL)
    page = client.get(f"/pushes/{push.pk}/")
    assert page.status_code == 302  # login first
    from tests.factories import UserFactory

    client.force_login(UserFactory(groups=["reviewer"]))
    html = client.get(f"/pushes/{push.pk}/").content.decode()
    assert "CN-00001" in html and "45.00" in html and "Paid in full" in html


def credit_note(api, invoice: dict, amount: int) -> dict:
    """Raise a credit note in Books against the invoice (credit notes never come from CRM)."""
    body = {"customer_id": invoice["customer_id"], "line_items": [{"name": "Goodwill credit", "rate": amount}]}
    return api("POST", "/creditnotes", body, query={"invoice_id": invoice["invoice_id"]})["creditnote"]


# --- idempotency and order ---------------------------------------------------------------------------
def test_the_same_delivery_ten_times_changes_the_deal_once_and_posts_once(hooks, invoice):
    hooks.webhook_mode = "manual"
    hooks.books_demo_action(US_ORG, invoice["invoice_id"], "pay", {})
    events = list(hooks.outbox)
    for _ in range(10):
        hooks.outbox.extend(events)
        hooks.flush_webhooks()
    assert len([w for w in hooks.crm_writes if w["id"] == DEAL and w["fields"].get("Payment_Status")]) == 1
    assert len(hooks.cliq_messages) == 1
    assert CliqPost.objects.count() == 1


def test_a_stale_read_never_moves_the_deal_back_from_paid(hooks, invoice):
    pay(hooks, invoice)
    sync = InvoiceSync.objects.get()
    assert sync.payment_status == "Paid"
    # A lagging replica answers with the state before the payment but the same modification time: not older
    # (so not dropped as such), not newer — only the "never back from Paid" rule keeps the deal Paid.
    books = hooks.orgs[US_ORG].invoices[invoice["invoice_id"]]
    assert books["last_modified_time"] == sync.books_last_modified
    books["status"] = "partially_paid"
    hooks.emit_webhook(US_ORG, "invoice", {"invoice_id": invoice["invoice_id"], "status": "partially_paid"})
    hooks.flush_webhooks()
    assert deal(hooks)["Payment_Status"] == "Paid"
    assert InvoiceSync.objects.get().payment_status == "Paid"


def test_an_event_before_the_push_recorded_its_invoice_is_parked_then_applied(
    press, hooks, django_capture_on_commit_callbacks
):
    hooks.crm_locked.add(DEAL)  # the push creates the invoice but cannot finish
    _, reply = press(DEAL)
    push = InvoicePush.objects.get(pk=reply["push_id"])
    assert push.state == "failed" and push.invoice_id
    hooks.outbox.clear()
    hooks.books_demo_action(US_ORG, push.invoice_id, "pay", {})
    hooks.flush_webhooks()
    assert set(WebhookDelivery.objects.values_list("state", flat=True)) == {"parked"}
    hooks.crm_locked.clear()
    from integration.services.review import push_replay

    with django_capture_on_commit_callbacks(execute=True):
        push_replay(push=push, user=None)
    assert deal(hooks)["Payment_Status"] == "Paid"
    assert set(WebhookDelivery.objects.values_list("state", flat=True)) == {"processed"}


def test_a_cliq_failure_is_retried_and_never_blocks_the_crm_update(hooks, invoice):
    hooks.add_fault("error", path="/api/v2/", count=2)
    pay(hooks, invoice)
    assert deal(hooks)["Payment_Status"] == "Paid"
    post = CliqPost.objects.get()
    assert post.state == "sent" and post.attempts == 3 and len(hooks.cliq_messages) == 1


def test_a_dropped_webhook_is_healed_by_reconciliation(hooks, invoice, django_capture_on_commit_callbacks):
    hooks.webhook_url = ""  # Books loses every delivery
    hooks.outbox.clear()
    pay(hooks, invoice)
    assert deal(hooks)["Payment_Status"] in (None, "")
    with django_capture_on_commit_callbacks(execute=True):
        call_command("reconcile", stdout=io.StringIO())
    assert deal(hooks)["Payment_Status"] == "Paid" and len(hooks.cliq_messages) == 1
    writes = len(hooks.crm_writes)
    call_command("reconcile", stdout=io.StringIO())
    assert len(hooks.crm_writes) == writes  # nothing changed, nothing written


def test_a_redelivery_costs_one_books_call(hooks, invoice):
    hooks.webhook_mode = "manual"
    hooks.books_demo_action(US_ORG, invoice["invoice_id"], "pay", {})
    [invoice_event] = [e for e in hooks.outbox if e["kind"] == "invoice"][-1:]
    hooks.flush_webhooks()
    before = len(hooks.calls)
    hooks.outbox.append(invoice_event)
    hooks.flush_webhooks()
    assert [(c["method"], c["path"]) for c in hooks.calls[before:] if c["product"] == "books"] == [
        ("GET", f"/books/v3/invoices/{invoice['invoice_id']}")
    ]


def test_a_refund_that_does_not_name_its_credit_note_still_reaches_the_deal(hooks, invoice, settings, client):
    pay(hooks, invoice)
    api = books_api(hooks)
    note = credit_note(api, invoice, 50)
    hooks.flush_webhooks()
    hooks.webhook_mode = "manual"
    api("POST", f"/creditnotes/{note['creditnote_id']}/refunds", {"amount": 20, "date": "2026-11-25"})
    hooks.outbox.clear()  # Books' own delivery is lost; a bare one arrives instead
    hooks.emit_webhook(US_ORG, "creditnote_refund", {"creditnote_refund_id": "999", "amount": 20})
    hooks.flush_webhooks()
    assert deal(hooks)["Refunded_Amount"] == Decimal("20.00")


def test_a_payment_books_no_longer_shows_still_resyncs_its_invoice(hooks, invoice):
    pay(hooks, invoice)
    hooks.webhook_mode = "manual"
    hooks.orgs[US_ORG].invoices[invoice["invoice_id"]]["status"] = "void"  # changed in Books since
    hooks.orgs[US_ORG].invoices[invoice["invoice_id"]]["last_modified_time"] = "2099-01-01T00:00:00+0000"
    hooks.emit_webhook(US_ORG, "payment", {"payment_id": "123", "invoices": [{"invoice_id": invoice["invoice_id"]}]})
    hooks.flush_webhooks()
    assert deal(hooks)["Payment_Status"] == "Void"


# --- no field moves backwards, whatever Books serves -----------------------------------------------
def test_a_stale_read_never_moves_credits_or_refunds_back(hooks, invoice):
    pay(hooks, invoice)
    api = books_api(hooks)
    note = credit_note(api, invoice, 120)
    hooks.flush_webhooks()
    hooks.clock.advance(5)  # Books' timestamps have one-second resolution
    api("POST", f"/creditnotes/{note['creditnote_id']}/refunds", {"amount": 45, "date": "2026-11-25"})
    hooks.flush_webhooks()
    assert (deal(hooks)["Credited_Amount"], deal(hooks)["Refunded_Amount"]) == (Decimal("120.00"), Decimal("45.00"))
    writes = len(hooks.crm_writes)

    # A lagging read replica serves the credit note (and its refunds) as they were before the refund,
    # and then the invoice as it was before it was paid.
    hooks.add_fault("stale", method="GET", path="/creditnotes/", count=50)
    hooks.emit_webhook(US_ORG, "creditnote", {"creditnote_id": note["creditnote_id"]})
    hooks.flush_webhooks()
    hooks.add_fault("stale", method="GET", path="/invoices/", count=50)
    hooks.emit_webhook(US_ORG, "invoice", {"invoice_id": invoice["invoice_id"]})
    hooks.flush_webhooks()

    assert (deal(hooks)["Credited_Amount"], deal(hooks)["Refunded_Amount"]) == (Decimal("120.00"), Decimal("45.00"))
    assert deal(hooks)["Payment_Status"] == "Paid" and len(hooks.crm_writes) == writes
    sync = InvoiceSync.objects.get()
    assert [n["refunded"] for n in sync.creditnotes] == ["45.00"] and len(sync.payments) == 1


@pytest.mark.parametrize("order", list(itertools.permutations(["sent", "partially_paid", "paid"])))
def test_deliveries_in_any_order_with_books_lagging_end_paid(hooks, invoice, order):
    """Books' state moves with the deliveries: each one is read back as Books showed it when it fired
    (a read replica behind by one change), so an older delivery really reads older data."""
    hooks.webhook_mode = "manual"
    versions, events = {}, {}
    live = hooks.orgs[US_ORG].invoices
    for status, action, data in (("sent", "send", {}), ("partially_paid", "pay", {"amount": 100}), ("paid", "pay", {})):
        hooks.clock.advance(5)
        hooks.outbox.clear()
        hooks.books_demo_action(US_ORG, invoice["invoice_id"], action, data)
        events[status] = [e for e in hooks.outbox if e["kind"] == "invoice"][-1]
        versions[status] = hooks.versions[invoice["invoice_id"]][-1]
    hooks.outbox.clear()
    newest = live[invoice["invoice_id"]]
    for status in order:
        live[invoice["invoice_id"]] = versions[status]  # what Books serves while this delivery is processed
        hooks.outbox.append(events[status])
        hooks.flush_webhooks()
    live[invoice["invoice_id"]] = newest
    assert deal(hooks)["Payment_Status"] == "Paid"
    assert len(hooks.cliq_messages) == 2  # one per payment, whatever the order


def test_a_payload_id_never_becomes_another_books_path(
    hooks, invoice, client, settings, django_capture_on_commit_callbacks
):
    token = settings.BOOKS_WEBHOOK_TOKEN
    before = len(hooks.calls)
    for payload in (
        {"payment": {"payment_id": "../contacts", "invoices": [{"invoice_id": "../../items"}]}},
        {"invoice": {"invoice_id": "1?organization_id=60002002"}},
        {"creditnote": {"creditnote_id": "%2e%2e/contacts"}},
    ):
        with django_capture_on_commit_callbacks(execute=True):
            assert post(client, payload, token=token).status_code == 200
    paths = [c["path"] for c in hooks.calls[before:]]
    assert not [p for p in paths if "contacts" in p or "items" in p or "60002002" in p], paths
    assert not WebhookDelivery.objects.filter(state="received").exists()


def test_a_payment_whose_invoices_are_not_a_list_is_settled_not_stuck(
    client, settings, hooks, invoice, django_capture_on_commit_callbacks
):
    token = settings.BOOKS_WEBHOOK_TOKEN
    for invoices in ("x", [1, "2"], {"invoice_id": invoice["invoice_id"]}, None):
        with django_capture_on_commit_callbacks(execute=True):
            reply = post(client, {"payment": {"payment_id": "123", "invoices": invoices}}, token=token)
        assert reply.status_code == 200
    assert set(WebhookDelivery.objects.values_list("state", flat=True)) <= {"processed", "failed", "ignored"}


def test_waiting_for_our_own_limiter_spends_no_attempts(hooks, invoice, settings):
    # Two Books calls per 0.4 s. The invoice event costs two calls (the invoice,
    # its payments). Books fails the first two reads; between them, our limiter holds the delivery back twice.
    # Only the two failures are attempts: a delivery has three, so it goes through.
    from integration import ratelimit

    hooks.webhook_mode = "manual"
    hooks.books_demo_action(US_ORG, invoice["invoice_id"], "pay", {})
    [event] = [e for e in hooks.outbox if e["kind"] == "invoice"][-1:]
    hooks.outbox[:] = [event]
    settings.BOOKS_RATE_LIMIT_PER_MINUTE = 2
    settings.BOOKS_RATE_LIMIT_WINDOW_SECONDS = 0.4
    # A call may wait a little for a slot (as in production, where it waits up to 20 s), but not for a whole
    # window: a sync of two calls then never starves on a restart, and the full window still holds it back.
    settings.BOOKS_RATE_LIMIT_MAX_WAIT = 0.3
    hooks.add_fault("error", method="GET", path=f"/invoices/{invoice['invoice_id']}", count=2)
    ratelimit.reset()
    ratelimit.books_acquire(US_ORG, max_wait=0)
    ratelimit.books_acquire(US_ORG, max_wait=0)  # the window is full when the delivery starts
    hooks.flush_webhooks()
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == "processed", delivery.note
    assert deal(hooks)["Payment_Status"] == "Paid"


def test_a_delivery_fails_visibly_after_its_last_attempt(hooks, invoice):
    hooks.add_fault("error", method="GET", path=f"/invoices/{invoice['invoice_id']}", count=100)
    hooks.outbox.clear()
    hooks.emit_webhook(US_ORG, "invoice", {"invoice_id": invoice["invoice_id"]})
    hooks.flush_webhooks()
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == "failed" and delivery.note.startswith("Gave up after 3 attempts:")


def test_a_delivery_parked_as_its_push_completed_is_released_by_reconciliation(
    hooks, invoice, django_capture_on_commit_callbacks
):
    # The race's outcome: a delivery parked just after its push released the parked ones.
    delivery = WebhookDelivery.objects.create(
        organization_id=US_ORG,
        kind="invoice",
        entity_id=invoice["invoice_id"],
        payload={"invoice": {"invoice_id": invoice["invoice_id"]}},
        headers={},
        state="parked",
        parked_invoice_id=invoice["invoice_id"],
    )
    hooks.books_demo_action(US_ORG, invoice["invoice_id"], "overdue", {})
    hooks.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("reconcile", stdout=io.StringIO())
    delivery.refresh_from_db()
    assert delivery.state == "processed" and deal(hooks)["Payment_Status"] == "Overdue"


# --- Cliq: at most one post per payment ------------------------------------------------------------
def test_a_cliq_post_whose_answer_was_lost_is_not_sent_again(hooks, invoice, client):
    hooks.add_fault("drop", path="/api/v2/")  # Cliq takes the message, the connection drops before the answer
    pay(hooks, invoice)
    assert len(hooks.cliq_messages) == 1
    post_row = CliqPost.objects.get()
    assert post_row.state == "unconfirmed" and post_row.attempts == 1
    from tests.factories import UserFactory

    client.force_login(UserFactory(groups=["reviewer"]))
    html = client.get(f"/pushes/{post_row.push_id}/").content.decode()
    assert "unconfirmed" in html.lower() or "Unconfirmed" in html


def test_cliq_is_skipped_without_a_url(hooks, invoice, settings):
    settings.CLIQ_WEBHOOK_URL = ""
    pay(hooks, invoice)
    assert deal(hooks)["Payment_Status"] == "Paid"
    assert CliqPost.objects.get().state == "skipped" and hooks.cliq_messages == []


# --- credit notes ------------------------------------------------------------------------------------
def test_credits_applied_from_a_credit_note_count_and_void_ones_do_not(hooks, invoice):
    api = books_api(hooks)
    floating = api(
        "POST",
        "/creditnotes",
        {"customer_id": invoice["customer_id"], "line_items": [{"name": "Loyalty credit", "rate": 30}]},
    )["creditnote"]
    hooks.flush_webhooks()
    assert deal(hooks).get("Credited_Amount") in (None, Decimal("0.00"))  # not against this invoice (yet)
    api(
        "POST",
        f"/creditnotes/{floating['creditnote_id']}/invoices",
        {"invoices": [{"invoice_id": invoice["invoice_id"], "amount_applied": 30}]},
    )
    hooks.flush_webhooks()
    assert deal(hooks)["Credited_Amount"] == Decimal("30.00")

    mistake = credit_note(api, invoice, 70)
    hooks.flush_webhooks()
    assert deal(hooks)["Credited_Amount"] == Decimal("100.00")
    hooks.clock.advance(5)
    api("POST", f"/creditnotes/{mistake['creditnote_id']}/status/void")
    hooks.flush_webhooks()
    assert deal(hooks)["Credited_Amount"] == Decimal("30.00")


def test_the_deliveries_screen_lists_and_retries_failed_deliveries_and_posts(
    hooks, invoice, client, django_capture_on_commit_callbacks
):
    from tests.factories import UserFactory

    hooks.add_fault("error", method="GET", path=f"/invoices/{invoice['invoice_id']}", count=100)
    hooks.outbox.clear()
    hooks.emit_webhook(US_ORG, "invoice", {"invoice_id": invoice["invoice_id"]})
    hooks.flush_webhooks()
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == "failed"
    client.force_login(UserFactory())
    assert client.get("/deliveries/").status_code == 403  # no role, no data
    client.force_login(UserFactory(groups=["reviewer"]))
    page = client.get("/deliveries/?state=failed").content.decode()
    # The row names the invoice by its number, links to its push and to Books; the payload is behind a summary.
    row = page.split("<tbody>")[1].split("</tr>")[0]
    assert f"Invoice {invoice['invoice_number']}" in row and f">{invoice['invoice_number']}</a>" in row
    assert f"/app/{US_ORG}#/invoices/{invoice['invoice_id']}" in row
    assert "Gave up after 3 attempts" in page and "Retry" in page
    hooks.faults.clear()
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(f"/deliveries/{delivery.pk}/retry/", follow=True).content.decode()
    assert f"Delivery #{delivery.pk} is being processed again." in done
    delivery.refresh_from_db()
    assert delivery.state == "processed"
    assert (
        "has not failed; nothing to retry"
        in client.post(f"/deliveries/{delivery.pk}/retry/", follow=True).content.decode()
    )

    hooks.add_fault("error", path="/api/v2/", count=100)
    pay(hooks, invoice)
    post_row = CliqPost.objects.get()
    assert post_row.state == "failed"
    hooks.faults.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/cliq/{post_row.pk}/retry/")
    post_row.refresh_from_db()
    assert post_row.state == "sent" and len(hooks.cliq_messages) == 1


def test_a_voided_invoice_is_replaced_with_a_new_one_for_the_deal(
    hooks, invoice, client, press, django_capture_on_commit_callbacks
):
    from tests.factories import UserFactory

    hooks.books_demo_action(US_ORG, invoice["invoice_id"], "void", {})
    hooks.flush_webhooks()
    assert deal(hooks)["Payment_Status"] == "Void"
    status, reply = press(DEAL)  # the AE presses again: told what happened, not "already exists"
    assert status == 200 and "was voided in Books" in reply["message"]
    old = InvoicePush.objects.get(pk=reply["push_id"])
    client.force_login(UserFactory(groups=["reviewer"]))
    page = client.get(f"/pushes/{old.pk}/").content.decode()
    assert "Start a new invoice for this deal" in page
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(f"/pushes/{old.pk}/reissue/", follow=True).content.decode()
    assert "Started push #" in done
    old.refresh_from_db()
    new = InvoicePush.objects.exclude(pk=old.pk).get(deal_id=DEAL)
    assert old.state == "voided" and new.state == "pushed" and new.invoice_id != old.invoice_id
    live = [i for i in hooks.orgs[US_ORG].invoices.values() if i["reference_number"] == DEAL and i["status"] != "void"]
    assert [i["invoice_id"] for i in live] == [new.invoice_id]
    assert deal(hooks)["Invoice_Id"] == new.invoice_id
    refused = client.post(f"/pushes/{new.pk}/reissue/", follow=True).content.decode()
    assert "is not void in Books" in refused


def test_the_home_strip_shows_what_is_owed_per_currency(hooks, invoice, client):
    from tests.factories import UserFactory

    pay(hooks, invoice, 100)
    sync = InvoiceSync.objects.get()
    assert (sync.currency, sync.total, sync.balance) == ("USD", invoice["total"], invoice["total"] - 100)
    client.force_login(UserFactory(groups=["reviewer"]))
    page = client.get("/").content.decode()
    assert f"<b>${sync.balance:,.2f}</b> unpaid, of which <b>$0.00</b> overdue" in page


@pytest.mark.django_db(transaction=True)
def test_a_reading_taken_while_another_sync_writes_is_read_again(hooks, invoice):
    """Found by the day benchmark: sync A (a credit note's delivery) has claimed the invoice and is writing CRM;
    sync B (a payment's) reads meanwhile — before A has recorded the credit note — and applies after A finished.
    B's reading knows no credit note; applied, it would put Credited_Amount back to 0. It must be read again."""
    import threading
    import time

    from integration.services.webhooks import invoice_sync

    hooks.webhook_mode = "manual"
    pay(hooks, invoice, 100)
    invoice_sync(organization_id=US_ORG, invoice_id=invoice["invoice_id"])
    note = credit_note(books_api(hooks), invoice, 30)
    hooks.add_fault("slow", method="PUT", path="/Deals", seconds=1.5)  # A's CRM write takes a while
    errors: list[BaseException] = []

    def sync(**kwargs) -> None:
        try:
            invoice_sync(organization_id=US_ORG, invoice_id=invoice["invoice_id"], **kwargs)
        except BaseException as exc:
            errors.append(exc)

    a = threading.Thread(target=sync, kwargs={"creditnote_ids": [note["creditnote_id"]]})
    a.start()
    claimed = InvoiceSync.objects.filter(invoice_id=invoice["invoice_id"], writing_until__isnull=False)
    deadline = time.monotonic() + 10
    while not claimed.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert claimed.exists(), "A never claimed the invoice"
    hooks.books_demo_action(US_ORG, invoice["invoice_id"], "pay", {})  # the rest is paid: B has news to apply
    hooks.add_fault("slow", method="GET", path=f"/invoices/{invoice['invoice_id']}", seconds=2.5)  # B reads slowly
    b = threading.Thread(target=sync)
    b.start()
    a.join(timeout=30)
    b.join(timeout=30)
    assert not errors, errors
    sync_row = InvoiceSync.objects.get(invoice_id=invoice["invoice_id"])
    assert deal(hooks)["Credited_Amount"] == Decimal("30.00") and deal(hooks)["Payment_Status"] == "Paid"
    assert [n["creditnote_id"] for n in sync_row.creditnotes] == [note["creditnote_id"]]
    assert sync_row.credited_amount == Decimal("30.00")
