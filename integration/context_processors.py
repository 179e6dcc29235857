"""What every dashboard screen shows at the top: Zoho connection problems and Books pauses."""

from __future__ import annotations

from django.http import HttpRequest

from integration import selectors


def zoho_status(request: HttpRequest) -> dict:
    if not request.user.is_authenticated:
        return {}
    return {"token_problem": selectors.zoho_token_problem(), "books_pauses": selectors.books_pauses()}
