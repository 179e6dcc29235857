"""`{{ amount|money:"EUR" }}`: an amount as finance reads it (`€1,234.50`), in its currency's decimals;
`{{ mode|payment_mode }}`: Books' payment mode word (`banktransfer`) as people say it."""

from __future__ import annotations

from babel.numbers import format_decimal
from django import template
from django.conf import settings

from integration.money import format_money

register = template.Library()


@register.filter(name="money")
def money(value, code: str = "") -> str:
    return format_money(value, code or "", symbol=True)


# Books' payment_mode values (customer payments) and how a person says them.
PAYMENT_MODES = {
    "banktransfer": "Bank transfer",
    "bankremittance": "Bank remittance",
    "creditcard": "Credit card",
    "check": "Check",
    "cash": "Cash",
    "autotransaction": "Automatic charge",
    "paypal": "PayPal",
    "stripe": "Stripe",
    "others": "Other",
}


@register.filter(name="payment_mode")
def payment_mode(value: str) -> str:
    text = str(value or "")
    return PAYMENT_MODES.get(text.lower().replace(" ", ""), text.replace("_", " ").capitalize() or "—")


@register.filter(name="count")
def count(value) -> str:
    """A whole number with the locale's separators (`1,000`), by Babel."""
    try:
        return format_decimal(int(value), locale=settings.MONEY_LOCALE)
    except (TypeError, ValueError):
        return str(value)
