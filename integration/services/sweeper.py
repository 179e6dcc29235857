"""The sweeper (beat, every PUSH_SWEEP_INTERVAL_SECONDS): the database row, not the broker, is the truth, so every
state a row can be left in by a lost message or a dead worker is finished from here.

- pushes running past PUSH_RUNNING_DEADLINE_SECONDS lost their worker: queued again; queued pushes due for a
  while without a worker are sent again (claiming is atomic, so a second message is harmless);
- webhook deliveries still "received" that no worker picked up (the queue was down when they arrived) or whose
  retries stopped are sent again (processing a delivery twice writes nothing twice);
- Cliq posts pending without a worker are sent again; a post whose worker stopped mid-send is settled as
  unconfirmed (Cliq may have posted it: never resent);
- bulk replays whose worker stopped carry on where they were; CSV imports no worker has are sent again, and one
  whose worker stopped mid-check is checked again (nothing is applied until the whole file is checked);
- fences of Books creates that expired long ago are forgotten.
"""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from integration import tally
from integration.models import BulkReplay, CliqPost, CsvImport, InvoicePush, PushEvent, WebhookDelivery
from integration.services.attempt import push_execute_task
from integration.services.bulk import bulk_replay_task
from integration.services.cliq_posts import cliq_post_task
from integration.services.csv_jobs import csv_import_task
from integration.services.dispatch import send
from integration.services.fence import creates_forget
from integration.services.timeline import push_event
from integration.services.webhooks import webhook_process_task

State = InvoicePush.State
# Longer than any countdown a retry is sent with (retry.MAX_COUNTDOWN_SECONDS): a row untouched for this long
# has no message waiting for it.
RETRY_CHAIN_LOST = timedelta(minutes=15)


def push_sweep(*, stale_after: timedelta | None = None) -> list[int]:
    """Re-queue pushes whose worker vanished; return ids of queued pushes that need a task sent.

    Running longer than PUSH_RUNNING_DEADLINE_SECONDS (beyond the task hard time limit) means the worker
    died. Queued pushes whose retry time has passed by SWEEP_GRACE_SECONDS are sent again too, in case the
    message was lost; sending twice is harmless because a push is claimed atomically.
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
    tally.compact()
    grace = now - timedelta(seconds=settings.SWEEP_GRACE_SECONDS)
    due = InvoicePush.objects.filter(state=State.QUEUED).filter(
        Q(next_attempt_at__lte=grace) | Q(next_attempt_at__isnull=True, updated_at__lte=grace) | Q(next_attempt_at=now)
    )
    return list(due.values_list("pk", flat=True))


def deliveries_due() -> list[int]:
    """Received deliveries no worker has (never picked up, or their retries stopped)."""
    now = timezone.now()
    grace = now - timedelta(seconds=settings.SWEEP_GRACE_SECONDS)
    received = WebhookDelivery.objects.filter(state=WebhookDelivery.State.RECEIVED)
    due = received.filter(
        Q(attempts=0, received_at__lte=grace) | Q(attempts__gt=0, last_attempt_at__lte=now - RETRY_CHAIN_LOST)
    ).filter(Q(dispatched_at__isnull=True) | Q(dispatched_at__lte=grace))  # resent at most once a grace period
    ids = list(due.values_list("pk", flat=True))
    # Sent now: no drain sends them too, and the next sweeps leave them to the queue for a grace period (a long
    # queue is not a lost message; resending every sweep would only make it longer).
    WebhookDelivery.objects.filter(pk__in=ids).update(dispatched_at=now)
    return ids


def cliq_posts_due() -> list[int]:
    """Pending posts no worker has; posts left "sending" by a stopped worker are settled as unconfirmed."""
    now = timezone.now()
    stopped = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + settings.SWEEP_GRACE_SECONDS)
    CliqPost.objects.filter(state=CliqPost.State.SENDING, last_attempt_at__lte=stopped).update(
        state=CliqPost.State.UNCONFIRMED,
        error="The worker sending it stopped mid-send. Not resent: Cliq may already have posted it; check the channel.",
    )
    grace = now - timedelta(seconds=settings.SWEEP_GRACE_SECONDS)
    due = CliqPost.objects.filter(state=CliqPost.State.PENDING).filter(
        Q(attempts=0, created_at__lte=grace) | Q(attempts__gt=0, last_attempt_at__lte=now - RETRY_CHAIN_LOST)
    )
    return list(due.values_list("pk", flat=True))


def bulk_replays_due() -> list[int]:
    """Unfinished bulk replays with no progress for a while (their worker stopped, or never got them)."""
    quiet = timezone.now() - RETRY_CHAIN_LOST
    grace = timezone.now() - timedelta(seconds=settings.SWEEP_GRACE_SECONDS)
    due = BulkReplay.objects.filter(finished_at__isnull=True).filter(
        Q(progress_at__isnull=True, created_at__lte=grace) | Q(progress_at__lte=quiet)
    )
    return list(due.values_list("pk", flat=True))


def csv_imports_due() -> list[int]:
    """Queued imports no worker has; an import whose worker stopped mid-check is queued again (applying is one
    transaction, so a stopped apply left nothing behind)."""
    quiet = timezone.now() - RETRY_CHAIN_LOST
    CsvImport.objects.filter(
        state__in=[CsvImport.State.CHECKING, CsvImport.State.APPLYING], progress_at__lte=quiet
    ).update(state=CsvImport.State.QUEUED, checked=0)
    grace = timezone.now() - timedelta(seconds=settings.SWEEP_GRACE_SECONDS)
    due = CsvImport.objects.filter(state=CsvImport.State.QUEUED, created_at__lte=grace)
    return list(due.values_list("pk", flat=True))


@shared_task(name="integration.tasks.push_sweep_task")
def push_sweep_task() -> int:
    """Finish or resend everything a lost message or a dead worker left behind."""
    sent = 0
    for task, ids in (
        (push_execute_task, push_sweep()),
        (webhook_process_task, deliveries_due()),
        (cliq_post_task, cliq_posts_due()),
        (bulk_replay_task, bulk_replays_due()),
        (csv_import_task, csv_imports_due()),
    ):
        sent += sum(send(task, pk) for pk in ids)
    return sent
