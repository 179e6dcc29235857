"""The sweeper (beat, every PUSH_SWEEP_INTERVAL_SECONDS): take pushes back from workers that vanished and
send again the queued pushes whose message was lost. The database row, not the broker, is the truth."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from integration.models import InvoicePush, PushEvent
from integration.services.attempt import push_execute_task
from integration.services.fence import creates_forget
from integration.services.timeline import push_event

State = InvoicePush.State


def push_sweep(*, stale_after: timedelta | None = None) -> list[int]:
    """Re-queue pushes whose worker vanished; return ids of queued pushes that need a task sent.

    Running longer than PUSH_RUNNING_DEADLINE_SECONDS (beyond the task hard time limit) means the worker
    died. Queued pushes whose retry time has passed by a minute are sent again too, in case the message
    was lost; sending twice is harmless because a push is claimed atomically.
    """
    now = timezone.now()
    deadline = now - (
        stale_after if stale_after is not None else timedelta(seconds=settings.PUSH_RUNNING_DEADLINE_SECONDS)
    )
    for push in InvoicePush.objects.filter(state=State.RUNNING, running_since__lte=deadline):
        moved = InvoicePush.objects.filter(pk=push.pk, state=State.RUNNING, lease=push.lease).update(
            state=State.QUEUED, lease=None, next_attempt_at=now, updated_at=now
        )
        if moved:
            push_event(
                push,
                "Sweeper re-queued the push",
                step=push.step,
                outcome=PushEvent.Outcome.ERROR,
                message=f"Its worker stopped while running the “{push.get_step_display()}” step "
                f"(running since {push.running_since:%Y-%m-%d %H:%M:%S} UTC).",
            )
    creates_forget(older_than=timedelta(hours=1))
    grace = now - timedelta(seconds=60)
    due = InvoicePush.objects.filter(state=State.QUEUED).filter(
        Q(next_attempt_at__lte=grace) | Q(next_attempt_at__isnull=True, updated_at__lte=grace) | Q(next_attempt_at=now)
    )
    return list(due.values_list("pk", flat=True))


@shared_task(name="integration.tasks.push_sweep_task")
def push_sweep_task() -> int:
    """Re-queue pushes whose worker vanished and resend due ones."""
    due = push_sweep()
    for push_id in due:
        push_execute_task.delay(push_id)
    return len(due)
