"""Problems find people: a Cliq message to the alerts channel (CLIQ_ALERTS_URL, separate from the payments
channel) when a push waits for review, needs a decision between look-alikes, or gives up — with a link to it.

Each occasion is posted at most once (one row per push and occasion, claimed before the call; a lost answer is
never resent), and an alert that cannot be sent never touches the push."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import IntegrityError
from django.urls import reverse

from integration.models import InvoicePush, PushAlert
from integration.redaction import redact_text
from integration.services.cliq_posts import post_once
from integration.services.dispatch import after_commit
from integration.services.retry import retry_later
from integration.zoho.cliq import CliqClient
from integration.zoho.errors import ZohoError

WHAT = {
    PushAlert.Kind.REVIEW: "is waiting for a reviewer to approve it",
    PushAlert.Kind.DECISION: "needs a finance administrator to say which Books record a look-alike is",
    PushAlert.Kind.GAVE_UP: "gave up",
}


def alert_text(push: InvoicePush, kind: str) -> str:
    deal = push.deal_name or f"deal {push.deal_id}"
    entity = f" ({push.legal_entity.code})" if push.legal_entity_id else ""
    why = f": {push.error}" if kind == PushAlert.Kind.GAVE_UP and push.error else ""
    link = settings.PUBLIC_BASE_URL + reverse("integration:push-detail", args=[push.pk])
    return f"Invoice for “{deal}”{entity} {WHAT[kind]}{why}\nOpen it: {link}"


def push_alert(push: InvoicePush, kind: str, key: str) -> None:
    """Record the alert for this occasion and hand it to a worker; nothing when no alerts channel is configured
    or when this occasion already has its alert."""
    if not settings.CLIQ_ALERTS_URL:
        return
    try:
        alert = PushAlert.objects.create(push=push, kind=kind, key=key[:40], text=alert_text(push, kind)[:2000])
    except IntegrityError:
        return
    after_commit(push_alert_task, alert.pk)


def push_alert_send(*, alert_id: int) -> None:
    """Send one alert to the alerts channel at most once, as the payment posts are sent (`post_once`)."""
    client = CliqClient(url=settings.CLIQ_ALERTS_URL)
    post_once(
        PushAlert,
        alert_id,
        lambda alert: client.message_post(
            text=alert.text, card={"title": f"Invoice Bridge: {alert.get_kind_display()}", "theme": "modern-inline"}
        ),
    )


@shared_task(bind=True, name="integration.tasks.push_alert_task")
def push_alert_task(self, alert_id: int, attempt: int = 1, deferrals: int = 0) -> None:
    try:
        push_alert_send(alert_id=alert_id)
    except ZohoError as exc:
        if not retry_later(push_alert_task, (alert_id,), exc, attempt, deferrals):
            PushAlert.objects.filter(pk=alert_id).update(state=PushAlert.State.FAILED, error=redact_text(str(exc)))
