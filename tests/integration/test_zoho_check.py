"""The preflight check (CONTRACT.md §9): `manage.py zoho_check` and the Setup screen's "Check everything" —
read-only against Zoho, a few calls per organization, each problem named with its fix."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from integration.models import TaxRule
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def check(*args) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("zoho_check", *args, stdout=out)
    except CommandError as exc:
        return 1, out.getvalue() + str(exc)
    return 0, out.getvalue()


def writes(sandbox) -> list[dict]:
    return [c for c in sandbox.calls if c["method"] in ("POST", "PUT", "DELETE") and c["product"] != "oauth"]


def test_the_demo_setup_passes_reading_little_and_writing_nothing(sandbox, demo_config, settings):
    settings.PUBLIC_BASE_URL = "https://bridge.example.com"
    code, out = check("-v", "2")
    assert code == 0, out
    assert out.strip().endswith("zoho_check: no problem found.")
    assert (
        "ok US-LLC: Books organization 60001001 “Acme Widgets LLC”: US edition (home state California), USD, "
        "time zone PST; 221 active taxes." in out
    )
    assert "ok CRM: Every CRM field the bridge uses is there, with the right type." in out
    assert writes(sandbox) == []
    books = [c for c in sandbox.calls if c["product"] == "books"]
    # Per organization: the organization and its taxes (the US has two pages of them); nothing else.
    assert len([c for c in books if c["org"] == "60001001"]) == 3
    assert all(len([c for c in books if c["org"] == org]) == 2 for org in ("60002002", "60003003", "60004004"))
    assert len([c for c in sandbox.calls if c["product"] == "crm"]) == 4  # three modules and the line subform


def test_a_broken_tax_rule_and_a_missing_crm_field_are_each_named(sandbox, demo_config, settings):
    settings.PUBLIC_BASE_URL = "https://bridge.example.com"
    TaxRule.objects.filter(legal_entity__code="US-LLC", state="NY").update(tax_authority="TX_CPA")
    TaxRule.objects.filter(legal_entity__code="UK-LTD").update(tax_treatment="vat_standard")
    sandbox.crm_field_change("Accounts", "Legal_Entity", None)
    sandbox.crm_field_change("Deal_Products", "Tax", {"data_type": "text"})
    code, out = check()
    assert code == 1
    lines = out.strip().splitlines()
    assert (
        "PROBLEM US-LLC: tax map US/NY: Acme Widgets LLC has no active tax under the tax authority TX_CPA "
        "(its authorities: BOE_CA, CA_DISTRICTS, NYS_DTF, WA_DOR); choose one of them for the rule." in lines
    )
    assert (
        "PROBLEM UK-LTD: tax map GB: the UK edition does not know the treatment “vat_standard” "
        "(it knows uk, overseas, eu_vat_registered)." in lines
    )
    assert (
        "PROBLEM CRM: Accounts Legal_Entity is missing: add it (Pick List: one value per legal entity code) "
        "with API name Legal_Entity." in lines
    )
    assert "PROBLEM CRM: Deals subform Products, column Tax is a text field; make it Percent." in lines
    assert lines[-1] == "zoho_check: 4 problem(s), each on a line above."
    assert writes(sandbox) == []


# CONTRACT.md §4, field by field (ids aside): zoho_check reads CRM's metadata for each.
SECTION_4 = {
    "Deals": [
        "Deal_Name", "Stage", "Amount", "Account_Name", "Contact_Name", "Owner", "Products", "Invoice_Id",
        "Invoice_Number", "Invoice_URL", "Payment_Status", "Credited_Amount", "Refunded_Amount", "Written_Off_Amount",
    ],
    "Accounts": ["Account_Name", "Billing_State", "Billing_Country", "Legal_Entity", "Books_Customer_Id"],
    "Products": ["Product_Name", "Product_Code", "Unit_Price", "Description", "Books_Item_Id"],
}  # fmt: skip
SUBFORM_ROW = ["Product", "Quantity", "Unit_Price", "Tax"]


@pytest.mark.parametrize(
    ("module", "field"),
    [(m, f) for m, fields in SECTION_4.items() for f in fields] + [("Deal_Products", f) for f in SUBFORM_ROW],
)
def test_every_crm_field_of_the_contract_is_checked(sandbox, demo_config, settings, module, field):
    settings.PUBLIC_BASE_URL = "https://bridge.example.com"
    sandbox.crm_field_change(module, field, None)
    code, out = check()
    where = f"Deals subform Products, column {field}" if module == "Deal_Products" else f"{module} {field}"
    assert code == 1 and f"PROBLEM CRM: {where} is missing: add it (" in out, out


def test_one_entity_and_the_scopes_zoho_refused(sandbox, demo_config, settings):
    settings.PUBLIC_BASE_URL = "http://localhost:8000"
    for token in sandbox.refresh_tokens.values():
        token["scopes"] = [s for s in token["scopes"] if s != "ZohoCRM.settings.fields.READ"]
    code, out = check("--org", "CA-INC")
    assert code == 1
    assert "PROBLEM Setup: PUBLIC_BASE_URL is http://localhost:8000, not an https:// address" in out
    assert "lacks the scope ZohoCRM.settings.fields.READ" in out
    assert "US-LLC" not in out
    with pytest.raises(CommandError, match="no legal entity"):
        call_command("zoho_check", "--org", "NOPE", stdout=io.StringIO())


def test_an_unknown_organization_and_an_unplaceable_time_zone_are_problems(sandbox, demo_config, settings):
    from integration.models import LegalEntity

    settings.PUBLIC_BASE_URL = "https://bridge.example.com"
    LegalEntity.objects.filter(code="CA-INC").update(books_org_id="60009999")
    sandbox.orgs["60003003"].time_zone = "Somewhere/Else"
    code, out = check()
    assert code == 1
    assert "PROBLEM CA-INC: Books organization 60009999 cannot be read" in out
    assert "PROBLEM IN-PVT: The organization's time zone “Somewhere/Else” is not one we can place" in out


def test_check_everything_on_the_setup_screen(client, sandbox, demo_config, settings):
    settings.PUBLIC_BASE_URL = "https://bridge.example.com"
    client.force_login(UserFactory(groups=["reviewer"]))
    assert client.post("/setup/check/").status_code == 403
    client.force_login(UserFactory(groups=["finance-admin"]))
    assert client.get("/setup/check/").status_code == 405
    page = client.post("/setup/check/", headers={"HX-Request": "true"}).content.decode()
    assert page.lstrip().startswith('<div id="live">') and "<h1>" not in page  # the status and the results only
    assert "<b>No problem found.</b>" in page and "Acme Widgets India Pvt Ltd" in page
    # The check read each organization: the status table above the results says what it found.
    assert "<td>Asia/Calcutta</td>" in page and "<b>connected</b>" in page
    TaxRule.objects.filter(legal_entity__code="US-LLC", state="CA").update(tax_authority="NO_SUCH")
    page = client.post("/setup/check/").content.decode()  # without htmx: the whole page, results in place
    assert "<h1>Setup: wiring Zoho to this installation</h1>" in page
    assert "1 problem</b>" in page and "tax map US/CA" in page
