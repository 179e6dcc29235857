"""Celery tasks: adapters that take ids, call a service, and schedule the retry the service asks for."""

from __future__ import annotations

import logging
import time

from celery import shared_task

from integration.models import CliqPost, WebhookDelivery
from integration.redaction import redact_text
from integration.services.push import push_execute, push_sweep, retry_delay
from integration.services.webhooks import cliq_post_send, reconcile_all, webhook_process
from integration.zoho.errors import ZohoDeferred, ZohoError

logger = logging.getLogger(__name__)

EAGER_MAX_SLEEP_SECONDS = 5.0
# In-process retries run inside an HTTP request (the CRM button's caller gives up at 40 s).
EAGER_RETRY_BUDGET_SECONDS = 15.0
EAGER_MAX_ATTEMPTS = 3
EAGER_MAX_DEFERRALS = 20
WEBHOOK_MAX_ATTEMPTS = 8
# Longer waits (Books' daily cap) are not sent as countdowns: a broker may redeliver a message held
# that long. The push stays queued with its time on the row, and the sweeper sends it when it is due.
MAX_COUNTDOWN_SECONDS = 600.0


@shared_task(bind=True)
def push_execute_task(self, push_id: int) -> None:
    """Run one attempt of a push; on a retryable failure, send ourselves again after the backoff.

    Without a broker (tasks run in-process) there is nobody to send to: wait here instead, briefly.
    """
    delay = push_execute(push_id=push_id)
    if delay is None:
        return
    if not self.request.is_eager:
        if delay <= MAX_COUNTDOWN_SECONDS:
            push_execute_task.apply_async((push_id,), countdown=delay)
        return
    started = time.monotonic()
    while delay is not None and time.monotonic() - started + delay <= EAGER_RETRY_BUDGET_SECONDS:
        time.sleep(min(delay, EAGER_MAX_SLEEP_SECONDS))
        delay = push_execute(push_id=push_id)
    # Out of budget: the push stays queued with its retry time; the next press (or a sweeper) runs it.


@shared_task
def push_sweep_task() -> int:
    """Every minute (beat): re-queue pushes whose worker vanished and resend due ones."""
    due = push_sweep()
    for push_id in due:
        push_execute_task.delay(push_id)
    return len(due)


def _retry(task, args: tuple, exc: ZohoError, attempt: int, deferrals: int) -> bool:
    """Schedule another try of a webhook-side task after a retryable Zoho error; False when out of tries.

    Waiting for our own limiter or for Books' daily cap (`ZohoDeferred`) is not a failed attempt."""
    deferred = isinstance(exc, ZohoDeferred)
    if task.request.is_eager:
        if (deferred and deferrals >= EAGER_MAX_DEFERRALS) or (not deferred and attempt >= EAGER_MAX_ATTEMPTS):
            return False
    elif not deferred and attempt >= WEBHOOK_MAX_ATTEMPTS:
        return False
    if not exc.retryable:
        return False
    delay = (exc.retry_after or 1.0) if deferred else retry_delay(attempt, getattr(exc, "retry_after", None))
    kwargs = {"attempt": attempt if deferred else attempt + 1, "deferrals": deferrals + (1 if deferred else 0)}
    if task.request.is_eager:
        time.sleep(min(delay, EAGER_MAX_SLEEP_SECONDS))
        task.apply(args, kwargs=kwargs)
    else:
        task.apply_async(args, kwargs=kwargs, countdown=min(delay, MAX_COUNTDOWN_SECONDS))
    return True


@shared_task(bind=True)
def webhook_process_task(self, delivery_id: int, attempt: int = 1, deferrals: int = 0) -> None:
    """Re-read a Books webhook's entity and sync the deal(s); Zoho trouble is retried with backoff."""
    try:
        webhook_process(delivery_id=delivery_id)
    except ZohoError as exc:
        if not _retry(webhook_process_task, (delivery_id,), exc, attempt, deferrals):
            note = f"Gave up after {attempt} attempts: {exc}" if exc.retryable else str(exc)
            WebhookDelivery.objects.filter(pk=delivery_id).update(
                state=WebhookDelivery.State.FAILED, note=redact_text(note)
            )
    except Exception as exc:  # a bug or a payload we did not foresee: fail visibly, never stay "received"
        logger.exception("webhook delivery %s could not be processed", delivery_id)
        WebhookDelivery.objects.filter(pk=delivery_id).update(
            state=WebhookDelivery.State.FAILED,
            note=redact_text(f"Could not be processed ({type(exc).__name__}: {exc})."),
        )


@shared_task(bind=True)
def cliq_post_task(self, post_id: int, attempt: int = 1, deferrals: int = 0) -> None:
    """Send one Cliq post; a Cliq failure is retried and never touches the CRM side."""
    try:
        cliq_post_send(post_id=post_id)
    except ZohoError as exc:
        if not _retry(cliq_post_task, (post_id,), exc, attempt, deferrals):
            CliqPost.objects.filter(pk=post_id).update(state=CliqPost.State.FAILED, error=redact_text(str(exc)))


@shared_task
def reconcile_task() -> int:
    """Every RECONCILE_INTERVAL_SECONDS (beat): heal lost webhooks by syncing invoices Books says changed."""
    return sum(result["synced"] for result in reconcile_all())
