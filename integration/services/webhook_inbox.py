"""Receiving Books webhooks (CONTRACT.md §3): the acknowledgement stores the delivery and answers — one insert —
and the workers pick deliveries up from the table (a transactional outbox), so the answer never waits for the
task queue.

The acknowledgement only asks for a drain: `cache.add` of one key (a single Redis command) and, when it is the
first to ask, one message to a worker (`webhook_drain_task`). However many deliveries arrive before the drain
starts share that one message. The drain clears the key *before* it looks, so a delivery stored after its look
always finds the key gone and asks again: nothing waits for the sweeper unless a message is lost (the sweeper
resends deliveries received more than SWEEP_GRACE_SECONDS ago that no worker touched). The drain claims what it
sends (`dispatched_at`, rows locked with SKIP LOCKED), so two drains never send one delivery twice.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from integration.models import LegalEntity, WebhookDelivery
from integration.redaction import redact
from integration.services.dispatch import send
from integration.services.webhooks import ID_FIELDS, KINDS, books_id_or_blank, webhook_process_task

DRAIN_ASKED = "webhooks:drain-asked"
# How long a request for a drain stands before another may be made, should its message be lost.
DRAIN_ASK_SECONDS = 10
DRAIN_BATCH = 500


def webhook_receive(*, organization_id: str, payload: dict, headers: dict) -> WebhookDelivery:
    """Store a delivery (headers redacted) and ask for a drain. Unknown organizations and kinds are stored as
    ignored: acknowledged, never an error."""
    kind = next((k for k in KINDS if isinstance(payload.get(k), dict)), "")
    entity = payload[kind] if kind else {}
    raw_id = entity.get(ID_FIELDS.get(kind, ""))
    entity_id = books_id_or_blank(raw_id)
    state, note = WebhookDelivery.State.RECEIVED, ""
    if not LegalEntity.objects.filter(books_org_id=organization_id).exists():
        state, note = WebhookDelivery.State.IGNORED, f"Books organization {organization_id[:40]} is not one of ours."
    elif not kind:
        keys = ", ".join(str(k)[:40] for k in list(payload)[:5])
        state, note = WebhookDelivery.State.IGNORED, f"Not an entity we follow (keys: {keys})."
    elif raw_id in (None, ""):
        state, note = WebhookDelivery.State.IGNORED, f"The {kind} has no {ID_FIELDS[kind]}."
    elif not entity_id:
        state, note = WebhookDelivery.State.IGNORED, f"The {kind}'s {ID_FIELDS[kind]} is not a Books id."
    delivery = WebhookDelivery.objects.create(
        organization_id=organization_id[:40],
        kind=kind,
        entity_id=entity_id[:40],
        headers=redact(headers),
        payload=redact(payload),
        state=state,
        note=note,
    )
    if state == WebhookDelivery.State.RECEIVED:
        transaction.on_commit(ask_for_drain)  # at once in autocommit; after the caller's transaction otherwise
    return delivery


def ask_for_drain() -> bool:
    """One drain message for however many deliveries arrive before a worker starts it; True when this call sent
    it."""
    if settings.CELERY_TASK_ALWAYS_EAGER or cache.add(DRAIN_ASKED, 1, timeout=DRAIN_ASK_SECONDS):
        send(webhook_drain_task)
        return True
    return False


def webhook_drain() -> int:
    """Send every received delivery no drain has sent yet to the workers, one task each; how many were sent."""
    cache.delete(DRAIN_ASKED)  # before looking: a delivery stored from here on asks again
    sent = 0
    while True:
        with transaction.atomic():
            waiting = WebhookDelivery.objects.filter(state=WebhookDelivery.State.RECEIVED, dispatched_at__isnull=True)
            ids = list(
                waiting.order_by("pk").select_for_update(skip_locked=True).values_list("pk", flat=True)[:DRAIN_BATCH]
            )
            WebhookDelivery.objects.filter(pk__in=ids).update(dispatched_at=timezone.now())
        for delivery_id in ids:
            send(webhook_process_task, delivery_id)
        sent += len(ids)
        if len(ids) < DRAIN_BATCH:
            return sent


@shared_task(name="integration.tasks.webhook_drain_task")
def webhook_drain_task() -> int:
    return webhook_drain()
