"""The currency a deal is invoiced in (CONTRACT.md §5): the Deal's `Currency`, or the organization's base
currency when the Deal has none (CRM without multiple currencies). The organization must have it in Books, with
an exchange rate when it is not the base currency — invoices.yml requires `exchange_rate` then, and we send the
rate Books itself holds. Amounts are rounded to the currency's decimals (`price_precision`)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.cache import cache

from integration.models import LegalEntity
from integration.zoho.books import BooksClient

CURRENCIES_CACHE_SECONDS = 600


def org_currencies(books: BooksClient, organization_id: str) -> list[dict]:
    """The organization's Books currencies (every page), cached ten minutes."""
    key = f"books:currencies:{organization_id}"
    currencies = cache.get(key)
    if currencies is None:
        currencies = books.currencies(organization_id)
        cache.set(key, currencies, CURRENCIES_CACHE_SECONDS)
    return currencies


def currency_plan(books: BooksClient, *, entity: LegalEntity, code: str, reasons: list[str]) -> dict | None:
    """{code, id, decimals, base, exchange_rate} for a deal in `code` ('' = the base currency), or None with a
    reason added when the organization cannot invoice in it. A base-currency deal costs no Books call."""
    org = entity.books_org_name or f"Books organization {entity.books_org_id} ({entity.code})"
    code = (code or entity.books_currency).strip().upper()
    if code == entity.books_currency:
        return {"code": code, "id": "", "decimals": entity.books_currency_decimals, "base": True, "exchange_rate": "1"}
    currencies = org_currencies(books, entity.books_org_id)
    row = next((c for c in currencies if str(c.get("currency_code") or "").upper() == code), None)
    if row is None:
        known = ", ".join(sorted(str(c.get("currency_code")) for c in currencies)) or "none"
        reasons.append(
            f"The deal is in {code}, but {org} has no {code} currency (it has {known}). Add {code} in Books "
            "(Settings → Currencies) or change the deal's currency, then press Generate Invoice again."
        )
        return None
    try:
        rate = Decimal(str(row.get("exchange_rate") or 0))
    except InvalidOperation:
        rate = Decimal(0)
    if not rate.is_finite() or rate <= 0:
        reasons.append(
            f"{org} has no exchange rate for {code}: enter one in Books (Settings → Currencies), then press "
            "Generate Invoice again."
        )
        return None
    try:
        decimals = max(0, min(6, int(row.get("price_precision", 2))))
    except (TypeError, ValueError):
        decimals = 2
    return {
        "code": code,
        "id": str(row["currency_id"]),
        "decimals": decimals,
        "base": False,
        "exchange_rate": str(rate),
    }
