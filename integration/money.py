"""Money as Books keeps it: Decimal, in the invoice's currency, rounded half up to the currency's decimals.

Books rounds each line's tax to the currency's decimals (`price_precision`); how it rounds halves is not
documented, and half up matches every published example — so a line of 0.10 at 5 % carries 0.01 of tax, where
Python's default (half to even) would say 0.00. Once an invoice exists, screens show Books' own figures."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

# ISO 4217 minor units where they are not 2: the decimals a currency's amounts carry when Books has not said.
MINOR_UNITS = {
    **dict.fromkeys(["JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF", "PYG", "RWF"], 0),
    **dict.fromkeys(["KWD", "BHD", "OMR", "JOD", "TND", "IQD", "LYD"], 3),
}


def currency_decimals(code: str) -> int:
    return MINOR_UNITS.get(str(code or "").upper(), 2)


def books_places(price_precision: Any, *, default: int = 2, most: int = 6) -> int:
    """Books' `price_precision` (a currency's decimals) as a number of places from 0 to `most`; `default` when
    Books gives none or one that is not a number."""
    try:
        return max(0, min(most, int(price_precision)))
    except (TypeError, ValueError):
        return default


def as_decimal(value: Any) -> Decimal | None:
    """A finite Decimal from a JSON number or numeric string, else None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        return None
    return result if result.is_finite() else None


def round_money(value: Any, decimals: int = 2) -> Decimal:
    """`value` rounded as Books rounds: half up, to `decimals`."""
    return (as_decimal(value) or Decimal(0)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def line_amounts(quantity: Any, rate: Any, tax_percentage: Any, decimals: int = 2) -> tuple[Decimal, Decimal]:
    """(amount, tax) of one invoice line, each rounded as Books rounds them, per line."""
    amount = round_money(Decimal(str(quantity)) * Decimal(str(rate)), decimals)
    return amount, round_money(amount * Decimal(str(tax_percentage)) / 100, decimals)


def format_money(value: Any, code: str = "", decimals: int | None = None) -> str:
    """`1,234.50 USD`-style text for screens and messages, in the currency's decimals."""
    amount = as_decimal(value)
    if amount is None:
        return "—"
    places = currency_decimals(code) if decimals is None else decimals
    text = f"{round_money(amount, places):,.{places}f}"
    return f"{text} {code}" if code else text
