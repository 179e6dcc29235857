"""The sandbox's own rules, checked at its HTTP surface with plain httpx (no project client code)."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.sandbox.conftest import books, token

US, UK = "60001001", "60002002"


# --- OAuth -------------------------------------------------------------------------------------
def test_oauth_errors_come_in_a_200_body(client, sb):
    wrong_client = client.post(
        "/oauth/v2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": "x",
            "client_secret": "y",
            "refresh_token": "sandbox-refresh-token",
        },
    )
    assert (wrong_client.status_code, wrong_client.json()) == (200, {"error": "invalid_client"})
    sb.revoke_refresh_token("sandbox-refresh-token")
    revoked = client.post(
        "/oauth/v2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": "sandbox-client-id",
            "client_secret": "sandbox-client-secret",
            "refresh_token": "sandbox-refresh-token",
        },
    )
    assert (revoked.status_code, revoked.json()) == (200, {"error": "invalid_code"})


def test_oauth_success_has_zohos_shape(client):
    body = client.post(
        "/oauth/v2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": "sandbox-client-id",
            "client_secret": "sandbox-client-secret",
            "refresh_token": "sandbox-refresh-token",
        },
    ).json()
    assert body["access_token"].startswith("1000.") and body["expires_in"] == 3600 and body["token_type"] == "Bearer"
    assert "refresh_token" not in body


def test_refreshes_are_throttled_after_ten_in_ten_minutes(client, sb):
    for _ in range(10):
        token(client)
    throttled = client.post(
        "/oauth/v2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": "sandbox-client-id",
            "client_secret": "sandbox-client-secret",
            "refresh_token": "sandbox-refresh-token",
        },
    )
    assert throttled.status_code == 400 and throttled.json()["error"] == "Access Denied"
    sb.clock.advance(601)
    assert token(client)


def test_the_eleventh_live_token_silently_kills_the_oldest(client, sb):
    sb.refresh_limit = 100
    first = token(client)
    for _ in range(10):
        token(client)
    resp = client.get(
        "/books/v3/settings/taxes",
        params={"organization_id": US},
        headers={"Authorization": f"Zoho-oauthtoken {first}"},
    )
    assert resp.status_code == 401 and resp.json()["code"] == 57


def test_tokens_expire_after_an_hour(api, sb):
    assert books(api, "GET", "/settings/taxes").status_code == 200
    sb.clock.advance(3600)
    assert books(api, "GET", "/settings/taxes").json() == {
        "code": 57,
        "message": "You are not authorized to perform this operation",
    }
    crm = api.get("/crm/v8/Deals/5725767000000400001")
    assert crm.status_code == 401 and crm.json()["code"] == "INVALID_TOKEN"


# --- Books -------------------------------------------------------------------------------------
def test_items_list_hides_inactive_items_unless_asked_and_pages_by_200(api):
    page1 = books(api, "GET", "/items").json()
    assert page1["code"] == 0 and len(page1["items"]) == 200 and page1["page_context"]["has_more_page"] is True
    page2 = books(api, "GET", "/items", params={"page": 2}).json()
    active = page1["items"] + page2["items"]
    assert page2["page_context"]["has_more_page"] is False
    assert all(i["status"] == "active" for i in active) and len(active) == 223
    everything = [
        *books(api, "GET", "/items", params={"filter_by": "Status.All"}).json()["items"],
        *books(api, "GET", "/items", params={"filter_by": "Status.All", "page": 2}).json()["items"],
    ]
    assert len(everything) == 247
    assert "Sprocket" in {i["name"] for i in everything} - {i["name"] for i in active}


def test_items_have_no_sku_filter(api):
    # Books has no documented sku filter: an unknown parameter filters nothing.
    assert len(books(api, "GET", "/items", params={"sku": "WID-100"}).json()["items"]) == 200


def test_the_per_minute_limit_is_per_organization_with_code_44(api, sb):
    sb.books_rate_limit_per_minute = 2
    assert [books(api, "GET", "/settings/taxes").status_code for _ in range(3)] == [200, 200, 429]
    limited = books(api, "GET", "/settings/taxes")
    assert limited.json()["code"] == 44 and "Retry-After" not in limited.headers
    sb.books_send_retry_after = True
    assert int(books(api, "GET", "/settings/taxes").headers["Retry-After"]) <= 60
    assert books(api, "GET", "/settings/taxes", org=UK).status_code == 200


def test_the_daily_cap_answers_code_45(api, sb):
    sb.books_daily_limit = 1
    books(api, "GET", "/settings/taxes")
    assert books(api, "GET", "/settings/taxes").json()["code"] == 45


def new_customer(api, name="Test Customer", org=US):
    return books(api, "POST", "/contacts", org=org, json={"contact_name": name, "contact_type": "customer"}).json()[
        "contact"
    ]


def taxes(api, org=US):
    """Every page of the organization's taxes, by name."""
    rows, page = [], 1
    while True:
        body = books(api, "GET", "/settings/taxes", org=org, params={"page": page}).json()
        rows += body["taxes"]
        if not body["page_context"]["has_more_page"]:
            return {t["tax_name"]: t for t in rows}
        page += 1


def an_item(api, org=US):
    return books(api, "GET", "/items", org=org).json()["items"][0]


def test_a_taxed_line_whose_tax_has_no_authority_is_refused(api, sb):
    customer = new_customer(api)
    resp = books(
        api,
        "POST",
        "/invoices",
        json={
            "customer_id": customer["contact_id"],
            "line_items": [{"item_id": an_item(api)["item_id"], "tax_id": taxes(api)["Sales Tax 7.25%"]["tax_id"]}],
        },
    )
    assert resp.status_code == 400 and resp.json()["code"] == 4
    assert "not associated with a tax authority" in resp.json()["message"]
    assert sb.orgs[US].invoices == {}


def test_a_line_tax_from_another_authority_than_the_invoices_is_refused(api):
    customer, t = new_customer(api), taxes(api)
    resp = books(
        api,
        "POST",
        "/invoices",
        json={
            "customer_id": customer["contact_id"],
            "tax_authority_id": t["NY Sales Tax"]["tax_authority_id"],
            "line_items": [{"item_id": an_item(api)["item_id"], "tax_id": t["CA Sales Tax"]["tax_id"]}],
        },
    )
    assert resp.status_code == 400 and "does not belong to the tax authority" in resp.json()["message"]


def test_invoices_are_numbered_have_urls_and_reference_numbers_are_not_unique(api):
    customer, ca = new_customer(api), taxes(api)["CA Sales Tax"]
    payload = {
        "customer_id": customer["contact_id"],
        "reference_number": "DEAL-1",
        "date": "2026-11-25",
        "line_items": [{"item_id": an_item(api)["item_id"], "quantity": 2, "rate": 10, "tax_id": ca["tax_id"]}],
    }
    first = books(api, "POST", "/invoices", json=payload)
    second = books(api, "POST", "/invoices", json=payload)  # Books has no idempotency: a second invoice
    assert first.status_code == second.status_code == 201
    a, b = first.json()["invoice"], second.json()["invoice"]
    assert (a["invoice_number"], b["invoice_number"]) == ("INV-00001", "INV-00002")
    assert a["status"] == "draft" and a["total"] == 21.45 and a["due_date"] == "2026-12-25"
    assert a["invoice_url"] != b["invoice_url"]
    found = books(api, "GET", "/invoices", params={"reference_number": "DEAL-1"}).json()["invoices"]
    assert len(found) == 2
    portal = api.get(a["invoice_url"].removeprefix("http://zoho-sandbox.test"))
    assert portal.status_code == 200 and "INV-00001" in portal.text


def test_duplicate_contact_names_are_refused_but_near_duplicates_are_not(api):
    assert books(api, "POST", "/contacts", json={"contact_name": "initech llc"}).json()["code"] == 3062
    assert books(api, "POST", "/contacts", json={"contact_name": "Initech, LLC"}).status_code == 201  # the foot-gun


def test_errors_inside_a_2xx_never_happen_silently(api):
    resp = books(api, "GET", "/invoices/1")
    assert resp.status_code == 404 and resp.json() == {"code": 1002, "message": "Invoice does not exist."}
    assert books(api, "GET", "/nope").json()["code"] == 5


def sent_invoice(api, total_rate=100):
    customer = new_customer(api, "Payer Inc")
    inv = books(
        api,
        "POST",
        "/invoices",
        json={
            "customer_id": customer["contact_id"],
            "reference_number": "D-PAY",
            "line_items": [{"name": "Service", "rate": total_rate}],
        },
    ).json()["invoice"]
    assert books(api, "POST", f"/invoices/{inv['invoice_id']}/status/sent").status_code == 200
    return customer, inv


def pay(api, customer, inv, amount):
    return books(
        api,
        "POST",
        "/customerpayments",
        json={
            "customer_id": customer["contact_id"],
            "amount": amount,
            "payment_mode": "banktransfer",
            "invoices": [{"invoice_id": inv["invoice_id"], "amount_applied": amount}],
        },
    )


def test_payments_move_the_invoice_and_fire_webhooks_with_the_token(api, sb):
    seen = []
    sb.webhook_url = "http://bridge.test/api/books/webhook/{organization_id}/"
    sb.webhook_token = "hook-token"
    sb.webhook_sender = lambda url, headers, body: seen.append((url, headers, json.loads(body))) or 200
    customer, inv = sent_invoice(api)
    assert pay(api, customer, inv, 40).status_code == 201
    assert books(api, "GET", f"/invoices/{inv['invoice_id']}").json()["invoice"]["status"] == "partially_paid"
    assert pay(api, customer, inv, 70).json()["code"] == 4  # more than the balance
    pay(api, customer, inv, 60)
    current = books(api, "GET", f"/invoices/{inv['invoice_id']}").json()["invoice"]
    assert (current["status"], current["balance"]) == ("paid", 0)
    assert len(books(api, "GET", f"/invoices/{inv['invoice_id']}/payments").json()["payments"]) == 2
    sb.flush_webhooks()
    kinds = [next(iter(body)) for _, _, body in seen]
    assert kinds == ["invoice", "invoice", "payment", "invoice", "payment", "invoice"]
    assert all(url == f"http://bridge.test/api/books/webhook/{US}/" for url, _, _ in seen)
    assert all(h["X-Webhook-Token"] == "hook-token" for _, h, _ in seen)
    assert seen[-1][2]["invoice"]["status"] == "paid"


def test_draft_invoices_take_no_payment(api):
    customer = new_customer(api, "Draft Co")
    inv = books(
        api, "POST", "/invoices", json={"customer_id": customer["contact_id"], "line_items": [{"name": "x", "rate": 5}]}
    ).json()["invoice"]
    assert pay(api, customer, inv, 5).status_code == 400


def test_credit_notes_apply_and_refund(api):
    customer, inv = sent_invoice(api, 100)
    pay(api, customer, inv, 100)
    note = books(
        api,
        "POST",
        "/creditnotes",
        params={"invoice_id": inv["invoice_id"]},  # credit-notes.yml: a query parameter
        json={"customer_id": customer["contact_id"], "line_items": [{"name": "Goodwill", "rate": 30}]},
    ).json()["creditnote"]
    assert (note["creditnote_number"], note["status"], note["balance"]) == ("CN-00001", "open", 30)
    # The invoice it was raised against is in invoices[]; there is no top-level invoice_id, nor (in the detail)
    # a last_modified_time: created_time and updated_time instead.
    assert note["invoices"] == [{"invoice_id": inv["invoice_id"], "invoice_number": inv["invoice_number"], "amount": 0}]
    assert "invoice_id" not in note and "last_modified_time" not in note and note["updated_time"]
    refund = books(
        api, "POST", f"/creditnotes/{note['creditnote_id']}/refunds", json={"amount": 30, "date": "2026-11-25"}
    )
    assert refund.status_code == 200 and refund.json()["creditnote_refund"]["amount"] == 30
    closed = books(api, "GET", f"/creditnotes/{note['creditnote_id']}").json()["creditnote"]
    assert (closed["status"], closed["balance"]) == ("closed", 0)
    refunds = books(api, "GET", f"/creditnotes/{note['creditnote_id']}/refunds").json()["creditnote_refunds"]
    # List rows carry amount_fcy (the credit note's currency) and amount_bcy (the base currency), never amount.
    assert [(r["amount_fcy"], r["amount_bcy"]) for r in refunds] == [(30, 30)] and "amount" not in refunds[0]
    one = books(api, "GET", f"/creditnotes/{note['creditnote_id']}/refunds/{refunds[0]['creditnote_refund_id']}")
    assert one.json()["creditnote_refund"]["amount"] == 30
    listed = books(api, "GET", "/creditnotes").json()["creditnotes"]
    assert listed[0]["last_modified_time"] and "invoices" not in listed[0]


def test_a_credit_applied_to_an_unpaid_invoice_reduces_its_balance(api):
    customer, inv = sent_invoice(api, 100)
    note = books(
        api,
        "POST",
        "/creditnotes",
        json={"customer_id": customer["contact_id"], "line_items": [{"name": "Discount", "rate": 25}]},
    ).json()["creditnote"]
    applied = books(
        api,
        "POST",
        f"/creditnotes/{note['creditnote_id']}/invoices",
        json={"invoices": [{"invoice_id": inv["invoice_id"], "amount_applied": 25}]},
    )
    assert applied.status_code == 201
    current = books(api, "GET", f"/invoices/{inv['invoice_id']}").json()["invoice"]
    assert (current["status"], current["balance"], current["credits_applied"]) == ("partially_paid", 75, 25)
    credits = books(api, "GET", f"/invoices/{inv['invoice_id']}/creditsapplied").json()["credits"]
    assert credits[0]["creditnote_id"] == note["creditnote_id"]


def test_void_and_overdue(api, sb):
    _, inv = sent_invoice(api)
    sb.advance_clock(31 * 86400)
    api.headers["Authorization"] = f"Zoho-oauthtoken {token(api)}"  # the clock moved past the token's hour
    assert books(api, "GET", f"/invoices/{inv['invoice_id']}").json()["invoice"]["status"] == "overdue"
    assert books(api, "POST", f"/invoices/{inv['invoice_id']}/status/void").status_code == 200
    assert books(api, "GET", f"/invoices/{inv['invoice_id']}").json()["invoice"]["status"] == "void"


def test_invoices_can_be_listed_by_last_modified_time(api, sb):
    customer, inv = sent_invoice(api)
    stamp = sb.stamp()
    sb.clock.advance(60)
    pay(api, customer, inv, 10)
    changed = books(api, "GET", "/invoices", params={"last_modified_time": stamp}).json()["invoices"]
    assert [i["invoice_id"] for i in changed] == [inv["invoice_id"]]
    sb.clock.advance(60)
    assert books(api, "GET", "/invoices", params={"last_modified_time": sb.stamp()}).json()["invoices"] == []


# --- faults --------------------------------------------------------------------------------------
def test_an_error_fault_fails_without_acting(api, sb):
    customer = new_customer(api)
    sb.add_fault("error", method="POST", path="/invoices", count=2)
    payload = {"customer_id": customer["contact_id"], "line_items": [{"name": "x", "rate": 1}]}
    assert [books(api, "POST", "/invoices", json=payload).status_code for _ in range(3)] == [500, 500, 201]
    assert len(sb.orgs[US].invoices) == 1


def test_a_timeout_fault_raises_a_read_timeout_in_process(api, sb):
    sb.add_fault("timeout", path="/settings/taxes")
    with pytest.raises(httpx.ReadTimeout):
        books(api, "GET", "/settings/taxes")


def test_faults_and_settings_over_the_control_api(client, sb):
    assert client.post("/__sandbox__/faults", json={"kind": "error", "path": "/items", "count": 3}).status_code == 201
    assert client.post("/__sandbox__/faults", json={"kind": "explode"}).status_code == 400
    assert client.get("/__sandbox__/faults").json()["faults"][0]["count"] == 3
    assert (
        client.patch("/__sandbox__/settings", json={"books_rate_limit_per_minute": 5}).json()[
            "books_rate_limit_per_minute"
        ]
        == 5
    )
    assert client.patch("/__sandbox__/settings", json={"nope": 1}).status_code == 400
    assert client.delete("/__sandbox__/faults").status_code == 200 and sb.faults == []
    assert client.get("/__sandbox__/").json()["organizations"][US]["items"] == 247


def test_the_demo_pay_action_moves_money(client, api, sb):
    customer = new_customer(api)
    inv = books(
        api,
        "POST",
        "/invoices",
        json={"customer_id": customer["contact_id"], "line_items": [{"name": "x", "rate": 80}]},
    ).json()["invoice"]
    assert (
        client.post(f"/__sandbox__/books/{US}/invoices/{inv['invoice_id']}/pay", json={"amount": 30}).status_code == 201
    )
    assert sb.orgs[US].invoices[inv["invoice_id"]]["status"] == "partially_paid"
    client.post(f"/__sandbox__/books/{US}/invoices/{inv['invoice_id']}/pay")
    assert sb.orgs[US].invoices[inv["invoice_id"]]["status"] == "paid"


# --- CRM and Cliq ---------------------------------------------------------------------------------
def test_crm_reads_answer_204_for_nothing_and_updates_report_per_record(api, sb):
    assert api.get("/crm/v8/Deals/42").status_code == 204
    assert api.get("/crm/v8/Products", params={"ids": "1,2"}).status_code == 204
    resp = api.put(
        "/crm/v8/Deals",
        json={"data": [{"id": "5725767000000400001", "Invoice_Id": "1"}, {"id": "42", "Invoice_Id": "2"}]},
    )
    rows = resp.json()["data"]
    assert resp.status_code == 200 and [r["status"] for r in rows] == ["success", "error"]
    assert rows[1]["code"] == "INVALID_DATA"
    assert api.get("/crm/v8/Nope/1").json()["code"] == "INVALID_MODULE"
    assert api.get("/crm/v2/Deals/5725767000000400001").json()["data"][0]["Invoice_Id"] == "1"


def test_crm_without_a_token_is_an_authentication_failure(client):
    assert client.get("/crm/v8/Deals/5725767000000400001").json()["code"] == "AUTHENTICATION_FAILURE"


def test_cliq_needs_the_zapikey_and_a_text(client, sb):
    url = "/api/v2/channelsbyname/payments/message"
    assert client.post(url, params={"zapikey": "sandbox-zapikey"}, json={"text": "hi"}).status_code == 204
    assert client.post(url, params={"zapikey": "bad"}, json={"text": "hi"}).status_code == 401
    assert client.post(url, params={"zapikey": "sandbox-zapikey"}, json={}).status_code == 400
    assert [m["payload"]["text"] for m in sb.cliq_messages] == ["hi"]


# --- over HTTP ------------------------------------------------------------------------------------
def test_over_http_a_dropped_create_closes_the_connection(http_sandbox):
    with httpx.Client(base_url=http_sandbox.base_url, timeout=5) as wire:
        wire.headers["Authorization"] = f"Zoho-oauthtoken {token(wire)}"
        customer = new_customer(wire, "Wire Co")
        wire.post("/__sandbox__/faults", json={"kind": "drop", "method": "POST", "path": "/invoices"})
        with pytest.raises(httpx.RemoteProtocolError):
            books(
                wire,
                "POST",
                "/invoices",
                json={"customer_id": customer["contact_id"], "line_items": [{"name": "x", "rate": 1}]},
            )
        assert len(books(wire, "GET", "/invoices").json()["invoices"]) == 1
        wire.post("/__sandbox__/faults", json={"kind": "timeout", "path": "/settings/taxes", "seconds": 2})
        with pytest.raises(httpx.ReadTimeout):
            books(wire, "GET", "/settings/taxes", timeout=0.5)
        assert "Zoho sandbox" in wire.get("/").text
