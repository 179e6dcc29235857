"""What every dashboard screen shows at the top: Zoho connection problems and Books pauses."""

from __future__ import annotations

from django.http import HttpRequest

from integration import selectors
from integration.views.access import has_role


def zoho_status(request: HttpRequest) -> dict:
    if not has_role(request.user):
        return {}  # no role, no data
    return selectors.banners()
