"""What would have broken a real Zoho account's first day, each as Zoho's documents state it: scopes (and what
Books answers for a missing one), customers found by contact and company name (never a vendor), every page of
taxes with inactive ones skipped, refund rows and credit notes in their documented shapes, and the editions'
treatment words. In one process against the sandbox, which grants exactly the setup guide's scopes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.cache import cache

from integration.models import InvoicePush, LegalEntity, TaxRule
from integration.selectors import zoho_token_problem
from integration.services.config_tables import CsvImportError, tax_map_import
from integration.services.taxes import org_taxes
from integration.setup_guide import OAUTH_SCOPES
from integration.zoho.books import BooksClient
from integration.zoho.crm import CrmClient
from integration.zoho.errors import ZohoPermissionError
from sandbox.books import new_contact, new_org, new_tax
from sandbox.demo import IN_ORG, US_ORG, account_id, deal_id, product_id
from tests.conftest import books_api

pytestmark = pytest.mark.django_db


def invoices(sandbox, org: str, deal: str) -> list[dict]:
    return [i for i in sandbox.orgs[org].invoices.values() if i["reference_number"] == deal]


def grant(sandbox, *, without: str) -> None:
    """What an administrator who left one scope out of the grant has."""
    for token in sandbox.refresh_tokens.values():
        token["scopes"] = [s for s in OAUTH_SCOPES if s != without]


# --- scopes ---------------------------------------------------------------------------------------
def test_a_refusal_that_survives_a_fresh_token_names_the_scope_and_spends_no_more_refreshes(press, sandbox):
    grant(sandbox, without="ZohoBooks.settings.CREATE")  # creating an item needs it (items.yml)
    _, reply = press(deal_id(7))  # Reliance: Quantum Widget is new to the Indian organization
    push = InvoicePush.objects.get(pk=reply["push_id"])
    assert push.state == "failed"
    assert "lacks the scope ZohoBooks.settings.CREATE" in push.error and "ZOHO_REFRESH_TOKEN" in push.error
    refreshes = sandbox.token_refreshes  # the first token, and one refresh to tell a refusal from an expiry
    assert refreshes == 2
    with pytest.raises(ZohoPermissionError) as excinfo:
        BooksClient().item_create(IN_ORG, {"name": "Another", "rate": 1})
    assert excinfo.value.scope == "ZohoBooks.settings.CREATE" and not excinfo.value.retryable
    assert sandbox.token_refreshes == refreshes  # known now: no further refresh is spent on it
    assert BooksClient().items_page(IN_ORG, 1)[0]  # other calls carry on with the same token
    cache.clear()
    assert "ZohoBooks.settings.CREATE" in zoho_token_problem()  # every screen says which scope to add


def test_crm_says_a_scope_is_missing_outright_so_nothing_is_refreshed(sandbox, caplog):
    grant(sandbox, without="ZohoCRM.modules.products.UPDATE")
    crm = CrmClient()
    assert crm.record_get("Products", product_id(1))
    for _ in range(2):
        with pytest.raises(ZohoPermissionError, match=r"ZohoCRM\.modules\.products\.UPDATE"):
            crm.record_update("Products", product_id(1), {"Books_Item_Id": "1"})
    assert sandbox.token_refreshes == 1
    said = [r.getMessage() for r in caplog.records if "grant lacks" in r.getMessage()]
    assert said == [  # logged once, not on every call that meets the refusal again
        f"Zoho refused PUT /crm/v8/Products/{product_id(1)} even with a fresh token: the grant lacks "
        "ZohoCRM.modules.products.UPDATE"
    ]


def test_the_granted_scopes_let_every_step_succeed(press, sandbox):
    """The sandbox grants exactly the setup guide's list: a new customer, a new item, a reactivated item and an
    invoice all go through, and nothing is refused for want of a scope."""
    for deal in (deal_id(1), deal_id(7)):
        _, reply = press(deal)
        assert InvoicePush.objects.get(pk=reply["push_id"]).state == "pushed"
    assert not [c for c in sandbox.calls if c["status"] == 401]


# --- customers ------------------------------------------------------------------------------------
def test_a_customer_made_from_a_contact_is_adopted_by_its_company_name(press, sandbox):
    [gavin] = [c for c in sandbox.orgs[US_ORG].contacts.values() if c["contact_name"] == "Gavin Belson"]
    before = set(sandbox.orgs[US_ORG].contacts)
    _, reply = press(deal_id(4))  # Hooli Inc: Books has it as the person "Gavin Belson" of company "Hooli Inc"
    push = InvoicePush.objects.get(pk=reply["push_id"])
    assert push.state == "pushed", push.error
    assert set(sandbox.orgs[US_ORG].contacts) == before  # no duplicate customer
    assert push.plan["customer_id"] == gavin["contact_id"]
    assert sandbox.crm["Accounts"][account_id(4)]["Books_Customer_Id"] == gavin["contact_id"]
    company_queries = [c for c in sandbox.calls_to("GET", r"/contacts$")]
    assert company_queries  # found by a company-name query, which search_text never is


def test_a_vendor_is_never_adopted_even_under_the_accounts_own_name(press, sandbox):
    vendor = new_contact(sandbox, sandbox.orgs[US_ORG], name="Globex Corporation", kind="vendor")
    _, reply = press(deal_id(2))
    push = InvoicePush.objects.get(pk=reply["push_id"])
    assert push.state == "failed" and push.plan.get("customer_id") in (None, "")
    assert "that is not a customer (a vendor)" in push.error  # Books wants unique names: a person must act
    assert invoices(sandbox, US_ORG, deal_id(2)) == []
    assert vendor["status"] == "active" and sandbox.crm["Accounts"][account_id(2)]["Books_Customer_Id"] is None


# --- taxes --------------------------------------------------------------------------------------
def test_every_page_of_taxes_is_read_and_inactive_ones_are_never_chosen(press, sandbox):
    taxes = org_taxes(BooksClient(), US_ORG)
    assert len(sandbox.calls_to("GET", "/settings/taxes")) == 2  # 226 taxes: two pages of 200
    names = {t["tax_name"] for t in taxes}
    assert "CA Sales Tax" in names and "CA Sales Tax (before 2017)" not in names
    _, reply = press(deal_id(1))  # Initech, California
    assert InvoicePush.objects.get(pk=reply["push_id"]).state == "pushed"
    [invoice] = invoices(sandbox, US_ORG, deal_id(1))
    assert {ln["tax_name"] for ln in invoice["line_items"]} == {"CA Sales Tax"}


# --- editions -------------------------------------------------------------------------------------
def uae(sandbox, country: str = "United Arab Emirates") -> LegalEntity:
    org = new_org(sandbox, "60005005", "Acme Gulf FZE", "AED", edition="gcc", country=country, time_zone="Asia/Dubai")
    new_tax(sandbox, org, "VAT", "5", None)
    return LegalEntity.objects.create(code="AE-FZE", name="Acme Gulf FZE", books_org_id=org.id)


def test_designated_zone_treatments_are_known_in_the_uae_only(sandbox, demo_config):
    entity = uae(sandbox)
    from integration.services.entities import legal_entity_refresh

    legal_entity_refresh(entity=entity)
    assert (entity.books_edition, entity.books_country) == ("gcc", "AE")
    tax_map_import(file=_csv("AE-FZE,AE,,,dz_vat_registered"))
    assert TaxRule.objects.get(legal_entity=entity).tax_treatment == "dz_vat_registered"
    entity.books_country = "SA"
    entity.save()
    with pytest.raises(CsvImportError) as excinfo:
        tax_map_import(file=_csv("AE-FZE,SA,,,dz_vat_not_registered"))
    assert "dz_vat_not_registered" in excinfo.value.errors[0]


def test_a_gcc_invoice_carries_its_treatment_and_emirate(press, sandbox, demo_config):
    uae(sandbox)
    tax_map_import(file=_csv("AE-FZE,AE,,,dz_vat_registered"))
    _dubai_deal(sandbox, entity="AE-FZE")
    _, reply = press(deal_id(30))
    push = InvoicePush.objects.get(pk=reply["push_id"])
    assert push.state == "pushed", push.error
    [invoice] = invoices(sandbox, "60005005", deal_id(30))
    assert (invoice["tax_treatment"], invoice["place_of_supply"]) == ("dz_vat_registered", "DU")
    [customer] = [c for c in sandbox.orgs["60005005"].contacts.values() if c["contact_id"] == invoice["customer_id"]]
    assert (customer["tax_treatment"], customer["country_code"]) == ("dz_vat_registered", "DU")


def test_an_edition_without_treatments_needs_no_tax_map_row(press, sandbox, demo_config):
    org = new_org(
        sandbox, "60006006", "Acme GmbH", "EUR", edition="other", country="Germany", time_zone="Europe/Berlin"
    )
    new_tax(sandbox, org, "MwSt 19%", "19", None)
    LegalEntity.objects.create(code="DE-GMBH", name="Acme GmbH", books_org_id=org.id)
    _dubai_deal(sandbox, entity="DE-GMBH", state="Berlin", country="Germany", currency="EUR", tax=19)
    _, reply = press(deal_id(30))
    push = InvoicePush.objects.get(pk=reply["push_id"])
    assert push.state == "pushed", push.reasons or push.error
    [invoice] = invoices(sandbox, org.id, deal_id(30))
    assert invoice["line_items"][0]["tax_name"] == "MwSt 19%" and "tax_treatment" not in invoice
    with pytest.raises(CsvImportError) as excinfo:  # a row there would mean nothing: refused, saying why
        tax_map_import(file=_csv("DE-GMBH,DE,,,vat_registered"))
    assert "neither tax authorities nor tax treatments" in excinfo.value.errors[0]


def _csv(row: str):
    import io

    return io.StringIO(f"legal_entity,country,state,tax_authority,tax_treatment\n{row}\n")


def _dubai_deal(
    sandbox, *, entity: str, state: str = "Dubai", country: str = "United Arab Emirates", currency: str = "AED", tax=5
) -> None:
    sandbox.crm["Accounts"][account_id(30)] = {
        "id": account_id(30),
        "Account_Name": "Emirates Kiosks LLC",
        "Billing_State": state,
        "Billing_Country": country,
        "Legal_Entity": entity,
        "Books_Customer_Id": None,
    }
    sandbox.crm["Deals"][deal_id(30)] = {
        "id": deal_id(30),
        "Deal_Name": "Gulf kiosks",
        "Stage": "Closed Won",
        "Currency": currency,
        "Account_Name": {"id": account_id(30), "name": "Emirates Kiosks LLC"},
        "Owner": {"id": "1", "name": "Ava", "email": "ava@acme.example"},
        "Products": [
            {
                "id": "1",
                "Product": {"id": product_id(1), "name": "Widget Pro"},
                "Quantity": 2,
                "Unit_Price": 1000,
                "Tax": tax,
            }
        ],
    }


# --- refunds and credit notes ----------------------------------------------------------------------
def test_refund_rows_are_read_in_the_credit_notes_currency(press, hooks):
    """A EUR invoice's credit note refunded 100 EUR: the row says amount_fcy 100 (EUR) and amount_bcy 108 (USD, the
    organization's); Refunded_Amount is the invoice's money, 100."""
    _, reply = press(deal_id(16))  # Cyberdyne, invoiced in EUR
    push = InvoicePush.objects.get(pk=reply["push_id"])
    assert push.state == "pushed", push.error
    hooks.outbox.clear()
    api = books_api(hooks)
    invoice = hooks.orgs[US_ORG].invoices[push.invoice_id]
    body = {
        "customer_id": invoice["customer_id"],
        "line_items": [{"name": "Goodwill", "rate": 150}],
        "exchange_rate": 1.08,
    }
    note = api("POST", "/creditnotes", body, query={"invoice_id": invoice["invoice_id"]})["creditnote"]
    api("POST", f"/creditnotes/{note['creditnote_id']}/refunds", {"amount": 100})
    [row] = api("GET", f"/creditnotes/{note['creditnote_id']}/refunds")["creditnote_refunds"]
    assert (row["amount_fcy"], row["amount_bcy"]) == (100, 108) and "amount" not in row
    hooks.flush_webhooks()
    deal = hooks.crm["Deals"][deal_id(16)]
    assert (deal["Credited_Amount"], deal["Refunded_Amount"]) == (Decimal("150.00"), Decimal("100.00"))
