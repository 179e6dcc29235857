"""A reviewer's and finance's actions on a push: approve, reject, replay — each a checked state move."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from integration.models import InvoicePush, PushEvent
from integration.services.attempt import push_execute_task
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


def push_approve(*, push: InvoicePush, user) -> None:
    """A reviewer approves a push parked for review: it is queued for the worker."""
    push_move(
        push,
        State.PENDING_REVIEW,
        State.QUEUED,
        f"Approved by {user}",
        user=user,
        reviewed_by=user,
        reviewed_at=timezone.now(),
    )


def push_reject(*, push: InvoicePush, user, reason: str = "") -> None:
    """A reviewer rejects a push parked for review; the deal can be pressed again later."""
    push_move(
        push,
        State.PENDING_REVIEW,
        State.REJECTED,
        f"Rejected by {user}",
        user=user,
        reviewed_by=user,
        reviewed_at=timezone.now(),
        error=reason or "Rejected by a reviewer.",
    )


def push_replay(*, push: InvoicePush, user, why: str = "") -> None:
    """Queue a failed push again; it resumes from the step that failed with a fresh retry budget."""
    push_move(
        push,
        State.FAILED,
        State.QUEUED,
        why or f"Replayed by {user}",
        user=user,
        attempts=0,
        error="",
        next_attempt_at=None,
    )
