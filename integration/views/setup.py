"""The setup screen (finance-admin): everything needed to wire Zoho to this installation, and its live status."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from integration import selectors, setup_guide
from integration.views.access import role_required


@role_required("integration.change_legalentity")
def setup(request: HttpRequest) -> HttpResponse:
    status = selectors.setup_status()
    for row in status["organizations"]:
        row["webhook_url"] = setup_guide.webhook_endpoint(row["entity"].books_org_id)
    context = {
        **status,
        "deluge": setup_guide.deluge_function(),
        "button_url": setup_guide.button_endpoint(),
        "secret_variable": setup_guide.SECRET_VARIABLE,
        "crm_fields": setup_guide.CRM_FIELDS,
        "webhook_rules": setup_guide.WEBHOOK_RULES,
        "scopes": setup_guide.OAUTH_SCOPES,
    }
    return render(request, "integration/setup.html", context)
