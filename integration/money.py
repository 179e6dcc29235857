"""Money as Books keeps it: Decimal, in the invoice's currency, rounded half up to the currency's decimals.

Books rounds each line's tax to the currency's decimals (`price_precision`); how it rounds halves is not
documented, and half up matches every published example — so a line of 0.10 at 5 % carries 0.01 of tax, where
Python's default (half to even) would say 0.00. Once an invoice exists, screens show Books' own figures."""

from __future__ import annotations

from copy import copy
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from babel import Locale
from babel.numbers import UnknownCurrencyError, get_currency_precision, parse_pattern
from django.conf import settings


def currency_decimals(code: str) -> int:
    """ISO 4217's minor units for `code` (2 when the code is not a currency): the decimals a currency's amounts
    carry when Books has not said."""
    try:
        return get_currency_precision(str(code or "").upper()) if code else 2
    except UnknownCurrencyError:
        return 2


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


def format_money(value: Any, code: str = "", decimals: int | None = None, *, symbol: bool = False) -> str:
    """An amount as finance reads it, formatted by Babel for MONEY_LOCALE (default en_US) in the currency's
    decimals (or `decimals`, Books' own precision): `$1,234.50`, `CA$1,234.50`, `₹233,640.00` with `symbol`;
    `1,234.50 USD` without (chat messages, exports). `—` when there is no amount."""
    amount = as_decimal(value)
    if amount is None:
        return "—"
    code = str(code or "").upper()
    places = currency_decimals(code) if decimals is None else decimals
    amount = round_money(amount, places)
    locale = Locale.parse(settings.MONEY_LOCALE)
    if symbol and code:
        pattern = copy(locale.currency_formats["standard"])
        pattern.frac_prec = (places, places)
        try:
            return pattern.apply(amount, locale, currency=code, currency_digits=False)
        except UnknownCurrencyError:
            pass
    number = _number_pattern(places).apply(amount, locale)
    return f"{number} {code}" if code else number


def _number_pattern(places: int):
    return parse_pattern("#,##0." + "0" * places if places else "#,##0")
