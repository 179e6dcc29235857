"""Each taxed line's Books tax, and the invoice's tax fields, by the organization's Books edition
(CONTRACT.md §5). Every way it can fail is a plain-words reason, found before anything is written to Books.

- US and Canada: the tax-map row names the authority (agency); the line's tax is the organization's tax at
  that percentage under it, never an authority-less one. US invoices also carry `tax_authority_id`.
- UK: the row's treatment is the invoice's `vat_treatment`; the line's tax is the VAT tax at that percentage.
- India: `place_of_supply` is the customer's state as Books' own code; `gst_treatment` is the row's treatment;
  the line's tax is the intra-state GST group (CGST + SGST) at that percentage when the place of supply is the
  organization's home state, the IGST tax otherwise.
- Other editions: the tax at that percentage, and the row's treatment as `tax_treatment`.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.cache import cache
from django.db.models import Q

from integration.editions import (
    INDIA,
    LABELS,
    TREATMENT_FIELD,
    TREATMENTS,
    UK,
    US,
    WITH_AUTHORITIES,
    india_state_code,
)
from integration.models import LegalEntity, TaxRule
from integration.selectors import tax_rule_for
from integration.services.entities import legal_entity_edition
from integration.zoho.books import BooksClient

TAXES_CACHE_SECONDS = 600


def org_taxes(books: BooksClient, organization_id: str) -> list[dict]:
    """The organization's Books taxes (and tax groups), each with its authority's name, cached ten minutes."""
    key = f"books:taxes:{organization_id}"
    taxes = cache.get(key)
    if taxes is None:
        taxes = books.taxes(organization_id)
        if any(t.get("tax_authority_id") and not t.get("tax_authority_name") for t in taxes):
            # Some listings name the authority only by id: look the names up once.
            names = {a["tax_authority_id"]: a["tax_authority_name"] for a in books.tax_authorities(organization_id)}
            taxes = [
                {**t, "tax_authority_name": t.get("tax_authority_name") or names.get(t["tax_authority_id"], "")}
                for t in taxes
            ]
        cache.set(key, taxes, TAXES_CACHE_SECONDS)
    return taxes


def _pct(value: Decimal) -> str:
    return f"{value.normalize():f} %"


def _under_authority(taxes: list[dict], authority: str) -> list[dict]:
    """The taxes of the named authority (agency); never a tax that has none."""
    return [t for t in taxes if t.get("tax_authority_name") == authority and t.get("tax_authority_id")]


def _rates(taxes: list[dict]) -> str:
    return ", ".join(sorted({_pct(Decimal(str(t["tax_percentage"]))) for t in taxes}))


def _at(taxes: list[dict], pct: Decimal) -> dict | None:
    matches = sorted((t for t in taxes if Decimal(str(t["tax_percentage"])) == pct), key=lambda t: t["tax_id"])
    return matches[0] if matches else None


def tax_plan(
    books: BooksClient,
    *,
    entity: LegalEntity,
    country: str,
    state: str,
    raw_state: str,
    taxed: list[dict],
    reasons: list[str],
) -> dict | None:
    """The invoice's tax fields for this customer region, setting each taxed line's `tax_id`; None (with
    `reasons` added) when the deal cannot be taxed as it stands."""
    edition = legal_entity_edition(entity=entity, books=books)
    org_label = entity.books_org_name or f"Books organization {entity.books_org_id} ({entity.code})"
    where = f"{country}/{state}" if state else country
    rule = tax_rule_for(legal_entity=entity, country=country, state=state)
    plan = {"edition": edition, "authority": None, "treatment_field": "", "treatment": "", "place_of_supply": ""}

    if edition in WITH_AUTHORITIES:
        if not taxed:
            return plan
        if rule is None or not rule.tax_authority:
            reasons.append(f"No tax authority for {where} in entity {entity.code}.")
            return None
        under = _under_authority(org_taxes(books, entity.books_org_id), rule.tax_authority)
        if not under:
            reasons.append(
                f"Books organization {entity.books_org_id} ({entity.code}) has no tax under the tax authority "
                f"{rule.tax_authority}, which the tax map names for {where}."
            )
            return None
        org = f"Books organization {entity.books_org_id} ({entity.code})"
        if not _give_taxes(
            taxed,
            under,
            reasons,
            lambda pct: (
                f"{org} has no {pct.normalize():f}% tax under the tax authority {rule.tax_authority} for {where}"
            ),
        ):
            return None
        plan["authority"] = {"name": rule.tax_authority, "id": under[0]["tax_authority_id"]}
        if edition != US:
            plan["authority"]["invoice_level"] = False
        return plan

    # Editions without authorities: a treatment, and in India a place of supply.
    intra = False
    if edition == INDIA and country == "IN":
        place = india_state_code(raw_state or state)
        if place is None:
            reasons.append(f"Place of supply unknown for state '{raw_state or state}'.")
            return None
        plan["place_of_supply"] = place
        intra = place == india_state_code(entity.books_home_state)
    if rule is not None:
        plan["treatment_field"], plan["treatment"] = TREATMENT_FIELD.get(edition, ""), rule.tax_treatment
    if not taxed:
        return plan
    word = {UK: "VAT treatment", INDIA: "GST treatment"}.get(edition, "tax treatment")
    if rule is None or not rule.tax_treatment:
        reasons.append(
            f"No {word} for {where} in entity {entity.code}: {org_label} is in the {LABELS.get(edition, edition)} "
            "edition, so its tax-map row needs a tax_treatment."
        )
        return None
    if edition in TREATMENTS and rule.tax_treatment not in TREATMENTS[edition]:
        reasons.append(
            f"The tax map gives {where} the {word} “{rule.tax_treatment}”, which the "
            f"{LABELS[edition]} edition does not know ({', '.join(TREATMENTS[edition])})."
        )
        return None
    taxes = org_taxes(books, entity.books_org_id)
    if edition == INDIA:
        if intra:
            pool = [t for t in taxes if t.get("tax_type") == "tax_group"]
            kind = "GST group (CGST + SGST)"
        else:
            pool = [t for t in taxes if t.get("tax_specific_type") == "igst"]
            kind = "IGST tax"
    else:
        pool = [
            t
            for t in taxes
            if t.get("tax_type") != "tax_group"
            and not t.get("tax_authority_id")
            and t.get("tax_specific_type") not in ("cgst", "sgst")
        ]
        kind = "VAT tax" if edition == UK else "tax"
    if not _give_taxes(taxed, pool, reasons, lambda pct: f"No {_pct(pct)} {kind} in {org_label}"):
        return None
    return plan


def _give_taxes(taxed: list[dict], pool: list[dict], reasons: list[str], missing) -> bool:
    """Set each taxed line's tax from `pool` by its percentage; a reason per missing percentage."""
    ok = True
    for pct in sorted({Decimal(line["tax_percentage"]) for line in taxed}):
        tax = _at(pool, pct)
        names = ", ".join(line["name"] for line in taxed if Decimal(line["tax_percentage"]) == pct)
        if tax is None:
            text = missing(pct)
            reasons.append(f"{text[0].upper()}{text[1:]} (lines: {names}).")
            ok = False
            continue
        for line in taxed:
            if Decimal(line["tax_percentage"]) == pct:
                line["tax_id"], line["tax_name"] = tax["tax_id"], tax["tax_name"]
    return ok


def tax_map_check(*, entity: LegalEntity, books: BooksClient | None = None) -> list[str]:
    """The entity's tax-map rows checked against its Books organization, in plain words: each authority exists
    and has taxes (listing their rates), and for editions without authorities, which rates Books offers.
    Zoho errors propagate."""
    books = books or BooksClient()
    edition = legal_entity_edition(entity=entity, books=books)
    taxes = org_taxes(books, entity.books_org_id)
    org_label = entity.books_org_name or f"Books organization {entity.books_org_id}"
    findings = []
    rules = TaxRule.objects.filter(Q(legal_entity=entity) | Q(legal_entity__isnull=True))
    for rule in rules.order_by("country", "state"):
        where = f"{rule.country}/{rule.state}" if rule.state else rule.country
        if edition in WITH_AUTHORITIES:
            under = _under_authority(taxes, rule.tax_authority)
            if not rule.tax_authority:
                findings.append(f"{where}: no tax authority, but {org_label} taxes by authority.")
            elif not under:
                findings.append(f"{where}: {org_label} has no tax under the authority {rule.tax_authority}.")
            else:
                rates = _rates(under)
                findings.append(f"{where}: {rule.tax_authority} has taxes at {rates}.")
        else:
            pool = [
                t for t in taxes if not t.get("tax_authority_id") and t.get("tax_specific_type") not in ("cgst", "sgst")
            ]
            rates = _rates(pool) or "none"
            findings.append(f"{where}: treatment {rule.tax_treatment or '—'}; {org_label} offers taxes at {rates}.")
    return findings or [f"No tax-map row applies to {entity.code}: taxed deals for it are blocked."]
