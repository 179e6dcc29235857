"""Cliq hears about cash: one post per customer payment on one of our invoices, at most once
(CONTRACT.md §3). The unique row per payment is the "once"; its own task delivers it and retries only
failures that certainly did not post. An ambiguous failure is recorded as unconfirmed, never resent."""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import models
from django.utils import timezone

from integration.models import CliqPost, InvoicePush
from integration.money import format_money
from integration.redaction import redact_text
from integration.services.dispatch import after_commit
from integration.services.retry import retry_later
from integration.zoho.cliq import CliqClient
from integration.zoho.errors import ZohoError

logger = logging.getLogger(__name__)


def payment_posts(push: InvoicePush, invoice: dict, payments: list[dict]) -> None:
    """One post per payment, once: the unique row is the 'once', its task the delivery."""
    total, credits = Decimal(str(invoice.get("total") or 0)), Decimal(str(invoice.get("credits_applied") or 0))
    written_off = Decimal(str(invoice.get("write_off_amount") or 0))
    paid_so_far = Decimal("0")
    currency = invoice.get("currency_code", "")
    for payment in sorted(payments, key=lambda p: (p.get("date", ""), str(p["payment_id"]))):
        amount = Decimal(str(payment["amount"]))
        paid_so_far += amount
        left = max(Decimal("0"), total - credits - written_off - paid_so_far)
        in_full = left == 0 and invoice.get("status") == "paid"
        title = "Paid in full" if in_full else "Payment received"
        text = (
            f"*{title}* — {push.deal_name}\n"
            f"Customer: {invoice.get('customer_name', '')}\n"
            f"Amount: {format_money(amount, currency)} · Left to pay: {format_money(left, currency)}"
            f"{' — the invoice is paid' if in_full else ''}\n"
            f"Invoice {invoice.get('invoice_number', '')}: {invoice.get('invoice_url', '')}\n"
            f"Dashboard: {settings.PUBLIC_BASE_URL}/pushes/{push.pk}/"
        )
        post, created = CliqPost.objects.get_or_create(
            organization_id=push.organization_id,
            payment_id=str(payment["payment_id"]),
            invoice_id=invoice["invoice_id"],
            defaults={"push": push, "text": text, "card_title": title},
        )
        if created:
            after_commit(cliq_post_task, post.pk)


def cliq_post_send(*, post_id: int) -> None:
    """Send one Cliq post, at most once (CONTRACT.md §3).

    A definite failure (Cliq could not be reached, or answered with an error) propagates to the task,
    which retries. An ambiguous one (the message went out and the answer was lost) is recorded as
    unconfirmed and never resent: Cliq may well have posted it, and a second post is worse than none."""
    client = CliqClient()
    if not client.enabled:
        CliqPost.objects.filter(pk=post_id, state=CliqPost.State.PENDING).update(state=CliqPost.State.SKIPPED)
        return
    post_once(
        CliqPost,
        post_id,
        lambda post: client.message_post(text=post.text, card={"title": post.card_title, "theme": "modern-inline"}),
        last_attempt_at=timezone.now(),
    )


def post_once(model: type[models.Model], row_id: int, post: Callable[[Any], None], **claimed_fields) -> None:
    """Send the Cliq message a row holds (a payment post, an alert) at most once.

    The row is claimed as "sending" before the call: a worker that stops mid-call leaves a row the sweeper settles
    as unconfirmed (it may have posted), never one that is sent again. A definite failure puts it back to pending
    and propagates (the task retries); an ambiguous one (the message went out and the answer was lost) is recorded
    as unconfirmed and never resent: Cliq may well have posted it, and a second post is worse than none."""
    row = model.objects.get(pk=row_id)
    claimed = model.objects.filter(pk=row_id, state__in=[model.State.PENDING, model.State.FAILED]).update(
        state=model.State.SENDING, attempts=row.attempts + 1, **claimed_fields
    )
    if not claimed:
        return
    try:
        post(row)
    except (ZohoError, SoftTimeLimitExceeded) as exc:
        if isinstance(exc, ZohoError) and not exc.maybe_acted:
            model.objects.filter(pk=row_id).update(state=model.State.PENDING, error=redact_text(str(exc)))
            raise
        why = "The send was interrupted by the task's time limit" if isinstance(exc, SoftTimeLimitExceeded) else exc
        model.objects.filter(pk=row_id).update(
            state=model.State.UNCONFIRMED,
            error=redact_text(f"{why}. Not resent: Cliq may already have posted it; check the channel."),
        )
        return
    model.objects.filter(pk=row_id).update(state=model.State.SENT, sent_at=timezone.now(), error="")


def cliq_post_retry(*, post: CliqPost) -> bool:
    """Send a failed post again (a person asked to); False when it is not failed. An unconfirmed post is never
    resent from here: Cliq may already show it."""
    moved = CliqPost.objects.filter(pk=post.pk, state=CliqPost.State.FAILED).update(
        state=CliqPost.State.PENDING, error=""
    )
    if moved:
        after_commit(cliq_post_task, post.pk)
    return bool(moved)


@shared_task(bind=True, name="integration.tasks.cliq_post_task")
def cliq_post_task(self, post_id: int, attempt: int = 1, deferrals: int = 0) -> None:
    """Send one Cliq post; a Cliq failure is retried and never touches the CRM side."""
    try:
        cliq_post_send(post_id=post_id)
    except ZohoError as exc:
        if not retry_later(cliq_post_task, (post_id,), exc, attempt, deferrals):
            CliqPost.objects.filter(pk=post_id).update(state=CliqPost.State.FAILED, error=redact_text(str(exc)))
