"""Plan a deal's invoice: read the Deal, its Account and Products from CRM, check everything that can
be checked before Books is touched, and resolve each taxed line to a Books tax under the region's
authority. Every problem is collected, in plain words, so the AE sees all of them at once.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from integration.models import LegalEntity
from integration.normalize import normalize_country, normalize_sku, normalize_state
from integration.selectors import tax_rule_for
from integration.zoho.books import BooksClient
from integration.zoho.crm import CrmClient

TAXES_CACHE_SECONDS = 600


class PushBlocked(Exception):
    """The deal cannot be invoiced as it stands; nothing was written to Books."""

    def __init__(self, reasons: list[str], *, deal_name: str = "", entity: LegalEntity | None = None):
        self.reasons = reasons
        self.deal_name = deal_name
        self.entity = entity
        super().__init__("; ".join(reasons))


def org_taxes(books: BooksClient, organization_id: str) -> list[dict]:
    """The organization's Books taxes, each with its authority's name, cached for ten minutes."""
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


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        return None
    return result if result.is_finite() else None


def _percent(value: Decimal) -> str:
    return f"{value.normalize():f}%"


def deal_plan(*, deal_id: str, crm: CrmClient | None = None, books: BooksClient | None = None) -> dict:
    """The invoice to create for a deal, or `PushBlocked` with every reason it cannot be created.

    Reads CRM (deal, account, products) and, for taxed deals, the organization's Books taxes (cached).
    Zoho errors propagate: the caller decides to plan again later.
    """
    crm = crm or CrmClient()
    deal = crm.record_get("Deals", deal_id)
    if deal is None:
        raise PushBlocked([f"There is no deal {deal_id} in CRM."])
    deal_name = str(deal.get("Deal_Name") or "")
    reasons: list[str] = []

    stage = deal.get("Stage") or ""
    if stage != "Closed Won":
        reasons.append(f"The deal is at stage “{stage or 'none'}”; only Closed Won deals can be invoiced.")

    account_ref = deal.get("Account_Name") or {}
    account = crm.record_get("Accounts", str(account_ref["id"])) if account_ref.get("id") else None
    account_name = str((account or {}).get("Account_Name") or account_ref.get("name") or "")
    entity = None
    if not account_ref.get("id"):
        reasons.append(
            "The deal has no Account, only a Contact. Link it to the customer's Account: "
            "invoices go to the company, never to one person."
        )
    elif account is None:
        reasons.append(f"The deal's Account {account_ref['id']} does not exist in CRM.")
    else:
        code = str(account.get("Legal_Entity") or "").strip()
        known = ", ".join(LegalEntity.objects.filter(active=True).values_list("code", flat=True)) or "none yet"
        if not code:
            reasons.append(f"Account “{account_name}” has no Legal_Entity, so no Books organization can be chosen.")
        else:
            entity = LegalEntity.objects.filter(code=code).first()
            if entity is None:
                reasons.append(f"Legal entity “{code}” (Account “{account_name}”) is not set up here (known: {known}).")
            elif not entity.active:
                reasons.append(f"Legal entity “{code}” is switched off in Invoice Bridge.")
                entity = None

    rows = deal.get("Products") or []
    if not rows:
        reasons.append("The deal has no product lines.")
    product_ids = list(
        dict.fromkeys(str((r.get("Product") or {}).get("id")) for r in rows if (r.get("Product") or {}).get("id"))
    )
    products = {str(p["id"]): p for p in crm.records_get("Products", product_ids)} if product_ids else {}

    lines: list[dict] = []
    for n, row in enumerate(rows, start=1):
        ref = row.get("Product") or {}
        product = products.get(str(ref.get("id")))
        label = ref.get("name") or f"line {n}"
        if product is None:
            reasons.append(f"Line {n} ({label}) has no product in CRM.")
            continue
        name = str(product.get("Product_Name") or label)
        sku = str(product.get("Product_Code") or "").strip()
        quantity = _decimal(row.get("Quantity"))
        rate = _decimal(row.get("Unit_Price") if row.get("Unit_Price") is not None else product.get("Unit_Price"))
        tax = _decimal(row.get("Tax") or 0)
        if not normalize_sku(sku):
            reasons.append(f"Product “{name}” has no Product_Code (SKU), so it cannot be matched to a Books item.")
        if quantity is None or quantity <= 0:
            reasons.append(f"Line {n} ({name}) has quantity {row.get('Quantity')!r}; it must be more than 0.")
        if rate is None or rate < 0:
            reasons.append(f"Line {n} ({name}) has unit price {row.get('Unit_Price')!r}; it must be 0 or more.")
        if tax is None or tax < 0:
            reasons.append(f"Line {n} ({name}) has tax {row.get('Tax')!r}; it must be a percentage, 0 or more.")
        list_price = _decimal(product.get("Unit_Price"))
        lines.append(
            {
                "row_id": str(row.get("id") or n),
                "product_id": str(product["id"]),
                "name": name,
                "sku": sku,
                "description": str(product.get("Description") or ""),
                "quantity": str(quantity or 0),
                "rate": str(rate or 0),
                "tax_percentage": str(tax or 0),
                "list_price": str(list_price if list_price is not None else rate or 0),
                "tax_id": "",
                "tax_name": "",
            }
        )

    tax_authority = None
    taxed = [line for line in lines if Decimal(line["tax_percentage"]) > 0]
    country = normalize_country(str((account or {}).get("Billing_Country") or ""))
    state = normalize_state(country, str((account or {}).get("Billing_State") or "")) if country else None
    if taxed and entity and account:
        if country is None:
            reasons.append(
                f"Account “{account_name}” has Billing_Country “{account.get('Billing_Country') or ''}”, "
                "which is not a country we recognise, so its tax authority is unknown."
            )
        elif state is None:
            reasons.append(
                f"Account “{account_name}” has Billing_State “{account.get('Billing_State')}”, "
                f"which is not a state or region of {country}."
            )
        else:
            tax_authority = _resolve_taxes(
                books or BooksClient(), entity=entity, country=country, state=state, taxed=taxed, reasons=reasons
            )

    if reasons:
        raise PushBlocked(reasons, deal_name=deal_name, entity=entity)
    assert entity is not None and account is not None
    owner = deal.get("Owner") or {}
    return {
        "deal": {
            "id": deal_id,
            "name": deal_name,
            "currency": deal.get("Currency") or "",
            "owner": owner.get("email") or "",
        },
        "account": {
            "id": str(account["id"]),
            "name": account_name,
            "books_customer_id": str(account.get("Books_Customer_Id") or ""),
            "billing_country": str(account.get("Billing_Country") or ""),
            "billing_state": str(account.get("Billing_State") or ""),
            "country": country or "",
            "state": state or "",
        },
        "entity": entity.code,
        "organization_id": entity.books_org_id,
        "tax_authority": tax_authority,
        "date": timezone.localdate().isoformat(),
        "lines": lines,
    }


def _resolve_taxes(
    books: BooksClient, *, entity: LegalEntity, country: str, state: str, taxed: list[dict], reasons: list[str]
) -> dict | None:
    """Give each taxed line the Books tax at its percentage under the region's authority."""
    where = f"{country}/{state}" if state else country
    rule = tax_rule_for(legal_entity=entity, country=country, state=state)
    if rule is None:
        reasons.append(f"No tax authority for {where} in entity {entity.code}.")
        return None
    org = entity.books_org_id
    under = [
        t
        for t in org_taxes(books, org)
        if t.get("tax_authority_name") == rule.tax_authority and t.get("tax_authority_id")
    ]
    if not under:
        reasons.append(
            f"Books organization {org} ({entity.code}) has no tax under the tax authority {rule.tax_authority}, "
            f"which the tax map names for {where}."
        )
        return None
    for pct in sorted({Decimal(line["tax_percentage"]) for line in taxed}):
        matches = sorted((t for t in under if Decimal(str(t["tax_percentage"])) == pct), key=lambda t: t["tax_id"])
        if not matches:
            names = ", ".join(line["name"] for line in taxed if Decimal(line["tax_percentage"]) == pct)
            reasons.append(
                f"Books organization {org} ({entity.code}) has no {_percent(pct)} tax under the tax authority "
                f"{rule.tax_authority} for {where} (lines: {names})."
            )
            continue
        for line in taxed:
            if Decimal(line["tax_percentage"]) == pct:
                line["tax_id"], line["tax_name"] = matches[0]["tax_id"], matches[0]["tax_name"]
    return {"name": rule.tax_authority, "id": under[0]["tax_authority_id"]}
