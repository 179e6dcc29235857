"""`{{ amount|money:"EUR" }}`: an amount in its currency's decimals, with its code."""

from __future__ import annotations

from django import template

from integration.money import format_money

register = template.Library()


@register.filter(name="money")
def money(value, code: str = "") -> str:
    return format_money(value, code or "")
