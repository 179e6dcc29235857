"""Zoho Books v3 client: one method per endpoint we use. Every call carries `organization_id`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
from django.conf import settings

from integration import ledger
from integration.ratelimit import books_acquire, books_pause, quota_exceeded
from integration.zoho import scopes
from integration.zoho.auth import TokenManager
from integration.zoho.errors import (
    ZohoAuthError,
    ZohoBadId,
    ZohoNotFound,
    ZohoQuotaExceeded,
    ZohoRateLimited,
    ZohoRejected,
    ZohoRetryable,
    json_body,
    retry_after_seconds,
)
from integration.zoho.http import ZohoApiClient

PER_PAGE = 200
BOOKS_ID = re.compile(r"^[0-9]{1,30}$")


def books_id(value: Any) -> str:
    """A Books record id (a string of digits), or ValueError: ids from webhooks and forms go into URL paths."""
    text = str(value if value is not None else "").strip()
    if not BOOKS_ID.match(text):
        raise ZohoBadId(f"{text[:40]!r} is not a Books id (Books ids are digits)")
    return text


def _seg(value: Any) -> str:
    """One URL path segment, escaped whatever it holds."""
    return quote(str(value), safe="")


def books_result(response: httpx.Response) -> dict:
    """Books' envelope, or the mapped error. `code != 0` is an error even on a 2xx."""
    body = json_body(response)
    code = body.get("code")
    status = response.status_code
    message = str(body.get("message") or f"Books answered HTTP {status}")
    # The daily cap also comes with HTTP 429: look at Books' code before the status.
    if code == 45:
        raise ZohoQuotaExceeded(f"Books' daily API limit is used up: {message}", code=code, status=status)
    if status == 429 or code == 44:
        raise ZohoRateLimited(message, code=code or 44, status=status, retry_after=retry_after_seconds(response))
    if code == 1070:  # too many concurrent calls for the organization
        raise ZohoRateLimited(message, code=code, status=status, retry_after=retry_after_seconds(response))
    if status >= 500 or code == 1000:
        raise ZohoRetryable(message, code=code, status=status)
    if status == 401 or code == 57:
        raise ZohoAuthError(message, code=code, status=status)
    if status == 404 or code == 1002:
        raise ZohoNotFound(message, code=code, status=status)
    if status >= 400 or code not in (0, None):
        raise ZohoRejected(message, code=code, status=status)
    if code is None:
        raise ZohoRetryable(f"Books answered HTTP {status} without its JSON envelope", status=status)
    return body


class BooksClient(ZohoApiClient):
    service = "Zoho Books"

    def default_tokens(self) -> TokenManager:
        return TokenManager.from_settings()

    def default_base_url(self) -> str:
        return f"{settings.ZOHO_API_DOMAIN}/books/v3"

    def is_token_error(self, response: httpx.Response) -> bool:
        return json_body(response).get("code") == 57 or response.status_code == 401

    _reserved = 0
    sent = 0  # calls this client has sent (a slot taken and the request made), for reports of what work cost

    def reserve_slot(self, org: str) -> None:
        """Take the rate-limit slot for the next call now (so the caller can record intent after waiting)."""
        books_acquire(org)
        self._reserved += 1

    def before_send(self, params: dict | None) -> None:
        org = (params or {})["organization_id"]
        if self._reserved:
            self._reserved -= 1
        else:
            books_acquire(org)
        self.sent += 1
        ledger.count(org)

    def _result(self, org: str, response: httpx.Response) -> dict:
        try:
            return books_result(response)
        except ZohoQuotaExceeded as exc:
            pause = books_pause(org, reason=str(exc))
            raise quota_exceeded(org, pause.until) from None

    def _get(self, org: str, path: str, scope: str, **params: Any) -> dict:
        return self._result(org, self.call("GET", path, scope=scope, params={"organization_id": org, **params}))

    def _post(self, org: str, path: str, scope: str, payload: dict | None = None, **params: Any) -> dict:
        return self._result(
            org, self.call("POST", path, scope=scope, params={"organization_id": org, **params}, json=payload or {})
        )

    def _pages(self, org: str, path: str, key: str, scope: str, **params: Any) -> Iterator[dict]:
        page = 1
        while True:
            body = self._get(org, path, scope, page=page, per_page=PER_PAGE, **params)
            yield from body.get(key, [])
            if not body.get("page_context", {}).get("has_more_page"):
                return
            page += 1

    # --- organization and settings ----------------------------------------------------------
    def organization_get(self, org: str) -> dict:
        """GET /organizations/{id}: name, currency_code, time_zone and the address whose country and state place it."""
        return self._get(org, f"/organizations/{_seg(books_id(org))}", scopes.BOOKS_SETTINGS_READ)["organization"]

    def currencies(self, org: str) -> list[dict]:
        """GET /settings/currencies — every page: currency_id, currency_code, price_precision, exchange_rate…"""
        return list(self._pages(org, "/settings/currencies", "currencies", scopes.BOOKS_SETTINGS_READ))

    def taxes(self, org: str) -> list[dict]:
        """GET /settings/taxes — every page (a US organization with county and city taxes has more than 200)."""
        return list(self._pages(org, "/settings/taxes", "taxes", scopes.BOOKS_SETTINGS_READ))

    def tax_authorities(self, org: str) -> list[dict]:
        """GET /settings/taxauthorities"""
        return self._get(org, "/settings/taxauthorities", scopes.BOOKS_SETTINGS_READ).get("tax_authorities", [])

    # --- contacts -------------------------------------------------------------------------
    def contacts_search(self, org: str, **filters: str) -> list[dict]:
        """GET /contacts?…&filter_by=Status.All — every page, active and inactive."""
        return list(
            self._pages(org, "/contacts", "contacts", scopes.BOOKS_CONTACTS_READ, filter_by="Status.All", **filters)
        )

    def contact_get(self, org: str, contact_id: str) -> dict:
        """GET /contacts/{id}"""
        return self._get(org, f"/contacts/{_seg(books_id(contact_id))}", scopes.BOOKS_CONTACTS_READ)["contact"]

    def contact_mark_active(self, org: str, contact_id: str) -> None:
        """POST /contacts/{id}/active"""
        self._post(org, f"/contacts/{_seg(books_id(contact_id))}/active", scopes.BOOKS_CONTACTS_CREATE)

    def contact_mark_inactive(self, org: str, contact_id: str) -> None:
        """POST /contacts/{id}/inactive"""
        self._post(org, f"/contacts/{_seg(books_id(contact_id))}/inactive", scopes.BOOKS_CONTACTS_CREATE)

    def contacts_page(self, org: str, page: int) -> tuple[list[dict], bool]:
        """One page of GET /contacts?filter_by=Status.All: (contacts, has_more_page). The audit reads page by page."""
        body = self._get(
            org, "/contacts", scopes.BOOKS_CONTACTS_READ, page=page, per_page=PER_PAGE, filter_by="Status.All"
        )
        return body.get("contacts", []), bool(body.get("page_context", {}).get("has_more_page"))

    def contact_create(self, org: str, payload: dict) -> dict:
        """POST /contacts"""
        return self._post(org, "/contacts", scopes.BOOKS_CONTACTS_CREATE, payload)["contact"]

    # --- items ----------------------------------------------------------------------------
    def items_all(self, org: str) -> list[dict]:
        """GET /items?filter_by=Status.All — every page (Books has no SKU filter)."""
        return list(self._pages(org, "/items", "items", scopes.BOOKS_SETTINGS_READ, filter_by="Status.All"))

    def item_get(self, org: str, item_id: str) -> dict:
        """GET /items/{id}"""
        return self._get(org, f"/items/{_seg(books_id(item_id))}", scopes.BOOKS_SETTINGS_READ)["item"]

    def item_create(self, org: str, payload: dict) -> dict:
        """POST /items"""
        return self._post(org, "/items", scopes.BOOKS_SETTINGS_CREATE, payload)["item"]

    def item_mark_active(self, org: str, item_id: str) -> None:
        """POST /items/{id}/active"""
        self._post(org, f"/items/{_seg(books_id(item_id))}/active", scopes.BOOKS_SETTINGS_CREATE)

    def item_mark_inactive(self, org: str, item_id: str) -> None:
        """POST /items/{id}/inactive"""
        self._post(org, f"/items/{_seg(books_id(item_id))}/inactive", scopes.BOOKS_SETTINGS_CREATE)

    def items_page(self, org: str, page: int) -> tuple[list[dict], bool]:
        """One page of GET /items?filter_by=Status.All: (items, has_more_page)."""
        body = self._get(
            org, "/items", scopes.BOOKS_SETTINGS_READ, page=page, per_page=PER_PAGE, filter_by="Status.All"
        )
        return body.get("items", []), bool(body.get("page_context", {}).get("has_more_page"))

    # --- invoices -------------------------------------------------------------------------
    def invoice_create(self, org: str, payload: dict, *, send: bool = False) -> dict:
        """POST /invoices (`send=true` emails it to the customer's contact persons as it is created)."""
        params = {"send": "true"} if send else {}
        return self._post(org, "/invoices", scopes.BOOKS_INVOICES_CREATE, payload, **params)["invoice"]

    def invoice_mark_sent(self, org: str, invoice_id: str) -> None:
        """POST /invoices/{id}/status/sent — a draft becomes sent, without an email."""
        self._post(org, f"/invoices/{_seg(books_id(invoice_id))}/status/sent", scopes.BOOKS_INVOICES_CREATE)

    def invoice_get(self, org: str, invoice_id: str) -> dict:
        """GET /invoices/{id}"""
        return self._get(org, f"/invoices/{_seg(books_id(invoice_id))}", scopes.BOOKS_INVOICES_READ)["invoice"]

    def invoices_by_reference(self, org: str, reference_number: str) -> list[dict]:
        """GET /invoices?reference_number=… (filtered again here: exact match is unconfirmed)."""
        found = self._pages(org, "/invoices", "invoices", scopes.BOOKS_INVOICES_READ, reference_number=reference_number)
        return [inv for inv in found if inv.get("reference_number") == reference_number]

    def invoices_modified_since(self, org: str, since: str) -> list[dict]:
        """GET /invoices?last_modified_time=… — every page."""
        return list(self._pages(org, "/invoices", "invoices", scopes.BOOKS_INVOICES_READ, last_modified_time=since))

    def invoice_payments(self, org: str, invoice_id: str) -> list[dict]:
        """GET /invoices/{id}/payments"""
        path = f"/invoices/{_seg(books_id(invoice_id))}/payments"
        return self._get(org, path, scopes.BOOKS_INVOICES_READ).get("payments", [])

    def invoice_credits_applied(self, org: str, invoice_id: str) -> list[dict]:
        """GET /invoices/{id}/creditsapplied"""
        path = f"/invoices/{_seg(books_id(invoice_id))}/creditsapplied"
        return self._get(org, path, scopes.BOOKS_INVOICES_READ).get("credits", [])

    # --- credit notes and payments ----------------------------------------------------------
    def creditnote_get(self, org: str, creditnote_id: str) -> dict:
        """GET /creditnotes/{id} — the invoices it was raised against or applied to are in `invoices[]`."""
        path = f"/creditnotes/{_seg(books_id(creditnote_id))}"
        return self._get(org, path, scopes.BOOKS_CREDITNOTES_READ)["creditnote"]

    def creditnote_refunds(self, org: str, creditnote_id: str) -> list[dict]:
        """GET /creditnotes/{id}/refunds — every page; rows carry `amount_fcy`/`amount_bcy`, not `amount`."""
        path = f"/creditnotes/{_seg(books_id(creditnote_id))}/refunds"
        return list(self._pages(org, path, "creditnote_refunds", scopes.BOOKS_CREDITNOTES_READ))

    def payment_get(self, org: str, payment_id: str) -> dict:
        """GET /customerpayments/{id}"""
        path = f"/customerpayments/{_seg(books_id(payment_id))}"
        return self._get(org, path, scopes.BOOKS_CUSTOMERPAYMENTS_READ)["payment"]
