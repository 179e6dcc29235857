"""Plan a deal's invoice: read the Deal, its Account and Products from CRM, check everything that can
be checked before Books is touched, and resolve each taxed line to a Books tax the way the organization's
edition wants it (taxes.py). Every problem is collected, in plain words, so the AE sees all of them at once.
"""

from __future__ import annotations

from decimal import Decimal

from integration.editions import INDIA_STATES, india_state_code
from integration.models import LegalEntity
from integration.money import as_decimal
from integration.normalize import normalize_country, normalize_sku, normalize_state
from integration.services.currencies import currency_plan
from integration.services.customers import currency_mismatch, customer_to_use
from integration.services.entities import legal_entity_edition
from integration.services.taxes import tax_plan
from integration.zoho.books import BooksClient
from integration.zoho.crm import CrmClient


class PushBlocked(Exception):
    """The deal cannot be invoiced as it stands; nothing was written to Books."""

    def __init__(self, reasons: list[str], *, deal_name: str = "", entity: LegalEntity | None = None):
        self.reasons = reasons
        self.deal_name = deal_name
        self.entity = entity
        super().__init__("; ".join(reasons))


def deal_plan(*, deal_id: str, crm: CrmClient | None = None, books: BooksClient | None = None) -> dict:
    """The invoice to create for a deal, or `PushBlocked` with every reason it cannot be created.

    Reads CRM (deal, account, products) and, for taxed deals, the organization's Books taxes (cached); for a
    deal in another currency than the organization's, its currencies (cached); and, unless the Account is linked
    already, the customer it would use — the deal must be in that customer's currency. Nothing is written.
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
        quantity = as_decimal(row.get("Quantity"))
        rate = as_decimal(row.get("Unit_Price") if row.get("Unit_Price") is not None else product.get("Unit_Price"))
        tax = as_decimal(row.get("Tax") or 0)
        if not normalize_sku(sku):
            reasons.append(f"Product “{name}” has no Product_Code (SKU), so it cannot be matched to a Books item.")
        if quantity is None or quantity <= 0:
            reasons.append(f"Line {n} ({name}) has quantity {row.get('Quantity')!r}; it must be more than 0.")
        if rate is None or rate < 0:
            reasons.append(f"Line {n} ({name}) has unit price {row.get('Unit_Price')!r}; it must be 0 or more.")
        if tax is None or tax < 0:
            reasons.append(f"Line {n} ({name}) has tax {row.get('Tax')!r}; it must be a percentage, 0 or more.")
        list_price = as_decimal(product.get("Unit_Price"))
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

    books = books or BooksClient()
    currency = None
    if entity and account:
        legal_entity_edition(entity=entity, books=books)
        currency = currency_plan(books, entity=entity, code=str(deal.get("Currency") or ""), reasons=reasons)
        if currency:
            customer = customer_to_use(
                books,
                org=entity.books_org_id,
                account={
                    "id": str(account["id"]),
                    "name": account_name,
                    "books_customer_id": str(account.get("Books_Customer_Id") or ""),
                },
            )
            problem = currency_mismatch(contact=customer or {}, currency=currency["code"], account_name=account_name)
            if problem:
                reasons.append(problem)

    tax = None
    taxed = [line for line in lines if Decimal(line["tax_percentage"]) > 0]
    raw_state = str((account or {}).get("Billing_State") or "").strip()
    country = normalize_country(str((account or {}).get("Billing_Country") or ""))
    state = _state(country, raw_state) if country else None
    if entity and account:
        if country is None:
            if taxed:
                reasons.append(
                    f"Account “{account_name}” has Billing_Country “{account.get('Billing_Country') or ''}”, "
                    "which is not a country we recognise, so its tax authority is unknown."
                )
        elif state is None:
            if taxed and country == "IN":
                reasons.append(f"Place of supply unknown for state '{raw_state}' (Account “{account_name}”).")
            elif taxed:
                reasons.append(
                    f"Account “{account_name}” has Billing_State “{account.get('Billing_State')}”, "
                    f"which is not a state or region of {country}."
                )
        else:
            tax = tax_plan(
                books,
                entity=entity,
                country=country,
                state=state,
                raw_state=raw_state,
                taxed=taxed,
                reasons=reasons,
            )

    if reasons:
        raise PushBlocked(reasons, deal_name=deal_name, entity=entity)
    assert entity is not None and account is not None and currency is not None
    owner = deal.get("Owner") or {}
    return {
        "deal": {
            "id": deal_id,
            "name": deal_name,
            "currency": currency["code"],
            "owner": owner.get("email") or "",
        },
        "currency": currency,
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
        "tax_authority": (tax or {}).get("authority"),
        "tax": tax or {},
        "lines": lines,
    }


def _state(country: str, raw_state: str) -> str | None:
    """The customer's state as the tax map writes it (ISO 3166-2). Indian states are also known by Books'
    own codes, which differ from ISO for some (Uttarakhand: UK in Books, UT in recent ISO lists)."""
    state = normalize_state(country, raw_state)
    if state is None and country == "IN":
        code = india_state_code(raw_state)
        name = next((n for c, n, _ in INDIA_STATES if c == code), None)
        state = normalize_state(country, name) if name else None
    return state


def plan_changes(old: dict, new: dict) -> list[str]:
    """What differs between a push's plan and one rebuilt now, in plain words (empty: nothing changed)."""
    changes = []
    if old.get("entity") != new.get("entity"):
        changes.append(f"Legal entity: {old.get('entity') or '—'} → {new.get('entity')}")
    if old.get("deal", {}).get("currency") != new.get("deal", {}).get("currency"):
        changes.append(f"Currency: {old.get('deal', {}).get('currency') or '—'} → {new['deal']['currency']}")
    before, after = old.get("account", {}), new.get("account", {})
    for field, label in (("name", "Account name"), ("country", "Country"), ("state", "State")):
        if before.get(field) != after.get(field):
            changes.append(f"{label}: {before.get(field) or '—'} → {after.get(field) or '—'}")
    old_lines = {ln["row_id"]: ln for ln in old.get("lines", [])}
    new_lines = {ln["row_id"]: ln for ln in new.get("lines", [])}
    for row_id, line in new_lines.items():
        was = old_lines.get(row_id)
        if was is None:
            changes.append(f"New line: {line['name']} × {line['quantity']} at {line['rate']}")
            continue
        for field, label in (("quantity", "quantity"), ("rate", "rate"), ("tax_percentage", "tax %"), ("sku", "SKU")):
            if str(was.get(field)) != str(line.get(field)):
                changes.append(f"{line['name']}: {label} {was.get(field)} → {line.get(field)}")
        if was.get("tax_name") != line.get("tax_name"):
            changes.append(f"{line['name']}: tax {was.get('tax_name') or 'none'} → {line.get('tax_name') or 'none'}")
    for row_id, line in old_lines.items():
        if row_id not in new_lines:
            changes.append(f"Line removed: {line['name']}")
    return changes
