"""A reviewer's and finance's actions on a push: approve, reject, replay — each a checked state move."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from integration.models import InvoicePush, PushEvent
from integration.services.attempt import push_execute_task
from integration.services.deal_notes import note_rejected
from integration.services.dispatch import after_commit
from integration.services.timeline import push_event

State = InvoicePush.State


class PushStateError(Exception):
    """The push is not in a state that allows this action (e.g. approving a pushed push)."""


def push_move(push: InvoicePush, from_state: str, to_state: str, action: str, *, user=None, **fields) -> None:
    """Move the push between states, or raise `PushStateError` if someone else moved it first. Only the
    moves `InvoicePush.TRANSITIONS` lists are possible at all."""
    if not InvoicePush(state=from_state).can_move_to(to_state):
        raise ValueError(f"A push never moves from {from_state} to {to_state}.")
    with transaction.atomic():
        moved = InvoicePush.objects.filter(pk=push.pk, state=from_state).update(
            state=to_state, updated_at=timezone.now(), **fields
        )
        if not moved:
            push.refresh_from_db()
            raise PushStateError(
                f"Push #{push.pk} is {push.get_state_display().lower()}, not {from_state.replace('_', ' ')}."
            )
        push_event(push, action, outcome=PushEvent.Outcome.INFO, message=f"{from_state} → {to_state}", actor=user)
        if to_state == State.QUEUED:
            after_commit(push_execute_task, push.pk)
    push.refresh_from_db()


def identities(user) -> set[str]:
    """Who a dashboard user is, as a push records its requesters: user name and email, in lower case."""
    return {str(getattr(user, "username", "") or "").lower(), str(getattr(user, "email", "") or "").lower()} - {""}


def push_requesters(push: InvoicePush) -> set[str]:
    return {r.lower() for r in [*push.requesters, push.requested_by] if r}


def push_approve(*, push: InvoicePush, user) -> None:
    """A reviewer approves a push parked for review: it is queued for the worker. Four eyes: whoever requested the
    push (pressed, replayed or planned it again) cannot approve it — superusers included — unless
    REVIEW_ALLOW_SELF_APPROVAL is on (a team of one)."""
    if not settings.REVIEW_ALLOW_SELF_APPROVAL and identities(user) & push_requesters(push):
        raise PushStateError(
            f"You requested push #{push.pk} (pressed, replayed or planned it again), so another reviewer must "
            "approve it: four eyes on every invoice that needs review."
        )
    push_move(
        push,
        State.PENDING_REVIEW,
        State.QUEUED,
        f"Approved by {user}",
        user=user,
        reviewed_by=user,
        reviewed_at=timezone.now(),
    )


def push_reject(*, push: InvoicePush, user, reason: str) -> None:
    """A reviewer rejects a push parked for review, saying why; the deal can be pressed again later. The AE is
    told with a Note on the Deal."""
    reason = (reason or "").strip()
    if not reason:
        raise PushStateError("Say why you reject it: the account executive reads the reason on the deal in CRM.")
    push_move(
        push,
        State.PENDING_REVIEW,
        State.REJECTED,
        f"Rejected by {user}: {reason}",
        user=user,
        reviewed_by=user,
        reviewed_at=timezone.now(),
        error=reason,
    )
    note_rejected(push, user=user, reason=reason)  # the CRM call, once the move is committed


def push_replay(*, push: InvoicePush, user, why: str = "", requester: str = "") -> None:
    """Queue a failed push again; it resumes from the step that failed with a fresh retry budget. Whoever replays
    it (a dashboard user, or the AE pressing again) becomes one of its requesters."""
    added = identities(user) | ({requester.lower()} if requester else set())
    push_move(
        push,
        State.FAILED,
        State.QUEUED,
        why or f"Replayed by {user}",
        user=user,
        attempts=0,
        error="",
        next_attempt_at=None,
        requesters=sorted(set(push.requesters) | added),
    )
