"""Telling the account executive in CRM: a rejected push, and a push that gave up, are written as a Note on the
Deal (CONTRACT §4 Notes: Note_Title, Note_Content), so the AE sees it where they work. Informational: a CRM
failure is written on the push's timeline, never fatal. Called outside any transaction."""

from __future__ import annotations

from django.conf import settings

from integration.models import InvoicePush, PushEvent
from integration.redaction import redact_text
from integration.services.timeline import push_event
from integration.zoho.crm import CrmClient
from integration.zoho.errors import ZohoError


def deal_note(push: InvoicePush, *, title: str, content: str) -> bool:
    """Write a note on the push's Deal; True when CRM took it."""
    link = f"{settings.PUBLIC_BASE_URL}/pushes/{push.pk}/"
    text = f"{content}\n\nInvoice Bridge, push #{push.pk}: {link}"
    try:
        CrmClient().note_create("Deals", push.deal_id, title=title, content=text)
    except (ZohoError, ValueError) as exc:
        push_event(
            push,
            "Could not write a note on the CRM deal",
            outcome=PushEvent.Outcome.ERROR,
            message=redact_text(f"{title}: {exc}"),
        )
        return False
    push_event(push, f"Note on the CRM deal: {title}", outcome=PushEvent.Outcome.OK, message=content)
    return True


def note_rejected(push: InvoicePush, *, user, reason: str) -> bool:
    return deal_note(
        push,
        title="Invoice rejected by finance",
        content=f"{user} rejected the invoice for this deal: {reason} "
        "Fix what the reason says, then press Generate Invoice again.",
    )


def note_gave_up(push: InvoicePush) -> bool:
    return deal_note(
        push,
        title="Invoice not created",
        content=f"The invoice for this deal could not be created: {push.error} "
        "Finance has been shown this on the Invoice Bridge dashboard and can replay it once the cause is fixed.",
    )
