"""Each taxed line's Books tax, and the invoice's tax fields, by the organization's Books edition
(CONTRACT.md §5). Every way it can fail is a plain-words reason, found before anything is written to Books.

- US and Canada: the tax-map row names the authority (agency); the line's tax is the organization's tax at
  that percentage under it, never an authority-less one. US invoices also carry `tax_authority_id`.
- UK: the row's treatment is the invoice's `vat_treatment`; the line's tax is the VAT tax at that percentage.
- India: `place_of_supply` is the customer's state as Books' own code; `gst_treatment` is the row's treatment;
  the line's tax is the intra-state GST group (CGST + SGST) at that percentage when the place of supply is the
  organization's home state, the IGST tax otherwise.
- GCC, Mexico, Kenya, South Africa: the row's treatment as `tax_treatment` (in the GCC also `place_of_supply`: the
  customer's GCC country, or in the UAE its emirate); the line's tax is the organization's tax at that percentage.
- Editions with no documented treatment (EU, Australia…): the tax at that percentage; no tax-map row is needed.

Inactive taxes are never chosen (Books lists them, and refuses them on invoices).
"""

from __future__ import annotations

from decimal import Decimal

from django.core.cache import cache
from django.db.models import Q

from integration.editions import (
    GCC,
    INDIA,
    LABELS,
    TREATMENT_FIELD,
    UK,
    US,
    WITH_AUTHORITIES,
    gcc_place_of_supply,
    has_treatments,
    india_state_code,
    treatments,
)
from integration.models import LegalEntity, TaxRule
from integration.selectors import tax_rule_for
from integration.services.entities import legal_entity_edition
from integration.zoho.books import BooksClient
from integration.zoho.errors import ZohoError

TAXES_CACHE_SECONDS = 600


def org_taxes(books: BooksClient, organization_id: str, *, fresh: bool = False) -> list[dict]:
    """The organization's active Books taxes (and tax groups), every page, each with its authority's name, cached
    ten minutes. Books' list does not document a status, but lists retired taxes: one marked `inactive` is left
    out (Books refuses it on an invoice); one without a status counts as active."""
    key = f"books:taxes:{organization_id}"
    taxes = None if fresh else cache.get(key)
    if taxes is None:
        taxes = [t for t in books.taxes(organization_id) if str(t.get("status") or "active") != "inactive"]
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

    # Editions without authorities: a treatment where the edition has one, and in India and the GCC a place of supply.
    intra = False
    if edition == INDIA and country == "IN":
        place = india_state_code(raw_state or state)
        if place is None:
            reasons.append(f"Place of supply unknown for state '{raw_state or state}'.")
            return None
        plan["place_of_supply"] = place
        intra = place == india_state_code(entity.books_home_state)
    if edition == GCC:
        plan["place_of_supply"] = gcc_place_of_supply(country, state) or ""
    if rule is not None and has_treatments(edition):
        plan["treatment_field"], plan["treatment"] = TREATMENT_FIELD[edition], rule.tax_treatment
    if not taxed:
        return plan
    word = {UK: "VAT treatment", INDIA: "GST treatment"}.get(edition, "tax treatment")
    if has_treatments(edition):
        known = treatments(edition, entity.books_country)
        if rule is None or not rule.tax_treatment:
            reasons.append(
                f"No {word} for {where} in entity {entity.code}: {org_label} is in the "
                f"{LABELS.get(edition, edition)} edition, so its tax-map row needs a tax_treatment."
            )
            return None
        if rule.tax_treatment not in known:
            reasons.append(
                f"The tax map gives {where} the {word} “{rule.tax_treatment}”, which the "
                f"{LABELS[edition]} edition does not know ({', '.join(known)})."
            )
            return None
        if edition == GCC and not plan["place_of_supply"] and rule.tax_treatment != "non_gcc":
            reasons.append(
                f"The {word} “{rule.tax_treatment}” needs a place of supply in the GCC, but {where} is not in it."
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


def tax_rule_problem(*, rule: TaxRule, entity: LegalEntity, taxes: list[dict]) -> str:
    """What stops this tax-map row from taxing a deal in the entity's Books organization (its edition known,
    `taxes` its active taxes), in plain words with the fix; '' when nothing does."""
    edition = entity.books_edition
    where = f"{rule.country}/{rule.state}" if rule.state else rule.country
    org = entity.books_org_name or f"Books organization {entity.books_org_id}"
    label = LABELS.get(edition, edition)
    if edition in WITH_AUTHORITIES:
        known = ", ".join(sorted({t["tax_authority_name"] for t in taxes if t.get("tax_authority_id")})) or "none"
        if not rule.tax_authority:
            return f"tax map {where}: {org} taxes by tax authority, but the row gives a treatment; name the authority."
        if not _under_authority(taxes, rule.tax_authority):
            return (
                f"tax map {where}: {org} has no active tax under the tax authority {rule.tax_authority} "
                f"(its authorities: {known}); choose one of them for the rule."
            )
        return ""
    if not has_treatments(edition):
        return (
            f"tax map {where}: {org} is in the {label} edition, which has neither tax authorities nor treatments; "
            "delete the row (its deals need none)."
        )
    known = treatments(edition, entity.books_country)
    if rule.tax_authority:
        return (
            f"tax map {where}: the {label} edition has no tax authorities; "
            f"give a tax treatment instead ({', '.join(known)})."
        )
    if rule.tax_treatment not in known:
        return (
            f"tax map {where}: the {label} edition does not know the treatment “{rule.tax_treatment}” "
            f"(it knows {', '.join(known)})."
        )
    return ""


def tax_rules_of(entity: LegalEntity):
    """The tax-map rows that can apply to the entity's organization: its own, and the all-entities rows of the
    organization's own country."""
    own_country = Q(legal_entity__isnull=True, country=entity.books_country) if entity.books_country else Q(pk=None)
    return TaxRule.objects.filter(Q(legal_entity=entity) | own_country).order_by("country", "state")


def tax_map_check(*, entity: LegalEntity, books: BooksClient | None = None) -> list[str]:
    """The entity's tax-map rows checked against its Books organization, in plain words: each authority exists
    and has taxes (listing their rates), and for editions without authorities, which rates Books offers.
    Zoho errors propagate."""
    books = books or BooksClient()
    legal_entity_edition(entity=entity, books=books)
    taxes = org_taxes(books, entity.books_org_id)
    org_label = entity.books_org_name or f"Books organization {entity.books_org_id}"
    findings = []
    for rule in tax_rules_of(entity):
        problem = tax_rule_problem(rule=rule, entity=entity, taxes=taxes)
        where = f"{rule.country}/{rule.state}" if rule.state else rule.country
        if problem:
            findings.append(problem)
        elif rule.tax_authority:
            findings.append(
                f"{where}: {rule.tax_authority} has taxes at {_rates(_under_authority(taxes, rule.tax_authority))}."
            )
        else:
            pool = [
                t for t in taxes if not t.get("tax_authority_id") and t.get("tax_specific_type") not in ("cgst", "sgst")
            ]
            findings.append(
                f"{where}: treatment {rule.tax_treatment}; {org_label} offers taxes at {_rates(pool) or 'none'}."
            )
    if not findings and not has_treatments(entity.books_edition) and entity.books_edition not in WITH_AUTHORITIES:
        return [f"{org_label} needs no tax-map row: each taxed line takes its tax at the line's rate."]
    return findings or [f"No tax-map row applies to {entity.code}: taxed deals for it are blocked."]


def authority_taxes(entity: LegalEntity) -> dict[str, list[dict]] | None:
    """The tax authorities Books has for the entity's organization, by name, each with its active taxes
    (name and rate), read from Books and cached ten minutes; None when Books cannot be read just now."""
    try:
        taxes = org_taxes(BooksClient(), entity.books_org_id)
    except ZohoError:
        return None
    found: dict[str, list[dict]] = {}
    for tax in taxes:
        if tax.get("tax_authority_id") and tax.get("tax_authority_name"):
            found.setdefault(tax["tax_authority_name"], []).append(tax)
    return {name: sorted(found[name], key=lambda t: Decimal(str(t["tax_percentage"]))) for name in sorted(found)}


def authority_problem(authority: str, entities: list[LegalEntity]) -> str:
    """Why `authority` cannot be saved for these entities (the rule's one, or every active one taxing by authority
    when the rule is for all): "" when one of their Books organizations has it, or when none could be read now
    (the value is checked again when a deal is planned, and by "Check its tax map in Books")."""
    known: dict[str, list[dict]] = {}
    read = False
    for entity in entities:
        if entity.books_edition not in WITH_AUTHORITIES:
            continue
        found = authority_taxes(entity)
        if found is not None:
            read = True
            known |= found
    if not read or authority in known:
        return ""
    listed = "; ".join(f"{name} ({_rates(taxes)})" for name, taxes in known.items()) or "none"
    names = ", ".join(e.code for e in entities if e.books_edition in WITH_AUTHORITIES)
    return f"Books has no tax authority “{authority}” in the organization of {names}. It has: {listed}"
