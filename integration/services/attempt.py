"""One attempt at a push, in a worker: claim it with a lease, run its steps, and record how it ended —
pushed, parked for review, blocked, waiting (our own pacing, no attempt spent), retrying later, or failed.

One invoice per deal holds because: at most one active push per deal (a database constraint); a push is run
by one lease-holder at a time; the invoice create is flagged on the row *before* the call and fenced while it is
in flight and, when its answer was lost, until it has had time to land (fence.py); any later attempt looks the
invoice up by reference number first.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from datetime import timedelta

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db.models import F
from django.utils import timezone

from audits.matching import PushNeedsDecision
from integration.ledger import Work, working_on
from integration.models import InvoicePush, PushAlert
from integration.redaction import redact_text
from integration.services import retry
from integration.services.alerts import push_alert
from integration.services.deal_notes import note_gave_up
from integration.services.dispatch import send
from integration.services.planning import PushBlocked
from integration.services.steps import LeaseLost, NeedsReview, PushAttempt
from integration.services.timeline import push_event
from integration.zoho.errors import HoldBack, ZohoError, ZohoRetryable

logger = logging.getLogger(__name__)

State = InvoicePush.State


def push_execute(*, push_id: int) -> float | None:
    """Run one attempt of a queued push. Returns seconds until the task should try again, else None."""
    lease = uuid.uuid4()
    claimed = InvoicePush.objects.filter(pk=push_id, state=State.QUEUED).update(
        state=State.RUNNING,
        running_since=timezone.now(),
        lease=lease,
        attempts=F("attempts") + 1,
        next_attempt_at=None,
        updated_at=timezone.now(),
    )
    if not claimed:
        return None  # not queued any more: another worker has it, or it was finished
    run = PushAttempt(InvoicePush.objects.get(pk=push_id), lease)
    push_event(run.push, f"Attempt {run.push.attempts} started", step=run.push.step)
    try:
        with working_on(Work.PUSH):
            run.run_steps()
    except LeaseLost:
        return None
    except NeedsReview:
        run.finish(State.PENDING_REVIEW, "Parked for review", error="")
        _alert(run, PushAlert.Kind.REVIEW, State.PENDING_REVIEW)
    except PushBlocked as blocked:
        run.finish(State.BLOCKED, "Blocked", reasons=blocked.reasons, error=" ".join(blocked.reasons))
    except PushNeedsDecision as decision:
        plan = {**run.push.plan, "decisions": decision.decisions} if decision.decisions else run.push.plan
        run.finish(State.FAILED, "Needs a decision", error=str(decision), plan=plan)
        _alert(run, PushAlert.Kind.DECISION, State.FAILED)
    except HoldBack as exc:
        # Our own pacing, not a failure: hand the slot back without spending an attempt.
        delay = (exc.retry_after or 1.0) + random.uniform(0, 1.0)
        run.finish(
            State.QUEUED,
            f"Waiting {delay:.0f} s",
            error=str(exc),
            attempts=F("attempts") - 1,
            next_attempt_at=timezone.now() + timedelta(seconds=delay),
        )
        return delay
    except (ZohoError, SoftTimeLimitExceeded) as exc:
        if isinstance(exc, SoftTimeLimitExceeded):
            exc = ZohoRetryable("The attempt ran out of time")
        if exc.retryable and run.push.attempts < settings.PUSH_MAX_ATTEMPTS:
            delay = retry.retry_delay(run.push.attempts, getattr(exc, "retry_after", None))
            run.finish(
                State.QUEUED,
                f"Will retry in {delay:.0f} s",
                error=str(exc),
                next_attempt_at=timezone.now() + timedelta(seconds=delay),
            )
            return delay
        prefix = f"Gave up after {run.push.attempts} attempts: " if exc.retryable else ""
        run.finish(State.FAILED, "Failed", error=prefix + str(exc))
        _tell_the_ae(run)
    except Exception as exc:  # a bug must still leave a readable row, not a stuck one
        logger.exception("push %s failed unexpectedly", push_id)
        run.finish(State.FAILED, "Failed", error=f"Unexpected error ({type(exc).__name__}): {redact_text(str(exc))}")
        _tell_the_ae(run)
    return None


def _tell_the_ae(run: PushAttempt) -> None:
    """The push gave up: a Note on the Deal says so in CRM (once the failure is recorded, outside any transaction),
    and the alerts channel hears of it. Not when this run lost the push before recording it: then the push's state
    is not this run's to report."""
    if run.push.state == State.FAILED:
        note_gave_up(run.push)
        _alert(run, PushAlert.Kind.GAVE_UP, State.FAILED)


def _alert(run: PushAttempt, kind: str, state: str) -> None:
    """Tell the alerts channel, once for this attempt, when the attempt did record `state`."""
    if run.push.state == state:
        push_alert(run.push, kind, str(run.lease))


@shared_task(bind=True, name="integration.tasks.push_execute_task")
def push_execute_task(self, push_id: int) -> None:
    """Run one attempt of a push; on a retryable failure, send ourselves again after the backoff.

    Without a broker (tasks run in-process) there is nobody to send to: wait here instead, briefly.
    """
    delay = push_execute(push_id=push_id)
    if delay is None:
        return
    if not self.request.is_eager:
        if delay <= retry.MAX_COUNTDOWN_SECONDS:
            send(push_execute_task, push_id, countdown=delay)
        return
    started = time.monotonic()
    while delay is not None and time.monotonic() - started + delay <= retry.EAGER_RETRY_BUDGET_SECONDS:
        time.sleep(min(delay, retry.EAGER_MAX_SLEEP_SECONDS))
        delay = push_execute(push_id=push_id)
    # Out of budget: the push stays queued with its retry time; the next press (or the sweeper) runs it.
