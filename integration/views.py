"""Dashboard screens. Thin: validate, call a selector or service, render."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_htmx.middleware import HtmxDetails

from integration import selectors
from integration.models import InvoicePush, InvoiceSync, LegalEntity, TaxRule
from integration.services.push import push_request
from integration.services.webhooks import webhook_receive

logger = logging.getLogger(__name__)
SIGNATURE_MAX_AGE_MS = 5 * 60 * 1000
DEAL_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


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


@login_required
def push_detail(request: HtmxHttpRequest, push_id: int) -> HttpResponse:
    """One push: its plan, outcome and timeline; payments, credit notes and refunds from Books, read-only."""
    push = get_object_or_404(InvoicePush.objects.select_related("legal_entity"), pk=push_id)
    context = {
        "push": push,
        "events": push.events.all(),
        "sync": InvoiceSync.objects.filter(push=push).first(),
        "cliq_posts": push.cliq_posts.order_by("created_at"),
        "token_problem": selectors.zoho_token_problem(),
    }
    return render(request, "integration/push_detail.html", context)


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
    if not timestamp.isdigit():
        return "X-Timestamp must be Unix epoch milliseconds."
    if abs(time.time() * 1000 - int(timestamp)) > SIGNATURE_MAX_AGE_MS:
        return "The request is stale: X-Timestamp is more than 5 minutes away from now."
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.strip().lower()):
        return "The signature does not match."
    return ""


def _reply(http_status: int, message: str, **fields) -> JsonResponse:
    return JsonResponse({**fields, "message": message}, status=http_status)


@csrf_exempt
@require_POST
def crm_generate_invoice(request: HttpRequest) -> JsonResponse:
    """The CRM "Generate Invoice" button (a signed Deluge `invokeurl`)."""
    problem = _signature_problem(request)
    if problem:
        return _reply(401, problem)
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return _reply(400, 'The body must be JSON like {"deal_id": "…", "user": "…"}.')
    deal_id = body.get("deal_id") if isinstance(body, dict) else None
    if isinstance(deal_id, int) and not isinstance(deal_id, bool):
        deal_id = str(deal_id)
    if not isinstance(deal_id, str) or not DEAL_ID.match(deal_id.strip()):
        return _reply(400, "deal_id is missing or is not a CRM record id.")
    user = body.get("user") or ""
    if not isinstance(user, str) or len(user) > 254:
        return _reply(400, "user must be the email address of the person who clicked.")

    # Answer with the state the press produced: with in-process tasks the worker may already have
    # finished by now, but this press is still the one that queued it (202), not a repeat (200).
    return _push_reply(push_request(deal_id=deal_id.strip(), user=user.strip()))


def _push_reply(push: InvoicePush) -> JsonResponse:
    state = InvoicePush.State
    if push.state == state.PUSHED:
        return _reply(
            200,
            f"Invoice {push.invoice_number} already exists for this deal.",
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
    if push.state == state.FAILED:
        # Only reachable when tasks run in-process: the attempt already ran and failed.
        return _reply(
            202,
            f"Accepted, but the first attempt failed: {push.error} Finance can replay it.",
            status="queued",
            push_id=push.pk,
        )
    return _reply(202, "Accepted: the invoice is being created.", status="queued", push_id=push.pk)


@csrf_exempt
@require_POST
def books_webhook(request: HttpRequest, organization_id: str) -> JsonResponse:
    """A Books workflow webhook ("Default payload"), authenticated by the X-Webhook-Token header."""
    expected = settings.BOOKS_WEBHOOK_TOKEN
    token = request.headers.get("X-Webhook-Token", "")
    if not expected or not hmac.compare_digest(expected.encode(), token.encode()):
        return _reply(401, "Missing or wrong X-Webhook-Token.")
    try:
        payload = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return _reply(400, 'The body must be the entity JSON Books sends, e.g. {"invoice": {…}}.')
    if not isinstance(payload, dict):
        return _reply(400, "The body must be a JSON object.")
    delivery = webhook_receive(organization_id=organization_id, payload=payload, headers=dict(request.headers))
    return _reply(
        200,
        "Received." if delivery.state == "received" else f"Acknowledged and ignored: {delivery.note}",
        delivery_id=delivery.pk,
    )
