"""Zoho Books editions, as Invoice Bridge plans taxes for them (CONTRACT.md §5, §6). One place for: which
edition an organization's country means, which editions have tax authorities, the treatment words each
edition knows, Books' own Indian state codes, and the check a tax-map row must pass for its entity."""

from __future__ import annotations

from integration.normalize import normalize_name

US, CANADA, UK, INDIA, GCC, OTHER = "us", "canada", "uk", "india", "gcc", "other"
MEXICO, KENYA, SOUTH_AFRICA = "mexico", "kenya", "south_africa"
LABELS = {
    US: "US",
    CANADA: "Canada",
    UK: "UK",
    INDIA: "India (GST)",
    GCC: "GCC",
    MEXICO: "Mexico",
    KENYA: "Kenya",
    SOUTH_AFRICA: "South Africa",
    OTHER: "other",
}
EDITION_BY_COUNTRY = {"US": US, "CA": CANADA, "GB": UK, "IN": INDIA, "MX": MEXICO, "KE": KENYA, "ZA": SOUTH_AFRICA}
EDITION_BY_COUNTRY.update(dict.fromkeys(["AE", "SA", "BH", "KW", "OM", "QA"], GCC))
WITH_AUTHORITIES = (US, CANADA)
# The treatment words of invoices.yml, per edition (no other edition documents a treatment: EU, Australia and
# the rest take a line's tax_id only, so their deals need no tax-map row).
TREATMENTS = {
    UK: ("uk", "overseas", "eu_vat_registered"),  # the invoice's vat_treatment
    INDIA: ("business_gst", "business_none", "overseas", "consumer"),  # the invoice's gst_treatment
    GCC: ("vat_registered", "vat_not_registered", "gcc_vat_registered", "gcc_vat_not_registered", "non_gcc"),
    MEXICO: ("home_country_mexico", "border_region_mexico", "non_mexico"),
    KENYA: ("vat_registered", "vat_not_registered", "non_kenya"),
    SOUTH_AFRICA: ("vat_registered", "vat_not_registered", "overseas"),
}
UAE_ONLY = ("dz_vat_registered", "dz_vat_not_registered")  # designated zones: "supported only for UAE"
# What each treatment word means, as Books' screens say it.
TREATMENT_LABELS = {
    "uk": "VAT registered in the UK",
    "overseas": "outside the country",
    "eu_vat_registered": "VAT registered in the EU",
    "business_gst": "registered business (GST)",
    "business_none": "unregistered business",
    "consumer": "consumer",
    "vat_registered": "VAT registered",
    "vat_not_registered": "not VAT registered",
    "gcc_vat_registered": "VAT registered in another GCC country",
    "gcc_vat_not_registered": "not VAT registered, in another GCC country",
    "non_gcc": "outside the GCC",
    "dz_vat_registered": "VAT registered, in a designated zone",
    "dz_vat_not_registered": "not VAT registered, in a designated zone",
    "home_country_mexico": "in Mexico",
    "border_region_mexico": "in Mexico's border region",
    "non_mexico": "outside Mexico",
    "non_kenya": "outside Kenya",
}


def treatment_label(word: str) -> str:
    """`uk` → "VAT registered in the UK (uk)": the meaning first, the word Books and the CSV use after it."""
    return f"{TREATMENT_LABELS[word]} ({word})" if word in TREATMENT_LABELS else word


TREATMENT_FIELD = {
    UK: "vat_treatment",
    INDIA: "gst_treatment",
    GCC: "tax_treatment",
    MEXICO: "tax_treatment",
    KENYA: "tax_treatment",
    SOUTH_AFRICA: "tax_treatment",
}


def treatments(edition: str, country: str = "") -> tuple[str, ...]:
    """The treatment words an organization of this edition (in this ISO country) knows; () when it has none."""
    words = TREATMENTS.get(edition, ())
    return words + UAE_ONLY if edition == GCC and country == "AE" else words


def has_treatments(edition: str) -> bool:
    return edition in TREATMENTS


# Books' two-letter codes for Indian states (place_of_supply), with the other codes people write for them
# (ISO 3166-2:IN, old and new). Where Books and ISO differ, Books' code is what the invoice must carry.
INDIA_STATES: list[tuple[str, str, tuple[str, ...]]] = [
    ("AN", "Andaman and Nicobar Islands", ()),
    ("AD", "Andhra Pradesh", ("AP",)),
    ("AR", "Arunachal Pradesh", ()),
    ("AS", "Assam", ()),
    ("BR", "Bihar", ()),
    ("CH", "Chandigarh", ()),
    ("CG", "Chhattisgarh", ("CT",)),
    ("DN", "Dadra and Nagar Haveli and Daman and Diu", ("DH", "DD")),
    ("DL", "Delhi", ()),
    ("GA", "Goa", ()),
    ("GJ", "Gujarat", ()),
    ("HR", "Haryana", ()),
    ("HP", "Himachal Pradesh", ()),
    ("JK", "Jammu and Kashmir", ()),
    ("JH", "Jharkhand", ()),
    ("KA", "Karnataka", ()),
    ("KL", "Kerala", ()),
    ("LA", "Ladakh", ()),
    ("LD", "Lakshadweep", ()),
    ("MP", "Madhya Pradesh", ()),
    ("MH", "Maharashtra", ()),
    ("MN", "Manipur", ()),
    ("ML", "Meghalaya", ()),
    ("MZ", "Mizoram", ()),
    ("NL", "Nagaland", ()),
    ("OR", "Odisha", ("OD",)),
    ("PY", "Puducherry", ()),
    ("PB", "Punjab", ()),
    ("RJ", "Rajasthan", ()),
    ("SK", "Sikkim", ()),
    ("TN", "Tamil Nadu", ()),
    ("TS", "Telangana", ("TG",)),
    ("TR", "Tripura", ()),
    ("UP", "Uttar Pradesh", ()),
    ("UK", "Uttarakhand", ("UT", "UL")),
    ("WB", "West Bengal", ()),
]
_INDIA_LOOKUP = {}
for _code, _name, _aliases in INDIA_STATES:
    for _key in (_code, _name, *_aliases):
        _INDIA_LOOKUP[normalize_name(_key)] = _code


# Place of supply in the GCC (invoices.yml): the GCC country's code, or in the UAE the emirate's Books code, which
# differs from ISO 3166-2:AE for three of them.
GCC_COUNTRIES = ("AE", "SA", "BH", "KW", "OM", "QA")
UAE_EMIRATES = {"AZ": "AB", "AJ": "AJ", "DU": "DU", "FU": "FU", "RK": "RA", "SH": "SH", "UQ": "UM"}


def gcc_place_of_supply(country: str, state: str = "") -> str | None:
    """Books' place of supply for a customer in an ISO country (and ISO 3166-2 subdivision), or None outside
    the GCC. A UAE customer whose emirate is unknown is placed in the UAE as a whole."""
    if country not in GCC_COUNTRIES:
        return None
    if country == "AE":
        return UAE_EMIRATES.get(state, "AE")
    return country


def edition_for_country(country: str | None) -> str:
    """The edition an organization in this ISO country has ('' when the country is unknown)."""
    if not country:
        return ""
    return EDITION_BY_COUNTRY.get(country, OTHER)


def has_authorities(edition: str) -> bool:
    return edition in WITH_AUTHORITIES


def india_state_code(value: str | None) -> str | None:
    """Books' code for an Indian state written as a Books code, an ISO code or a name; None if unknown."""
    text = str(value or "").strip()
    if text.upper().startswith("IN-"):
        text = text[3:]
    return _INDIA_LOOKUP.get(normalize_name(text)) if text else None


def tax_rule_problems(
    edition: str, *, tax_authority: str, tax_treatment: str, entity_label: str = "", country: str = ""
) -> list[str]:
    """What is wrong with a tax-map row for an entity of this edition and ISO country ('' edition: not learnt
    yet, so only the edition-free checks). The CSV import and the dashboard's tax-map screen both use this."""
    problems = []
    if tax_authority and tax_treatment:
        problems.append("a rule names either a tax authority or a tax treatment, not both: clear one of them")
    if not tax_authority and not tax_treatment:
        problems.append("the rule names no tax authority and no tax treatment: give the one its entity uses")
    if len(tax_authority) > 100:
        problems.append("the tax authority is longer than 100 characters")
    if not edition or problems:
        return problems
    who = (
        f"{entity_label} uses Books' {LABELS[edition]} edition" if entity_label else f"Books' {LABELS[edition]} edition"
    )
    if has_authorities(edition):
        if not tax_authority:
            problems.append(
                f"{who}, which taxes by tax authority: give the tax authority and leave the treatment empty"
            )
    elif not has_treatments(edition):
        problems.append(
            f"{who}, which has neither tax authorities nor tax treatments: its taxed deals need no tax-map rule "
            "(each line takes the organization's tax at its rate)"
        )
    elif tax_authority:
        problems.append(f"{who}, which has no tax authorities: give a tax treatment instead")
    elif tax_treatment not in treatments(edition, country):
        known = "; ".join(treatment_label(w) for w in treatments(edition, country))
        whose = who.replace(" uses", ", which uses")
        problems.append(f"“{tax_treatment}” is not a tax treatment of {whose}. Choose one of: {known}")
    return problems
