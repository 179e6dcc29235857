"""A push's timeline: one redacted line per event, the record of what happened and why."""

from __future__ import annotations

from integration.models import InvoicePush, PushEvent
from integration.redaction import redact, redact_text


def push_event(
    push: InvoicePush,
    action: str,
    *,
    step: str = "",
    outcome: str = PushEvent.Outcome.INFO,
    message: str = "",
    detail: dict | None = None,
    actor=None,
) -> PushEvent:
    """Append one redacted line to the push's timeline; `actor` is the person, for staff actions."""
    return PushEvent.objects.create(
        push=push,
        step=step,
        action=action,
        outcome=outcome,
        message=redact_text(message),
        detail=redact(detail or {}),
        actor=str(actor)[:150] if getattr(actor, "pk", None) else "",
    )
