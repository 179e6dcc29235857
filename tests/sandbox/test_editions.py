"""The sandbox's Books editions, at its HTTP surface: organizations and their addresses, and the tax fields
each edition takes or refuses (the harsher answer where Zoho's documents are silent)."""

from __future__ import annotations

import pytest

from tests.sandbox.conftest import books

US, UK, IN, CA = "60001001", "60002002", "60003003", "60004004"


def taxes(api, org: str) -> dict[str, dict]:
    from tests.sandbox.test_sandbox import taxes as every_page

    return every_page(api, org)


def customer(api, org: str, **fields) -> dict:
    body = {"contact_name": f"Customer {len(fields)} {sorted(fields)}", **fields}
    resp = books(api, "POST", "/contacts", org=org, json=body)
    assert resp.status_code == 201, resp.text
    return resp.json()["contact"]


def invoice(api, org: str, contact: dict, lines: list[dict], **fields):
    return books(
        api, "POST", "/invoices", org=org, json={"customer_id": contact["contact_id"], "line_items": lines, **fields}
    )


def test_organizations_say_where_they_are(api):
    listed = api.get("/books/v3/organizations").json()["organizations"]
    assert {o["organization_id"] for o in listed} == {US, UK, IN, CA} and all("address" not in o for o in listed)
    india = books(api, "GET", f"/organizations/{IN}", org=IN).json()["organization"]
    assert (india["name"], india["currency_code"]) == ("Acme Widgets India Pvt Ltd", "INR")
    assert (india["address"]["country"], india["address"]["state"]) == ("India", "Karnataka")


def test_uk_has_vat_rates_and_no_authorities(api):
    assert books(api, "GET", "/settings/taxauthorities", org=UK).status_code == 404
    vat = taxes(api, UK)
    assert {(n, t["tax_percentage"]) for n, t in vat.items()} == {
        ("Standard Rate", 20),
        ("Reduced Rate", 5),
        ("Zero Rate", 0),
    }
    buyer = customer(api, UK)
    line = [{"name": "Widget", "rate": 100, "tax_id": vat["Standard Rate"]["tax_id"]}]
    refused = invoice(api, UK, buyer, line)
    assert refused.status_code == 400 and "vat_treatment" in refused.json()["message"]
    assert (
        invoice(api, UK, buyer, line, vat_treatment="domestic").json()["message"]
        == "Invalid value passed for vat_treatment"
    )
    us_authority = next(iter(books(api, "GET", "/settings/taxauthorities", org=US).json()["tax_authorities"]))
    assert (
        invoice(api, UK, buyer, line, vat_treatment="uk", tax_authority_id=us_authority["tax_authority_id"]).status_code
        == 400
    )
    created = invoice(api, UK, buyer, line, vat_treatment="uk")
    assert created.status_code == 201 and created.json()["invoice"]["vat_treatment"] == "uk"
    inherits = customer(api, UK, vat_treatment="overseas")
    assert invoice(api, UK, inherits, line).json()["invoice"]["vat_treatment"] == "overseas"


def test_india_groups_components_igst_and_place_of_supply(api):
    gst = taxes(api, IN)
    assert gst["GST18"]["tax_type"] == "tax_group" and gst["GST18"]["tax_percentage"] == 18
    assert gst["IGST18"]["tax_specific_type"] == "igst"
    assert books(api, "GET", "/settings/taxauthorities", org=IN).status_code == 404
    buyer = customer(api, IN, gst_treatment="business_gst", place_of_contact="MH")
    igst = [{"name": "Widget", "rate": 100, "tax_id": gst["IGST18"]["tax_id"]}]
    group = [{"name": "Widget", "rate": 100, "tax_id": gst["GST18"]["tax_id"]}]
    component = [{"name": "Widget", "rate": 100, "tax_id": gst["CGST9"]["tax_id"]}]
    inherited = invoice(api, IN, buyer, igst)  # treatment and place of supply come from the contact
    assert inherited.status_code == 201, inherited.text
    assert (inherited.json()["invoice"]["gst_treatment"], inherited.json()["invoice"]["place_of_supply"]) == (
        "business_gst",
        "MH",
    )
    assert "inter-state supply takes an IGST tax" in invoice(api, IN, buyer, group).json()["message"]
    assert (
        "intra-state supply takes a GST tax group"
        in invoice(api, IN, buyer, igst, place_of_supply="KA").json()["message"]
    )
    assert invoice(api, IN, buyer, group, place_of_supply="KA").status_code == 201
    assert "component of a GST group" in invoice(api, IN, buyer, component, place_of_supply="KA").json()["message"]
    assert (
        invoice(api, IN, buyer, igst, place_of_supply="UT").json()["message"]
        == "Invalid value passed for place_of_supply"
    )
    bare = customer(api, IN)
    assert "gst_treatment" in invoice(api, IN, bare, igst, place_of_supply="MH").json()["message"]
    assert "place_of_supply" in invoice(api, IN, bare, igst, gst_treatment="business_gst").json()["message"]


@pytest.mark.parametrize("org", [CA, UK, IN])
def test_only_the_us_takes_an_invoice_level_authority(api, org):
    buyer = customer(api, org)
    line = [{"name": "Widget", "rate": 100}]
    authorities = books(api, "GET", "/settings/taxauthorities", org=CA).json()["tax_authorities"]
    refused = invoice(api, org, buyer, line, tax_authority_id=authorities[0]["tax_authority_id"])
    assert refused.status_code == 400 and refused.json()["message"] == "Invalid value passed for tax_authority_id"


def test_canada_refuses_a_tax_without_an_agency(api):
    hst = taxes(api, CA)
    buyer = customer(api, CA)
    trap = invoice(api, CA, buyer, [{"name": "Kiosk", "rate": 100, "tax_id": hst["HST 13%"]["tax_id"]}])
    assert trap.status_code == 400 and "not associated with a tax authority" in trap.json()["message"]
    good = invoice(api, CA, buyer, [{"name": "Kiosk", "rate": 100, "tax_id": hst["HST ON"]["tax_id"]}])
    assert good.status_code == 201


def test_a_field_from_another_edition_is_refused(api):
    assert customer_refused(api, US, gst_treatment="business_gst") == "Invalid value passed for gst_treatment"
    assert customer_refused(api, UK, place_of_contact="KA") == "Invalid value passed for place_of_contact"


def customer_refused(api, org: str, **fields) -> str:
    resp = books(api, "POST", "/contacts", org=org, json={"contact_name": "Anyone", **fields})
    assert resp.status_code == 400
    return resp.json()["message"]
