"""What every dashboard screen shows at the top: the health strip (Zoho connection problems, Books pauses,
organizations that cannot be read, allowances nearly spent, failing webhooks). Read lazily: an htmx fragment that
does not show the strip costs no query for it."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from integration import selectors
from integration.views.access import has_role


def zoho_status(request: HttpRequest) -> dict:
    if not has_role(request.user):
        return {}  # no role, no data
    return {"status": SimpleLazyObject(selectors.banners)}
