"""The push screens: the list (home) and one push's page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_htmx.middleware import HtmxDetails

from integration import selectors
from integration.forms import PushFilterForm
from integration.models import InvoicePush


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


@login_required
def dashboard(request: HtmxHttpRequest) -> HttpResponse:
    """Pushes by state, the configuration tables at a glance, and any Zoho connection problem."""
    state = PushFilterForm(request.GET).state_or_none()
    context = {
        "pushes": selectors.push_list(state=state),
        "counts": selectors.push_counts(),
        "states": InvoicePush.State.choices,
        "selected_state": state,
        **selectors.configuration_tables(),
    }
    template = "integration/dashboard.html#push-table" if request.htmx else "integration/dashboard.html"
    return render(request, template, context)


@login_required
def push_detail(request: HtmxHttpRequest, push_id: int) -> HttpResponse:
    """One push: its plan, outcome and timeline; payments, credit notes and refunds from Books, read-only."""
    return render(request, "integration/push_detail.html", selectors.push_page(push_id=push_id))
