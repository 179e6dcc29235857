"""The fence around every Books create (invoice, customer, item), so that no record is ever created twice.

A create is claimed in the database before it is sent (`BooksCreate`, one row per organization, kind and key).
While the row lives, nobody else creates the same record: another attempt that finds it in flight waits. When
Books' answer never comes (a timeout or a broken connection: it may still land), the row stays for
ZOHO_CREATE_SETTLE_SECONDS; every attempt in that time looks the record up and adopts it once it appears, but
creates nothing. Only after that bounded wait, and a last look that finds nothing, is the record created again.
A worker that dies mid-create leaves its row, which expires the same way. PostgreSQL, not Redis, holds the
fence: it works while Redis is away.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from integration.models import BooksCreate, InvoicePush
from integration.zoho.errors import HoldBack, ZohoError

T = TypeVar("T")
BUSY_RETRY_SECONDS = 5.0
SETTLING_LOOKS = 6  # how often, at most, an unanswered create is looked for while it may land


def _in_flight_until():
    """How long a claim may be in flight: the call's own timeouts, plus the settle time if it dies unanswered."""
    seconds = settings.ZOHO_CONNECT_TIMEOUT + settings.ZOHO_READ_TIMEOUT + settings.ZOHO_CREATE_SETTLE_SECONDS
    return timezone.now() + timedelta(seconds=seconds)


class _Claim:
    def __init__(self, kind: str, organization_id: str, key: str, label: str, sole_holder: bool):
        self.sole_holder = sole_holder
        self.where = {"organization_id": organization_id, "kind": kind, "key": key[:300]}
        self.label = label
        self.token = uuid.uuid4()
        self.settling_until = None  # an earlier create may still land before this: look, never create
        self.taken_over = False  # an earlier create was in flight or unanswered: look before creating

    def take(self) -> None:
        try:
            with transaction.atomic():
                BooksCreate.objects.create(**self.where, token=self.token, settle_until=_in_flight_until())
            return
        except IntegrityError:
            pass
        row = BooksCreate.objects.filter(**self.where).first()
        now = timezone.now()
        busy = HoldBack(
            f"Another attempt is creating the same Books {self.label} right now; waiting for it",
            retry_after=BUSY_RETRY_SECONDS,
        )
        # In flight elsewhere: wait for it — unless only our own earlier runs could hold it (a push's invoice: that
        # run has lost the push, and is gone or past its deadline), which is as good as unanswered.
        if row is None or (not row.uncertain and row.settle_until > now and not self.sole_holder):
            raise busy
        live = row.settle_until > now
        fields = {} if live else {"uncertain": False, "settle_until": _in_flight_until()}
        if not BooksCreate.objects.filter(pk=row.pk, token=row.token).update(token=self.token, **fields):
            raise busy
        self.taken_over = True
        self.settling_until = row.settle_until if live else None

    def settling(self) -> HoldBack:
        remaining = (self.settling_until - timezone.now()).total_seconds()
        return HoldBack(
            f"An earlier create of this Books {self.label} got no answer and may still land; not creating it again "
            f"for another {max(1, round(remaining))} s (looking for it meanwhile)",
            retry_after=max(1.0, min(remaining, settings.ZOHO_CREATE_SETTLE_SECONDS / SETTLING_LOOKS)),
        )

    def unanswered(self) -> None:
        BooksCreate.objects.filter(**self.where, token=self.token).update(
            uncertain=True, settle_until=timezone.now() + timedelta(seconds=settings.ZOHO_CREATE_SETTLE_SECONDS)
        )

    def release(self) -> None:
        BooksCreate.objects.filter(**self.where, token=self.token).delete()


def create_once(
    kind: str,
    organization_id: str,
    key: str,
    *,
    label: str,
    look: Callable[[bool], T | None],
    make: Callable[[], T],
    sole_holder: bool = False,
) -> tuple[T, bool]:
    """Find or create one Books record under the fence. `look(earlier)` finds it (None when absent; `earlier` is
    True when an earlier create of it was in flight or unanswered); `make()` creates it. Returns (record, created).

    Raises `HoldBack` (no attempt spent) while another create of the same record is in flight, or while an
    unanswered one may still land. `sole_holder`: only the caller's own earlier runs can hold this fence, so one
    in flight is treated as unanswered (looked for at once, not waited on)."""
    claim = _Claim(kind, organization_id, key, label, sole_holder)
    claim.take()
    keep = claim.settling_until is not None  # a failed look while settling keeps the fence up
    try:
        found = look(claim.taken_over)
        if found is not None:
            keep = False
            return found, False
        if claim.settling_until is not None:
            raise claim.settling()
        try:
            made = make()
        except ZohoError as exc:
            if exc.maybe_acted:
                claim.unanswered()
                keep = True
            raise
        return made, True
    finally:
        if not keep:
            claim.release()


def creates_forget(*, older_than: timedelta) -> int:
    """Delete fences that expired long ago (a create whose record was then found outside the fence, or never
    needed again); the sweeper calls this. Returns how many."""
    return BooksCreate.objects.filter(settle_until__lt=timezone.now() - older_than).delete()[0]


def invoice_record(*, push_id: int, invoice: dict) -> None:
    """Write a created invoice on its push unless one is recorded already (no lease needed: it exists)."""
    InvoicePush.objects.filter(pk=push_id, invoice_id="").update(
        invoice_id=invoice["invoice_id"],
        invoice_number=invoice.get("invoice_number") or "",
        invoice_url=invoice.get("invoice_url") or "",
        updated_at=timezone.now(),
    )
