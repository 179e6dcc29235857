"""The invoice create's fence: while a create waits for Books, its worker beats a heartbeat on the push row so
no other attempt looks up (and creates) too early; a create that answers after its run lost the push still
records the invoice, which the next attempt adopts."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from django.conf import settings
from django.db import connection
from django.utils import timezone

from integration.models import InvoicePush


@contextlib.contextmanager
def create_heartbeat(push_id: int) -> Iterator[None]:
    """While an invoice create is in flight, refresh the push's `create_heartbeat_at` every
    PUSH_CREATE_HEARTBEAT_SECONDS from a side thread; clear it when the call is over, whatever happened."""
    stop = threading.Event()
    interval = settings.PUSH_CREATE_HEARTBEAT_SECONDS

    def beat() -> None:
        try:
            while not stop.wait(interval):
                InvoicePush.objects.filter(pk=push_id, create_heartbeat_at__isnull=False).update(
                    create_heartbeat_at=timezone.now()
                )
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"push-{push_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        InvoicePush.objects.filter(pk=push_id).update(create_heartbeat_at=None)


def invoice_record(*, push_id: int, invoice: dict) -> None:
    """Write a created invoice on its push unless one is recorded already (no lease needed: it exists)."""
    InvoicePush.objects.filter(pk=push_id, invoice_id="").update(
        invoice_id=invoice["invoice_id"],
        invoice_number=invoice.get("invoice_number") or "",
        invoice_url=invoice.get("invoice_url") or "",
        updated_at=timezone.now(),
    )
