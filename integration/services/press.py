"""Generate Invoice pressed: record the press, plan at once, and answer with the push (CONTRACT.md §2).

A deal has at most one active push (a database constraint), so any number of presses answer with the same
push; a blocked plan is recorded as blocked with every reason, a good one is queued or parked for review.
"""

from __future__ import annotations

import contextlib
import time
import uuid

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from integration.models import InvoicePush, InvoiceSync, LegalEntity, PushAlert, PushEvent
from integration.redaction import redact_text
from integration.services.alerts import push_alert
from integration.services.attempt import push_execute_task
from integration.services.dispatch import after_commit, send
from integration.services.planning import PushBlocked, deal_plan
from integration.services.review import PushStateError, push_move, push_replay
from integration.services.timeline import push_event
from integration.zoho.auth import current_fatal_error
from integration.zoho.errors import ZohoAuthError, ZohoError

State = InvoicePush.State
Step = InvoicePush.Step


def active_push(deal_id: str) -> InvoicePush | None:
    return InvoicePush.objects.filter(deal_id=deal_id, state__in=InvoicePush.ACTIVE_STATES).first()


def push_request(*, deal_id: str, user: str = "") -> InvoicePush:
    """Record a Generate Invoice press for `deal_id` and return the push that answers it.

    A deal with an active push gets that push back (a failed one is replayed). Otherwise the deal is
    planned now: a blocked plan is recorded as `blocked`; a good one is queued (or parked for review).
    If CRM or Books cannot be read right now, the push is queued unplanned and the worker plans it.
    """
    existing = active_push(deal_id)
    if existing:
        return _press_again(existing, user)
    with _one_planner(deal_id) as waited:
        if waited and (existing := active_push(deal_id)):
            return _press_again(existing, user)  # the press we waited for made the push: answer with it
        return _plan_and_record(deal_id, user)


# Presses of one deal arriving together (a double click, CRM retrying, a bulk button) plan it one at a time: the
# first reads CRM and Books, the others wait for its push and answer with it, instead of each reading the same deal
# and spending the organization's Books calls of the minute on it. A press waits at most PRESS_WAIT_SECONDS (then it
# plans by itself; the one-active-push constraint still makes one push), and a claim left by a stopped process
# expires after PRESS_CLAIM_SECONDS.
PRESS_CLAIM_SECONDS = 60
PRESS_WAIT_SECONDS = 15.0


@contextlib.contextmanager
def _one_planner(deal_id: str):
    """Yield False when this press plans the deal; True after waiting for another press that was planning it."""
    key, token = f"press:planning:{deal_id}", uuid.uuid4().hex
    deadline, waited = time.monotonic() + PRESS_WAIT_SECONDS, False
    while not cache.add(key, token, PRESS_CLAIM_SECONDS):
        if time.monotonic() > deadline or active_push(deal_id):
            yield True
            return
        waited = True
        time.sleep(0.1)
    try:
        yield waited
    finally:
        if cache.get(key) == token:
            cache.delete(key)


def _plan_and_record(deal_id: str, user: str) -> InvoicePush:
    plan: dict = {}
    entity: LegalEntity | None = None
    note = ""
    try:
        plan = deal_plan(deal_id=deal_id)
        entity = LegalEntity.objects.get(code=plan["entity"])
    except PushBlocked as blocked:
        with transaction.atomic():
            push = InvoicePush.objects.create(
                deal_id=deal_id,
                deal_name=blocked.deal_name,
                requested_by=user,
                state=State.BLOCKED,
                legal_entity=blocked.entity,
                organization_id=blocked.entity.books_org_id if blocked.entity else "",
                reasons=blocked.reasons,
            )
            push_event(
                push,
                "Generate Invoice pressed" + (f" by {user}" if user else ""),
                step=Step.PLAN,
                outcome=PushEvent.Outcome.ERROR,
                message="Blocked: " + " ".join(blocked.reasons),
            )
        return push
    except ZohoAuthError as exc:
        # Zoho refuses our credentials: no worker can do better until a person fixes them. Record the press
        # as failed (visible on the dashboard, replayable) instead of queueing work that cannot succeed.
        try:
            with transaction.atomic():
                push = InvoicePush.objects.create(
                    deal_id=deal_id, requested_by=user, state=State.FAILED, error=redact_text(str(exc))
                )
                push_event(
                    push,
                    "Generate Invoice pressed" + (f" by {user}" if user else ""),
                    step=Step.PLAN,
                    outcome=PushEvent.Outcome.ERROR,
                    message=f"Zoho refused our credentials: {exc}",
                )
        except IntegrityError:
            return active_push(deal_id) or InvoicePush.objects.filter(deal_id=deal_id).latest("created_at")
        return push
    except ZohoError as exc:
        note = f"Could not plan now ({exc}); the worker will plan the invoice."

    state = State.PENDING_REVIEW if entity and entity.require_review else State.QUEUED
    try:
        with transaction.atomic():
            push = InvoicePush.objects.create(
                deal_id=deal_id,
                deal_name=plan.get("deal", {}).get("name", ""),
                customer_name=plan.get("account", {}).get("name", "")[:300],
                requested_by=user,
                requesters=[user.lower()] if user else [],
                state=state,
                legal_entity=entity,
                organization_id=entity.books_org_id if entity else "",
                plan=plan,
            )
            push_event(
                push,
                "Generate Invoice pressed" + (f" by {user}" if user else ""),
                step=Step.PLAN,
                outcome=PushEvent.Outcome.OK,
                message=note or f"Planned; {push.get_state_display().lower()}.",
            )
            if state == State.QUEUED:
                after_commit(push_execute_task, push.pk)
    except IntegrityError:
        # A concurrent press won the one-active-push constraint: answer with its push.
        existing = active_push(deal_id)
        if existing is None:
            raise
        return existing
    if state == State.PENDING_REVIEW:
        push_alert(push, PushAlert.Kind.REVIEW, "press")
    return push


def _press_again(push: InvoicePush, user: str) -> InvoicePush:
    if push.state == State.QUEUED and (push.next_attempt_at is None or push.next_attempt_at <= timezone.now()):
        # Due and perhaps without a task (in-process retries ran out of time): send one; claiming is atomic.
        send(push_execute_task, push.pk)  # now, not on commit: nothing here is waiting to commit
        push.refresh_from_db()
        return push
    if push.state == State.FAILED and not current_fatal_error():
        with contextlib.suppress(PushStateError):  # a concurrent press replayed it first: answer with where it is
            why = f"Generate Invoice pressed again{f' by {user}' if user else ''}"
            push_replay(push=push, user=None, why=why, requester=user)
        push.refresh_from_db()
    return push


def push_reissue(*, push: InvoicePush, user) -> InvoicePush:
    """The deal's invoice was voided in Books: set this push aside and start a new one for the deal, planned from
    today's CRM data and tables. Refused unless Books shows the invoice as void."""
    sync = InvoiceSync.objects.filter(push=push).first()
    if push.state != State.PUSHED or sync is None or sync.payment_status != "Void":
        raise PushStateError(f"Push #{push.pk}'s invoice is not void in Books; only a voided invoice can be replaced.")
    push_move(
        push, State.PUSHED, State.VOIDED, f"{user} started a new invoice: {push.invoice_number} was voided", user=user
    )
    return push_request(deal_id=push.deal_id, user=str(user or ""))
