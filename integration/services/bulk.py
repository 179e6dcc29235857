"""Bulk replay: a reviewer replays every failed push of a filtered list at once. A worker goes through them one
by one, writing each outcome to the `BulkReplay` row, which the screen polls for its progress bar."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from integration.models import BulkReplay, InvoicePush
from integration.services.dispatch import after_commit
from integration.services.review import PushStateError, push_replay


def bulk_replay_start(*, push_ids: list[int], user) -> BulkReplay:
    """Record the set (failed pushes only) and hand it to a worker."""
    failed = list(
        InvoicePush.objects.filter(pk__in=push_ids, state=InvoicePush.State.FAILED)
        .order_by("id")
        .values_list("pk", flat=True)
    )
    bulk = BulkReplay.objects.create(push_ids=failed, requested_by=user if getattr(user, "pk", None) else None)
    after_commit(bulk_replay_task, bulk.pk)
    return bulk


def bulk_replay_run(*, bulk_id: int) -> None:
    """Replay the pushes not done yet (a worker restarted midway carries on where it stopped)."""
    bulk = BulkReplay.objects.get(pk=bulk_id)
    user = bulk.requested_by
    for push_id in bulk.push_ids[bulk.done :]:
        push = InvoicePush.objects.filter(pk=push_id).first()
        if push is None:
            outcome, deal = "no longer exists", ""
        else:
            deal = push.deal_name or push.deal_id
            try:
                push_replay(push=push, user=user, why=f"Bulk replay #{bulk.pk} by {user or 'someone'}")
                outcome = "replayed"
            except PushStateError as exc:
                outcome = f"not replayed: {exc}"
        bulk.outcomes = [*bulk.outcomes, {"push_id": push_id, "deal": deal, "outcome": outcome}]
        bulk.progress_at = timezone.now()
        bulk.save(update_fields=["outcomes", "progress_at"])
    bulk.finished_at = timezone.now()
    bulk.save(update_fields=["finished_at"])


@shared_task(name="integration.tasks.bulk_replay_task")
def bulk_replay_task(bulk_id: int) -> None:
    bulk_replay_run(bulk_id=bulk_id)
