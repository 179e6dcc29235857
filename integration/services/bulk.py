"""Bulk actions: a reviewer replays every failed push of the filtered list, or approves every push waiting for
review in it (four eyes apply to each). Exactly the pushes the list shows, all pages, no cap; a worker goes through
them one by one, writing each outcome to the `BulkReplay` row, and the screen shows, for each, where it stands
now (queued, pushed, failed again and why)."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from integration.models import BulkReplay, InvoicePush
from integration.services.dispatch import after_commit
from integration.services.review import PushStateError, push_approve, push_replay

ACTIONS = {"replay": InvoicePush.State.FAILED, "approve": InvoicePush.State.PENDING_REVIEW}


def bulk_replay_start(*, push_ids: list[int], user, action: str = "replay") -> BulkReplay:
    """Record the set (those still in the state the action takes) and hand it to a worker."""
    ids = list(
        InvoicePush.objects.filter(pk__in=push_ids, state=ACTIONS[action]).order_by("id").values_list("pk", flat=True)
    )
    bulk = BulkReplay.objects.create(
        action=action, push_ids=ids, requested_by=user if getattr(user, "pk", None) else None
    )
    after_commit(bulk_replay_task, bulk.pk)
    return bulk


def bulk_replay_run(*, bulk_id: int) -> None:
    """Replay (or approve) the pushes not done yet (a worker restarted midway carries on where it stopped)."""
    bulk = BulkReplay.objects.get(pk=bulk_id)
    user = bulk.requested_by
    for push_id in bulk.push_ids[bulk.done :]:
        push = InvoicePush.objects.filter(pk=push_id).first()
        if push is None:
            outcome, deal = "no longer exists", ""
        else:
            deal = push.deal_name or push.deal_id
            try:
                if bulk.action == "approve":
                    push_approve(push=push, user=user)
                    outcome = "approved"
                else:
                    push_replay(push=push, user=user, why=f"Bulk replay #{bulk.pk} by {user or 'someone'}")
                    outcome = "replayed"
            except PushStateError as exc:
                outcome = f"not {'approved' if bulk.action == 'approve' else 'replayed'}: {exc}"
        bulk.outcomes = [*bulk.outcomes, {"push_id": push_id, "deal": deal, "outcome": outcome}]
        bulk.progress_at = timezone.now()
        bulk.save(update_fields=["outcomes", "progress_at"])
    bulk.finished_at = timezone.now()
    bulk.save(update_fields=["finished_at"])


def bulk_rows(bulk: BulkReplay) -> list[dict]:
    """Each push of the set with what the bulk action did and where the push stands now (one query)."""
    pushes = InvoicePush.objects.in_bulk(bulk.push_ids)
    done = {o["push_id"]: o["outcome"] for o in bulk.outcomes}
    rows = []
    for push_id in bulk.push_ids:
        push = pushes.get(push_id)
        rows.append(
            {
                "push_id": push_id,
                "deal": (push.deal_name or push.deal_id) if push else "",
                "outcome": done.get(push_id, "waiting"),
                "state": push.get_state_display() if push else "gone",
                "error": push.error if push and push.state == InvoicePush.State.FAILED else "",
                "moving": bool(push and push.state in (InvoicePush.State.QUEUED, InvoicePush.State.RUNNING)),
            }
        )
    return rows


@shared_task(name="integration.tasks.bulk_replay_task")
def bulk_replay_task(bulk_id: int) -> None:
    bulk_replay_run(bulk_id=bulk_id)
