"""Dashboard screens. Thin: validate, call a selector or service, render."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_htmx.middleware import HtmxDetails

from integration import selectors
from integration.models import InvoicePush, LegalEntity, TaxRule


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


@login_required
def dashboard(request: HtmxHttpRequest) -> HttpResponse:
    """Pushes by state, the configuration tables at a glance, and any Zoho connection problem."""
    state = request.GET.get("state") or None
    if state not in InvoicePush.State.values:
        state = None
    context = {
        "pushes": selectors.push_list(state=state),
        "counts": selectors.push_counts(),
        "states": InvoicePush.State.choices,
        "selected_state": state,
        "entities": LegalEntity.objects.all(),
        "tax_rules": TaxRule.objects.select_related("legal_entity"),
        "token_problem": selectors.zoho_token_problem(),
    }
    template = "integration/dashboard.html#push-table" if request.htmx else "integration/dashboard.html"
    return render(request, template, context)
