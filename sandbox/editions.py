"""Books editions in the sandbox: which tax fields each edition takes on invoices and contacts, and how it
checks them. From Zoho's Books OpenAPI documents, which mark each field with its editions; where they are
silent (what Books answers when a treatment or place of supply is missing, whether a field from another
edition is ignored or refused), the sandbox refuses — the harsher answer."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

EDITIONS = ("us", "canada", "uk", "india", "gcc", "mx", "ke", "za", "other")
WITH_AUTHORITIES = ("us", "canada")

VAT_TREATMENTS = ("uk", "overseas", "eu_vat_registered")
GST_TREATMENTS = ("business_gst", "business_none", "overseas", "consumer")
# invoices.yml `tax_treatment`: the GCC words (dz_… only in the UAE), Mexico's, Kenya's and South Africa's.
GCC_TREATMENTS = ("vat_registered", "vat_not_registered", "gcc_vat_registered", "gcc_vat_not_registered", "non_gcc")
TAX_TREATMENTS = {
    "gcc": GCC_TREATMENTS,
    "mx": ("home_country_mexico", "border_region_mexico", "non_mexico"),
    "ke": ("vat_registered", "vat_not_registered", "non_kenya"),
    "za": ("vat_registered", "vat_not_registered", "overseas"),
}
UAE_ONLY = ("dz_vat_registered", "dz_vat_not_registered")
# Place of supply in the GCC: a GCC country, or in the UAE an emirate (invoices.yml, place_of_supply).
GCC_PLACES = ("AE", "SA", "BH", "KW", "OM", "QA", "AB", "AJ", "DU", "FU", "RA", "SH", "UM")


def tax_treatments(org: Any) -> tuple[str, ...]:
    words = TAX_TREATMENTS.get(org.edition, ())
    return words + UAE_ONLY if org.edition == "gcc" and org.country == "United Arab Emirates" else words


# Books' own two-letter codes for Indian states and union territories (place_of_supply, place_of_contact).
# Some differ from ISO 3166-2:IN — Andhra Pradesh AD, Telangana TS, Uttarakhand UK, Odisha OR, Chhattisgarh CG.
INDIA_STATES = {
    "AN": "Andaman and Nicobar Islands",
    "AD": "Andhra Pradesh",
    "AR": "Arunachal Pradesh",
    "AS": "Assam",
    "BR": "Bihar",
    "CH": "Chandigarh",
    "CG": "Chhattisgarh",
    "DN": "Dadra and Nagar Haveli and Daman and Diu",
    "DL": "Delhi",
    "GA": "Goa",
    "GJ": "Gujarat",
    "HR": "Haryana",
    "HP": "Himachal Pradesh",
    "JK": "Jammu and Kashmir",
    "JH": "Jharkhand",
    "KA": "Karnataka",
    "KL": "Kerala",
    "LA": "Ladakh",
    "LD": "Lakshadweep",
    "MP": "Madhya Pradesh",
    "MH": "Maharashtra",
    "MN": "Manipur",
    "ML": "Meghalaya",
    "MZ": "Mizoram",
    "NL": "Nagaland",
    "OR": "Odisha",
    "PY": "Puducherry",
    "PB": "Punjab",
    "RJ": "Rajasthan",
    "SK": "Sikkim",
    "TN": "Tamil Nadu",
    "TS": "Telangana",
    "TR": "Tripura",
    "UP": "Uttar Pradesh",
    "UK": "Uttarakhand",
    "WB": "West Bengal",
}


def invalid(field: str) -> str:
    return f"Invalid value passed for {field}"


def invoice_tax_fields(org: Any, data: dict, customer: dict, taxed: bool) -> tuple[dict, str]:
    """The invoice-level tax fields the organization's edition takes, or an error. A field the edition does
    not have is refused; a treatment (and in India a place of supply) is taken from the invoice or, when
    omitted, from the customer — and a taxed invoice without one is refused."""
    fields: dict = {}
    if data.get("tax_authority_id") and org.edition != "us":
        return {}, invalid("tax_authority_id")
    for foreign, editions in (
        ("vat_treatment", ("uk",)),
        ("gst_treatment", ("india",)),
        ("place_of_supply", ("india", "gcc")),
        ("tax_treatment", tuple(TAX_TREATMENTS)),
    ):
        if data.get(foreign) and org.edition not in editions:
            return {}, invalid(foreign)
    if org.edition == "uk":
        treatment = str(data.get("vat_treatment") or customer.get("vat_treatment") or "")
        if treatment and treatment not in VAT_TREATMENTS:
            return {}, invalid("vat_treatment")
        if taxed and not treatment:
            return {}, "Select the VAT treatment of this transaction (vat_treatment)."
        fields["vat_treatment"] = treatment
    if org.edition == "india":
        treatment = str(data.get("gst_treatment") or customer.get("gst_treatment") or "")
        place = str(data.get("place_of_supply") or customer.get("place_of_contact") or "")
        if treatment and treatment not in GST_TREATMENTS:
            return {}, invalid("gst_treatment")
        if place and place not in INDIA_STATES:
            return {}, invalid("place_of_supply")
        if taxed and not treatment:
            return {}, "Select the GST treatment of this transaction (gst_treatment)."
        if taxed and not place and treatment != "overseas":
            return {}, "Select the place of supply of this transaction (place_of_supply)."
        fields["gst_treatment"], fields["place_of_supply"] = treatment, place
    if org.edition in TAX_TREATMENTS:
        treatment = str(data.get("tax_treatment") or customer.get("tax_treatment") or "")
        if treatment and treatment not in tax_treatments(org):
            return {}, invalid("tax_treatment")
        if taxed and not treatment:
            return {}, "Select the tax treatment of this transaction (tax_treatment)."
        fields["tax_treatment"] = treatment
        if org.edition == "gcc":
            # contacts.yml: a GCC contact's `country_code` (a GCC country or UAE emirate) is its place of supply.
            place = str(data.get("place_of_supply") or customer.get("country_code") or "")
            if place and place not in GCC_PLACES:
                return {}, invalid("place_of_supply")
            if taxed and not place and treatment != "non_gcc":
                # Documented: when omitted, the contact's place is used; with none, the harsher answer: refused.
                return {}, "Select the place of supply of this transaction (place_of_supply)."
            fields["place_of_supply"] = place
    return fields, ""


def line_tax_error(org: Any, tax: dict, n: int, invoice: dict) -> str:
    """Why a line may not carry this tax in this organization, or ''."""
    if Decimal(str(tax["tax_percentage"])) == 0:
        return ""
    if org.edition in WITH_AUTHORITIES and not tax.get("tax_authority_id"):
        return (
            f'Line item {n}: the tax "{tax["tax_name"]}" is not associated with a tax authority. '
            "Associate a tax authority with the tax and try again."
        )
    if org.edition == "india":
        kind = tax.get("tax_specific_type", "")
        if kind in ("cgst", "sgst"):
            return f'Line item {n}: "{tax["tax_name"]}" is a component of a GST group and cannot be applied alone.'
        place = invoice.get("place_of_supply", "")
        intra = place == org.state_code
        if intra and tax.get("tax_type") != "tax_group":
            return f"Line item {n}: an intra-state supply takes a GST tax group (CGST + SGST), not {tax['tax_name']}."
        if place and not intra and kind != "igst":
            return f"Line item {n}: an inter-state supply takes an IGST tax, not {tax['tax_name']}."
    return ""


def contact_tax_fields(org: Any, data: dict) -> tuple[dict, str]:
    """The contact-level tax fields of the organization's edition, or an error."""
    own = {
        "uk": ("vat_treatment", "country_code"),
        "india": ("gst_treatment", "place_of_contact"),
        "gcc": ("tax_treatment", "country_code"),
    }.get(org.edition, ("tax_treatment",) if org.edition in TAX_TREATMENTS else ())
    for foreign in ("vat_treatment", "gst_treatment", "place_of_contact", "tax_treatment", "country_code"):
        if data.get(foreign) and foreign not in own:
            return {}, invalid(foreign)
    if org.edition == "uk":
        treatment = str(data.get("vat_treatment") or "")
        if treatment and treatment not in VAT_TREATMENTS:
            return {}, invalid("vat_treatment")
        return {"vat_treatment": treatment, "vat_reg_no": str(data.get("vat_reg_no") or "")}, ""
    if org.edition == "india":
        treatment, place = str(data.get("gst_treatment") or ""), str(data.get("place_of_contact") or "")
        if treatment and treatment not in GST_TREATMENTS:
            return {}, invalid("gst_treatment")
        if place and place not in INDIA_STATES:
            return {}, invalid("place_of_contact")
        return {"gst_treatment": treatment, "gst_no": str(data.get("gst_no") or ""), "place_of_contact": place}, ""
    if org.edition in TAX_TREATMENTS:
        treatment = str(data.get("tax_treatment") or "")
        if treatment and treatment not in tax_treatments(org):
            return {}, invalid("tax_treatment")
        fields = {"tax_treatment": treatment, "tax_reg_no": str(data.get("tax_reg_no") or "")}
        if org.edition == "gcc":
            place = str(data.get("country_code") or "")
            if place and place not in GCC_PLACES:
                return {}, invalid("country_code")
            fields["country_code"] = place
        return fields, ""
    return {}, ""
