"""Tax by Books edition, end to end against the sandbox: US and Canada by authority (agency), UK by VAT
treatment and rate, India by place of supply, GST treatment and the intra-state group or IGST. Every plan
failure is refused before anything is written to Books."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.management import call_command

from integration.models import InvoicePush, LegalEntity, TaxRule
from integration.services.config_tables import CsvImportError, tax_map_import
from sandbox.demo import CA_ORG, IN_ORG, UK_ORG, US_ORG, account_id, deal_id

pytestmark = pytest.mark.django_db


def books_writes(sandbox, org: str) -> list[dict]:
    return [c for c in sandbox.calls if c["product"] == "books" and c["method"] in ("POST", "PUT") and c["org"] == org]


def invoice_of(sandbox, org: str, deal: str) -> dict:
    [invoice] = [i for i in sandbox.orgs[org].invoices.values() if i["reference_number"] == deal]
    return invoice


def test_each_organization_is_learnt_from_books(press, sandbox):
    out = io.StringIO()
    call_command("test_connection", stdout=out)
    text = out.getvalue()
    assert "US-LLC: Acme Widgets LLC (60001001), USD, US edition, home state California" in text
    assert "UK-LTD: Acme Widgets Ltd (60002002), GBP, UK edition, home state England" in text
    assert "IN-PVT: Acme Widgets India Pvt Ltd (60003003), INR, India (GST) edition, home state Karnataka" in text
    assert "CA-INC: Acme Widgets Canada Inc (60004004), CAD, Canada edition, home state Ontario" in text
    entity = LegalEntity.objects.get(code="IN-PVT")
    assert (entity.books_edition, entity.books_country, entity.books_checked_at is not None) == ("india", "IN", True)


def test_the_edition_is_learnt_on_first_use(press, sandbox):
    assert LegalEntity.objects.get(code="CA-INC").books_edition == ""
    press(deal_id(15))
    assert LegalEntity.objects.get(code="CA-INC").books_edition == "canada"
    assert len(sandbox.calls_to("GET", r"/organizations/60004004$")) == 1
    press(deal_id(15))
    assert len(sandbox.calls_to("GET", r"/organizations/60004004$")) == 1  # kept, not read again


def test_a_canadian_deal_is_taxed_by_its_agency_without_an_invoice_level_authority(press, sandbox):
    _, reply = press(deal_id(15))
    push = InvoicePush.objects.get(pk=reply["push_id"])
    assert push.state == "pushed", push.error
    invoice = invoice_of(sandbox, CA_ORG, deal_id(15))
    [line] = invoice["line_items"]
    tax = sandbox.orgs[CA_ORG].taxes[line["tax_id"]]
    assert (tax["tax_name"], tax["tax_authority_name"]) == ("HST ON", "CRA")  # never the agency-less copy
    assert invoice["tax_authority_id"] == "" and invoice["tax_total"] == Decimal("585.00")


def test_an_indian_deal_in_a_state_whose_books_code_differs_from_iso(press, sandbox):
    # Himalaya Outfitters' Billing_State is "UT" (Uttarakhand in ISO); Books calls Uttarakhand "UK".
    _, reply = press(deal_id(14))
    assert InvoicePush.objects.get(pk=reply["push_id"]).state == "pushed"
    invoice = invoice_of(sandbox, IN_ORG, deal_id(14))
    assert invoice["place_of_supply"] == "UK" and invoice["line_items"][0]["tax_name"] == "IGST18"
    assert invoice["tax_authority_id"] == ""  # an edition without authorities never receives one


def test_editions_without_authorities_never_receive_one(press, sandbox):
    for n in (6, 7, 14):
        press(deal_id(n))
    invoices = [i for i in sandbox.orgs[IN_ORG].invoices.values()]
    assert len(invoices) == 3 and all(i["tax_authority_id"] == "" for i in invoices)
    posted = [c for c in sandbox.calls if c["org"] == IN_ORG and "taxauthorities" in c["path"]]
    assert posted == []  # not even asked


# --- every way a plan can fail, before any Books write -----------------------------------------------
def test_no_igst_tax_at_the_rate(press, sandbox):
    sandbox.crm["Deals"][deal_id(7)]["Products"][0]["Tax"] = 12  # Maharashtra: inter-state, and no IGST12
    status, reply = press(deal_id(7))
    assert status == 422
    assert "No 12 % IGST tax in Acme Widgets India Pvt Ltd (lines: Quantum Widget)." in reply["reasons"]
    assert books_writes(sandbox, IN_ORG) == []


def test_no_gst_group_at_the_rate(press, sandbox):
    sandbox.crm["Deals"][deal_id(6)]["Products"][0]["Tax"] = 28  # Karnataka: intra-state
    status, reply = press(deal_id(6))
    assert status == 422
    assert "No 28 % GST group (CGST + SGST) in Acme Widgets India Pvt Ltd (lines: Widget Pro)." in reply["reasons"]
    assert books_writes(sandbox, IN_ORG) == []


def test_an_unknown_place_of_supply(press, sandbox):
    sandbox.crm["Accounts"][account_id(7)]["Billing_State"] = "Atlantis"
    status, reply = press(deal_id(7))
    assert status == 422
    assert reply["reasons"] == ["Place of supply unknown for state 'Atlantis' (Account “Reliance Retail”)."]
    assert books_writes(sandbox, IN_ORG) == []


def test_no_vat_tax_at_the_rate_and_no_vat_treatment(press, sandbox):
    sandbox.crm["Deals"][deal_id(5)]["Products"][0]["Tax"] = 17.5
    status, reply = press(deal_id(5))
    assert status == 422
    assert "No 17.5 % VAT tax in Acme Widgets Ltd (lines: Widget Pro)." in reply["reasons"]
    TaxRule.objects.filter(country="GB").delete()
    status, reply = press(deal_id(5))
    assert status == 422 and reply["reasons"] == [
        "No VAT treatment for GB/ENG in entity UK-LTD: Acme Widgets Ltd is in the UK edition, "
        "so its tax-map row needs a tax_treatment."
    ]
    assert books_writes(sandbox, UK_ORG) == []


def test_no_agency_for_a_canadian_province(press, sandbox):
    sandbox.crm["Accounts"][account_id(11)]["Billing_State"] = "Quebec"
    status, reply = press(deal_id(15))
    assert status == 422 and reply["reasons"] == ["No tax authority for CA/QC in entity CA-INC."]
    assert books_writes(sandbox, CA_ORG) == []


def test_a_us_deal_is_unchanged(press, sandbox):
    _, reply = press(deal_id(1))
    invoice = invoice_of(sandbox, US_ORG, deal_id(1))
    assert InvoicePush.objects.get(pk=reply["push_id"]).state == "pushed"
    authority = sandbox.orgs[US_ORG].authorities[invoice["tax_authority_id"]]
    assert authority["tax_authority_name"] == "BOE_CA" and "vat_treatment" not in invoice
    assert {ln["tax_name"] for ln in invoice["line_items"]} == {"CA Sales Tax"}


# --- the tax map knows the editions ---------------------------------------------------------------------
def test_tax_map_rows_are_checked_against_the_entitys_edition(press, sandbox):
    call_command("test_connection", stdout=io.StringIO())
    bad = io.StringIO(
        "legal_entity,country,state,tax_authority,tax_treatment\n"
        "UK-LTD,GB,,HMRC,\n"
        "US-LLC,US,TX,,exempt\n"
        "IN-PVT,IN,,,vat\n"
        "CA-INC,CA,QC,CRA,business_gst\n"
    )
    with pytest.raises(CsvImportError) as excinfo:
        tax_map_import(file=bad)
    assert excinfo.value.errors == [
        "line 2: legal entity UK-LTD uses Books' UK edition, which has no tax authorities: "
        "give a tax treatment instead",
        "line 3: legal entity US-LLC uses Books' US edition, which taxes by tax authority: "
        "give the tax authority and leave the treatment empty",
        "line 4: “vat” is not a tax treatment of legal entity IN-PVT, which uses Books' India (GST) edition. "
        "Choose one of: registered business (GST) (business_gst); unregistered business (business_none); "
        "outside the country (overseas); consumer (consumer)",
        "line 5: a rule names either a tax authority or a tax treatment, not both: clear one of them",
    ]
    four_columns = io.StringIO("legal_entity,country,state,tax_authority\nCA-INC,CA,QC,CRA\n")
    assert tax_map_import(file=four_columns).created == 1  # a four-column file stays valid


def test_moving_an_entity_to_another_organization_forgets_its_edition(press, sandbox):
    from integration.services.config_tables import legal_entities_import

    call_command("test_connection", "UK-LTD", stdout=io.StringIO())
    assert LegalEntity.objects.get(code="UK-LTD").books_edition == "uk"
    legal_entities_import(
        file=io.StringIO("code,name,books_org_id,require_review\nUK-LTD,Acme Widgets Ltd,60009999,true\n")
    )
    entity = LegalEntity.objects.get(code="UK-LTD")
    assert (entity.books_edition, entity.books_org_name, entity.books_checked_at) == ("", "", None)
