"""The currency a deal is invoiced in (CONTRACT.md §5): the Deal's `Currency`, or the organization's base
currency when the Deal has none (CRM without multiple currencies). The organization must have it in Books, with
an exchange rate when it is not the base currency — invoices.yml requires `exchange_rate` then, and we send the
rate Books itself holds. Amounts are rounded to the currency's decimals (`price_precision`)."""

from __future__ import annotations

from decimal import Decimal

from django.core.cache import cache

from integration.models import LegalEntity
from integration.money import as_decimal, books_places
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


def base_currency(entity: LegalEntity | None) -> dict:
    """The plan's currency for a deal in the organization's own currency (no exchange rate, no Books call)."""
    return {
        "code": entity.books_currency if entity else "",
        "id": "",
        "decimals": entity.books_currency_decimals if entity else 2,
        "base": True,
        "exchange_rate": "1",
    }


def currency_plan(books: BooksClient, *, entity: LegalEntity, code: str, reasons: list[str]) -> dict | None:
    """{code, id, decimals, base, exchange_rate} for a deal in `code` ('' = the base currency), or None with a
    reason added when the organization cannot invoice in it. A base-currency deal costs no Books call."""
    org = entity.books_org_name or f"Books organization {entity.books_org_id} ({entity.code})"
    code = (code or entity.books_currency).strip().upper()
    if code == entity.books_currency:
        return base_currency(entity)
    currencies = org_currencies(books, entity.books_org_id)
    row = next((c for c in currencies if str(c.get("currency_code") or "").upper() == code), None)
    if row is None:
        known = ", ".join(sorted(str(c.get("currency_code")) for c in currencies)) or "none"
        reasons.append(
            f"The deal is in {code}, but {org} has no {code} currency (it has {known}). Add {code} in Books "
            "(Settings → Currencies) or change the deal's currency, then press Generate Invoice again."
        )
        return None
    rate = as_decimal(row.get("exchange_rate")) or Decimal(0)
    if rate <= 0:
        reasons.append(
            f"{org} has no exchange rate for {code}: enter one in Books (Settings → Currencies), then press "
            "Generate Invoice again."
        )
        return None
    return {
        "code": code,
        "id": str(row["currency_id"]),
        "decimals": books_places(row.get("price_precision", 2)),
        "base": False,
        "exchange_rate": str(rate),
    }
