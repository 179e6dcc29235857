"""The setup screen (finance-admin): everything needed to wire Zoho to this installation, its live status, and
the preflight check ("Check everything", the same as `manage.py zoho_check`)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from integration import selectors, setup_guide
from integration.services.preflight import zoho_check
from integration.views.access import role_required

TOKEN_SAID = {
    "ok": "connected",
    "refused": "refused by Zoho",
    "throttled": "Zoho asked us to wait before the next token refresh",
    "not-configured": "not configured (ZOHO_CLIENT_ID, ZOHO_CLIENT_SECRET and ZOHO_REFRESH_TOKEN are needed)",
    "not-yet-refreshed": "configured, not used yet (Check everything tries it)",
}


def _context() -> dict:
    status = selectors.setup_status()
    status["token_said"] = TOKEN_SAID[status["token_state"]]
    for row in status["organizations"]:
        row["webhook_url"] = setup_guide.webhook_endpoint(row["entity"].books_org_id)
    return {
        **status,
        "deluge": setup_guide.deluge_function(),
        "button_url": setup_guide.button_endpoint(),
        "url_problem": setup_guide.public_url_problem(),
        "secret_variable": setup_guide.SECRET_VARIABLE,
        "crm_fields": setup_guide.CRM_FIELDS,
        "subform": setup_guide.SUBFORM,
        "subform_columns": setup_guide.SUBFORM_COLUMNS,
        "webhook_rules": setup_guide.WEBHOOK_RULES,
        "scopes": setup_guide.OAUTH_SCOPES,
        "signin_callback": f"{settings.PUBLIC_BASE_URL}{reverse('zoho_callback')}",
        "signin_on": bool(settings.ZOHO_SIGNIN_CLIENT_ID),
        "alerts_on": bool(settings.CLIQ_ALERTS_URL),
    }


@role_required("integration.change_legalentity")
def setup(request: HttpRequest) -> HttpResponse:
    return render(request, "integration/setup.html", _context())


@require_POST
@role_required("integration.change_legalentity")
def setup_check(request: HttpRequest) -> HttpResponse:
    """Run the preflight check now (read-only against Zoho) and show each finding, problems first."""
    findings = zoho_check()
    results = {"findings": sorted(findings, key=lambda f: not f.problem), "problems": sum(f.problem for f in findings)}
    # The status table is read again after the check: the check refreshed each organization's details.
    template = "integration/setup.html#live" if request.htmx else "integration/setup.html"
    return render(request, template, {**_context(), **results, "checked": True})
