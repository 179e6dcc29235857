"""Celery tasks: adapters that take ids, call a service, and schedule the retry the service asks for."""

from __future__ import annotations

import time

from celery import shared_task

from integration.models import CliqPost, WebhookDelivery
from integration.services.push import push_execute, push_sweep, retry_delay
from integration.services.webhooks import cliq_post_send, reconcile_all, webhook_process
from integration.zoho.errors import ZohoError

EAGER_MAX_SLEEP_SECONDS = 5.0
# In-process retries run inside an HTTP request (the CRM button's caller gives up at 40 s).
EAGER_RETRY_BUDGET_SECONDS = 15.0
EAGER_MAX_ATTEMPTS = 3
WEBHOOK_MAX_ATTEMPTS = 8


@shared_task(bind=True)
def push_execute_task(self, push_id: int) -> None:
    """Run one attempt of a push; on a retryable failure, send ourselves again after the backoff.

    Without a broker (tasks run in-process) there is nobody to send to: wait here instead, briefly.
    """
    delay = push_execute(push_id=push_id)
    if delay is None:
        return
    if not self.request.is_eager:
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


def _retry(task, args: tuple, exc, attempt: int) -> bool:
    """Schedule another try of a webhook-side task after a retryable Zoho error; False when out of tries."""
    limit = EAGER_MAX_ATTEMPTS if task.request.is_eager else WEBHOOK_MAX_ATTEMPTS
    if not getattr(exc, "retryable", False) or attempt >= limit:
        return False
    delay = retry_delay(attempt, getattr(exc, "retry_after", None))
    if task.request.is_eager:
        time.sleep(min(delay, EAGER_MAX_SLEEP_SECONDS))
        task.apply(args, kwargs={"attempt": attempt + 1})
    else:
        task.apply_async(args, kwargs={"attempt": attempt + 1}, countdown=delay)
    return True


@shared_task(bind=True)
def webhook_process_task(self, delivery_id: int, attempt: int = 1) -> None:
    """Re-read a Books webhook's entity and sync the deal(s); Zoho trouble is retried with backoff."""
    try:
        webhook_process(delivery_id=delivery_id)
    except ZohoError as exc:
        if not _retry(webhook_process_task, (delivery_id,), exc, attempt):
            WebhookDelivery.objects.filter(pk=delivery_id).update(state=WebhookDelivery.State.FAILED, note=str(exc))


@shared_task(bind=True)
def cliq_post_task(self, post_id: int, attempt: int = 1) -> None:
    """Send one Cliq post; a Cliq failure is retried and never touches the CRM side."""
    try:
        cliq_post_send(post_id=post_id)
    except ZohoError as exc:
        if not _retry(cliq_post_task, (post_id,), exc, attempt):
            CliqPost.objects.filter(pk=post_id).update(state=CliqPost.State.FAILED, error=str(exc))


@shared_task
def reconcile_task() -> int:
    """Periodically (beat): heal lost webhooks by syncing invoices Books says changed."""
    return sum(result["synced"] for result in reconcile_all())
