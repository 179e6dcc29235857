"""The endpoints Zoho calls: the CRM button and Books webhooks. Every answer is JSON with a `message`."""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt

from integration import jsonbody, selectors
from integration.forms import ButtonPressForm
from integration.models import InvoicePush
from integration.services.press import push_request
from integration.services.webhook_inbox import webhook_receive

logger = logging.getLogger(__name__)
SIGNATURE_MAX_AGE_MS = 5 * 60 * 1000
EPOCH_MS = re.compile(r"^[0-9]{1,15}$")  # ASCII digits only: int() would take "١٢٣" and choke on 5,000 digits


def _signature_problem(request: HttpRequest) -> str:
    """Why the CRM button signature is not acceptable, or '' when it is (CONTRACT.md §2)."""
    secret = settings.CRM_BUTTON_SECRET
    if not secret:
        logger.error("CRM_BUTTON_SECRET is not set: every Generate Invoice request is refused")
        return "This endpoint is not configured (no shared secret)."
    timestamp = request.headers.get("X-Timestamp", "")
    signature = request.headers.get("X-Signature", "")
    if not timestamp or not signature:
        return "Missing X-Timestamp or X-Signature header."
    if not EPOCH_MS.match(timestamp):
        return "X-Timestamp must be Unix epoch milliseconds (ASCII digits)."
    if abs(time.time() * 1000 - int(timestamp)) > SIGNATURE_MAX_AGE_MS:
        return "The request is stale: X-Timestamp is more than 5 minutes away from now."
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode("utf-8", "replace")):
        return "The signature does not match."
    return ""


def _reply(http_status: int, message: str, **fields) -> JsonResponse:
    return JsonResponse({**fields, "message": message}, status=http_status)


class BadBody(Exception):
    """The request body is not what the endpoint takes; the text says what it should be."""


def machine_endpoint(view: Callable[..., JsonResponse]) -> Callable[..., JsonResponse]:
    """For endpoints that Zoho calls: no CSRF, POST only, and every refusal answered in JSON with a
    `message` (wrong method 405, body over DATA_UPLOAD_MAX_MEMORY_SIZE 413, bad body 400)."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> JsonResponse:
        if request.method != "POST":
            response = _reply(405, f"Use POST: {request.method} is not accepted here.")
            response["Allow"] = "POST"
            return response
        try:
            request.body  # noqa: B018 — reading it enforces the size limit
        except RequestDataTooBig:
            return _reply(413, "The body is too large.")
        try:
            return view(request, *args, **kwargs)
        except BadBody as exc:
            return _reply(400, str(exc))
        except DatabaseError as exc:
            # Nothing was committed (each write is one transaction): the caller can simply send it again.
            logger.warning("%s answered 503: the database is unavailable (%s)", request.path, type(exc).__name__)
            return _reply(
                503, "Invoice Bridge cannot reach its database right now; nothing was recorded. Try again shortly."
            )

    return wrapper


def json_object(request: HttpRequest, example: str) -> dict:
    """The body as a JSON object we can store, or `BadBody` saying what was expected."""
    try:
        body = jsonbody.loads(request.body)
    except jsonbody.UnstorableJson as exc:
        raise BadBody(str(exc)) from None
    except (ValueError, RecursionError):
        raise BadBody(f"The body must be JSON like {example}.") from None
    if not isinstance(body, dict):
        raise BadBody(f"The body must be a JSON object like {example}.")
    return body


@machine_endpoint
def crm_generate_invoice(request: HttpRequest) -> JsonResponse:
    """The CRM "Generate Invoice" button (a signed Deluge `invokeurl`)."""
    problem = _signature_problem(request)
    if problem:
        return _reply(401, problem)
    form = ButtonPressForm(json_object(request, '{"deal_id": "…", "user": "…"}'))
    if not form.is_valid():
        return _reply(400, form.first_error())
    push = push_request(deal_id=form.cleaned_data["deal_id"], user=form.cleaned_data["user"])
    return _push_reply(push)


def _push_reply(push: InvoicePush) -> JsonResponse:
    """The CRM button's answer (CONTRACT.md §2), from the push as it stands now: with in-process tasks
    the worker has already run by the time we answer."""
    first_press = push.state in (InvoicePush.State.QUEUED, InvoicePush.State.PENDING_REVIEW)
    push.refresh_from_db()
    state = InvoicePush.State
    if push.state == state.PUSHED and not first_press:
        voided = selectors.invoice_voided(push=push)
        return _reply(
            200,
            f"Invoice {push.invoice_number} was voided in Books. Finance can start a new invoice for this deal "
            "from the Invoice Bridge dashboard."
            if voided
            else f"Invoice {push.invoice_number} already exists for this deal.",
            status="pushed",
            push_id=push.pk,
            invoice_id=push.invoice_id,
            invoice_number=push.invoice_number,
            invoice_url=push.invoice_url,
        )
    if push.state == state.BLOCKED:
        return _reply(
            422,
            "This deal cannot be invoiced yet: " + " ".join(push.reasons),
            status="blocked",
            push_id=push.pk,
            reasons=push.reasons,
        )
    if push.state == state.PENDING_REVIEW:
        return _reply(
            202,
            "Accepted: the invoice will be created once finance approves it.",
            status="pending_review",
            push_id=push.pk,
        )
    if push.state == state.FAILED and selectors.zoho_token_problem():
        # Not in the contract's list because it is not about the deal: Invoice Bridge cannot reach Zoho.
        return _reply(
            503,
            f"The invoice was not created: {push.error} Finance can see this on the dashboard; "
            "press Generate Invoice again once the Zoho connection is fixed.",
            status="failed",
            push_id=push.pk,
        )
    if push.state == state.FAILED:
        # Reachable when tasks run in-process: the attempt already ran and failed.
        return _reply(
            202,
            f"Accepted, but the first attempt failed: {push.error} Finance can replay it.",
            status="queued",
            push_id=push.pk,
        )
    if push.state == state.PUSHED:
        return _reply(
            202, f"Accepted: invoice {push.invoice_number} has been created.", status="queued", push_id=push.pk
        )
    return _reply(202, "Accepted: the invoice is being created.", status="queued", push_id=push.pk)


@machine_endpoint
def books_webhook(request: HttpRequest, organization_id: str) -> JsonResponse:
    """A Books workflow webhook ("Default payload"), authenticated by the X-Webhook-Token header."""
    expected = settings.BOOKS_WEBHOOK_TOKEN
    token = request.headers.get("X-Webhook-Token", "")
    if not expected or not hmac.compare_digest(expected.encode(), token.encode()):
        return _reply(401, "Missing or wrong X-Webhook-Token.")
    payload = json_object(request, 'the entity JSON Books sends, e.g. {"invoice": {…}}')
    delivery = webhook_receive(organization_id=organization_id, payload=payload, headers=dict(request.headers))
    return _reply(
        200,
        "Received." if delivery.state == "received" else f"Acknowledged and ignored: {delivery.note}",
        delivery_id=delivery.pk,
    )


def server_error(request: HttpRequest) -> HttpResponse:
    """500: under /api/ still the JSON contract (a `message`), the usual page elsewhere."""
    if request.path.startswith("/api/"):
        return _reply(500, "Invoice Bridge failed to handle this request; nothing was recorded. Try again shortly.")
    return defaults.server_error(request)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404: JSON with a `message` under /api/ (machines read it), the usual page elsewhere."""
    if request.path.startswith("/api/"):
        return _reply(404, "There is no endpoint at this address.")
    return defaults.page_not_found(request, exception)
