"""The sandbox says what Zoho's documents say on the points the bridge once got wrong: scopes, contact search,
paginated and inactive taxes, currencies, time zones, rounding, write-offs, refund and credit-note shapes, CRM
field metadata, and the GCC's treatment words. At its HTTP surface, with plain httpx."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import pytest

from sandbox import Sandbox, SandboxTransport
from sandbox.books import CONTACT_LIST_FIELDS, new_org, new_tax
from sandbox.state import scope_allows
from tests.sandbox.conftest import books, token
from tests.sandbox.test_sandbox import new_customer, sent_invoice, taxes

US, UK, IN = "60001001", "60002002", "60003003"


def at(sb: Sandbox, instant: str) -> None:
    """Set the sandbox clock to `instant` (ISO, UTC)."""
    sb.clock.offset = datetime.fromisoformat(instant).replace(tzinfo=UTC).timestamp() - time.time()


# --- scopes ---------------------------------------------------------------------------------------
def test_scopes_follow_zohos_rules():
    assert scope_allows(["ZohoBooks.invoices.ALL"], "ZohoBooks.invoices.CREATE")
    assert scope_allows(["ZohoBooks.fullaccess.all"], "ZohoBooks.settings.CREATE")
    assert scope_allows(["ZohoCRM.modules.ALL"], "ZohoCRM.modules.deals.UPDATE")
    assert scope_allows(["zohocrm.settings.all"], "ZohoCRM.settings.fields.READ")
    assert not scope_allows(["ZohoBooks.settings.READ"], "ZohoBooks.settings.CREATE")
    assert not scope_allows(["ZohoCRM.modules.deals.ALL"], "ZohoCRM.modules.accounts.READ")
    assert not scope_allows(["ZohoBooks.items.ALL"], "ZohoBooks.settings.CREATE")  # no such family in Books


def test_a_call_outside_the_granted_scopes_is_refused_as_zoho_does():
    sb = Sandbox(demo=True, scopes=["ZohoBooks.settings.READ", "ZohoCRM.modules.deals.READ"])
    api = httpx.Client(transport=SandboxTransport(sb), base_url=sb.base_url)
    api.headers["Authorization"] = f"Zoho-oauthtoken {token(api)}"
    assert books(api, "GET", "/items").status_code == 200
    # Books answers a missing scope exactly like an expired token.
    refused = books(api, "POST", "/items", json={"name": "New", "rate": 1})
    assert (refused.status_code, refused.json()) == (
        401,
        {"code": 57, "message": "You are not authorized to perform this operation"},
    )
    assert api.get("/crm/v8/Deals/5725767000000400001").status_code == 200
    crm = api.get("/crm/v8/settings/fields", params={"module": "Deals"})
    assert crm.status_code == 401 and crm.json()["code"] == "OAUTH_SCOPE_MISMATCH"


# --- contacts -------------------------------------------------------------------------------------
def test_search_text_matches_the_contact_name_never_the_company(api):
    found = books(api, "GET", "/contacts", params={"search_text": "Hooli", "filter_by": "Status.All"})
    assert found.json()["contacts"] == []  # "Gavin Belson" of Hooli Inc: search_text does not see it
    by_company = books(api, "GET", "/contacts", params={"company_name_contains": "hooli"}).json()["contacts"]
    assert [c["contact_name"] for c in by_company] == ["Gavin Belson"]
    vendors = books(api, "GET", "/contacts", params={"company_name": "Globex Corporation"}).json()["contacts"]
    assert [(c["contact_name"], c["contact_type"]) for c in vendors] == [("Hank Scorpio", "vendor")]
    only_customers = books(
        api, "GET", "/contacts", params={"company_name": "Globex Corporation", "contact_type": "customer"}
    )
    assert only_customers.json()["contacts"] == []
    assert set(by_company[0]) <= set(CONTACT_LIST_FIELDS)  # list rows: the documented fields only
    assert "billing_address" not in by_company[0]


def test_a_contact_takes_a_currency_of_the_organization(api):
    currencies = books(api, "GET", "/settings/currencies").json()["currencies"]
    eur = next(c for c in currencies if c["currency_code"] == "EUR")
    assert (eur["is_base_currency"], eur["exchange_rate"], eur["price_precision"]) == (False, 1.08, 2)
    assert next(c for c in currencies if c["is_base_currency"])["currency_code"] == "USD"
    contact = books(api, "POST", "/contacts", json={"contact_name": "Euro GmbH", "currency_id": eur["currency_id"]})
    assert contact.json()["contact"]["currency_code"] == "EUR"
    bad = books(api, "POST", "/contacts", json={"contact_name": "Nowhere Ltd", "currency_id": "123"})
    assert bad.json()["message"] == "Invalid value passed for currency_id"


# --- taxes --------------------------------------------------------------------------------------
def test_us_taxes_run_past_one_page_and_inactive_ones_are_refused(api):
    first = books(api, "GET", "/settings/taxes").json()
    assert len(first["taxes"]) == 200 and first["page_context"]["has_more_page"] is True
    assert "CA Sales Tax" not in {t["tax_name"] for t in first["taxes"]}  # on page two
    every = taxes(api)
    retired = every["CA Sales Tax (before 2017)"]
    assert retired["status"] == "inactive" and retired["tax_authority_name"] == "BOE_CA"
    customer = new_customer(api)
    line = {"name": "Widget", "rate": 10, "tax_id": retired["tax_id"]}
    refused = books(api, "POST", "/invoices", json={"customer_id": customer["contact_id"], "line_items": [line]})
    assert refused.status_code == 400 and "inactive" in refused.json()["message"]


def test_each_lines_tax_is_rounded_half_up_to_the_currencys_decimals(api):
    buyer = books(api, "POST", "/contacts", org=UK, json={"contact_name": "Penny Ltd", "vat_treatment": "uk"})
    reduced = taxes(api, UK)["Reduced Rate"]
    line = {"name": "Bolt", "rate": "0.10", "tax_id": reduced["tax_id"]}
    invoice = books(
        api,
        "POST",
        "/invoices",
        org=UK,
        json={"customer_id": buyer.json()["contact"]["contact_id"], "line_items": [line, line]},
    ).json()["invoice"]
    # 5 % of 0.10 is 0.005: half up makes it 0.01 a line (half-to-even would make it 0.00).
    assert [ln["tax_amount"] for ln in invoice["line_items"]] == [0.01, 0.01]
    assert (invoice["tax_total"], invoice["total"]) == (0.02, 0.22)


# --- currencies, dates, delivery ----------------------------------------------------------------------
def test_an_invoice_is_in_its_customers_currency_with_an_exchange_rate(api):
    eur = next(c for c in books(api, "GET", "/settings/currencies").json()["currencies"] if c["currency_code"] == "EUR")
    buyer = books(api, "POST", "/contacts", json={"contact_name": "Euro AG", "currency_id": eur["currency_id"]})
    body = {"customer_id": buyer.json()["contact"]["contact_id"], "line_items": [{"name": "Widget", "rate": 100}]}
    missing = books(api, "POST", "/invoices", json=body)
    assert missing.status_code == 400 and "exchange_rate" in missing.json()["message"]
    other = books(api, "POST", "/invoices", json={**body, "exchange_rate": 1.08, "currency_id": "999"})
    assert other.json()["message"] == "Invalid value passed for currency_id"
    made = books(api, "POST", "/invoices", json={**body, "exchange_rate": 1.08}).json()["invoice"]
    assert (made["currency_code"], made["exchange_rate"], made["total"]) == ("EUR", 1.08, 100)


def test_an_invoice_without_a_date_is_dated_in_the_organizations_own_day(api, sb):
    at(sb, "2027-03-31T20:00:00")  # 01:30 on 1 April in India, 13:00 on 31 March in California
    api.headers["Authorization"] = f"Zoho-oauthtoken {token(api)}"
    india = books(api, "GET", f"/organizations/{IN}", org=IN).json()["organization"]
    assert india["time_zone"] == "Asia/Calcutta"
    assert books(api, "GET", f"/organizations/{US}").json()["organization"]["time_zone"] == "PST"
    dates = {}
    for org in (IN, US):
        buyer = books(api, "POST", "/contacts", org=org, json={"contact_name": "Dated Co"}).json()["contact"]
        body = {"customer_id": buyer["contact_id"], "line_items": [{"name": "Widget", "rate": 1}]}
        dates[org] = books(api, "POST", "/invoices", org=org, json=body).json()["invoice"]["date"]
    assert dates == {IN: "2027-04-01", US: "2027-03-31"}


def test_send_true_emails_the_invoice_and_needs_someone_to_send_it_to(api):
    no_email = new_customer(api, "Silent Co")
    body = {"customer_id": no_email["contact_id"], "line_items": [{"name": "Widget", "rate": 1}]}
    assert books(api, "POST", "/invoices", params={"send": "true"}, json=body).status_code == 400
    reachable = books(api, "POST", "/contacts", json={"contact_name": "Loud Co", "email": "ap@loud.example"})
    body["customer_id"] = reachable.json()["contact"]["contact_id"]
    sent = books(api, "POST", "/invoices", params={"send": "true"}, json=body).json()["invoice"]
    assert (sent["status"], sent["is_emailed"]) == ("sent", True)


# --- write-offs -----------------------------------------------------------------------------------
def test_a_write_off_empties_the_balance_and_its_cancellation_restores_it(api):
    _, inv = sent_invoice(api, 100)
    assert books(api, "POST", f"/invoices/{inv['invoice_id']}/writeoff").status_code == 200
    written = books(api, "GET", f"/invoices/{inv['invoice_id']}").json()["invoice"]
    # Which status Books shows is undocumented: the sandbox says paid, so only write_off_amount tells the truth.
    assert (written["write_off_amount"], written["balance"], written["status"]) == (100, 0, "paid")
    listed = books(api, "GET", "/invoices", params={"reference_number": "D-PAY"}).json()["invoices"]
    assert listed[0]["write_off_amount"] == 100
    assert books(api, "POST", f"/invoices/{inv['invoice_id']}/writeoff/cancel").status_code == 200
    back = books(api, "GET", f"/invoices/{inv['invoice_id']}").json()["invoice"]
    assert (back["write_off_amount"], back["balance"], back["status"]) == (0, 100, "sent")


# --- CRM field metadata ---------------------------------------------------------------------------
def test_crm_describes_its_fields_and_the_products_subform(api, client, sb):
    fields = {f["api_name"]: f for f in api.get("/crm/v8/settings/fields", params={"module": "Deals"}).json()["fields"]}
    assert fields["Products"]["data_type"] == "subform"
    assert fields["Account_Name"]["lookup"]["module"]["api_name"] == "Accounts"
    assert "Written Off" in {v["actual_value"] for v in fields["Payment_Status"]["pick_list_values"]}
    subform = fields["Products"]["associated_module"]["module"]
    columns = {
        f["api_name"]: f["data_type"]
        for f in api.get("/crm/v8/settings/fields", params={"module": subform}).json()["fields"]
    }
    assert columns == {"Product": "lookup", "Quantity": "double", "Unit_Price": "currency", "Tax": "percent"}
    assert api.get("/crm/v8/settings/fields", params={"module": "Nope"}).json()["code"] == "INVALID_MODULE"
    assert client.delete("/__sandbox__/crm/fields/Accounts/Legal_Entity").status_code == 200
    accounts = api.get("/crm/v8/settings/fields", params={"module": "Accounts"}).json()["fields"]
    assert "Legal_Entity" not in {f["api_name"] for f in accounts}


# --- editions -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("country", "accepted"), [("United Arab Emirates", True), ("Saudi Arabia", False)])
def test_designated_zone_treatments_exist_only_in_the_uae(api, sb, country, accepted):
    org = new_org(sb, "60005005", "Acme Gulf", "AED", edition="gcc", country=country, time_zone="Asia/Dubai")
    vat = new_tax(sb, org, "VAT", "5", None)
    buyer = books(api, "POST", "/contacts", org=org.id, json={"contact_name": "Zone Co", "country_code": "DU"})
    line = {"name": "Widget", "rate": 100, "tax_id": vat["tax_id"]}
    body = {"customer_id": buyer.json()["contact"]["contact_id"], "line_items": [line]}
    made = books(api, "POST", "/invoices", org=org.id, json={**body, "tax_treatment": "dz_vat_registered"})
    assert (made.status_code == 201) is accepted
    assert "tax_treatment" in books(api, "POST", "/invoices", org=org.id, json=body).json()["message"]
