"""Books → CRM: a webhook delivery is received (webhook_inbox.py), then processed by a worker (CONTRACT.md §3).

A delivery is only a nudge. The worker re-reads the entity from Books (and through it the invoice),
then brings the deal in line: `Payment_Status`, `Credited_Amount`, `Refunded_Amount`. Syncs of one
invoice are serialised on its `InvoiceSync` row, which also remembers what was last written, so a
repeated delivery writes nothing and no field moves backwards because of an older read. New customer
payments get their Cliq post (cliq_posts.py); reconciliation (reconcile.py) runs the same sync.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from integration.ledger import Work, working_on
from integration.models import InvoicePush, InvoiceSync, WebhookDelivery
from integration.money import as_decimal, books_places, currency_decimals, round_money
from integration.redaction import redact_text
from integration.services.cliq_posts import payment_posts
from integration.services.dispatch import after_commit
from integration.services.retry import retry_later
from integration.zoho.books import BooksClient, books_id
from integration.zoho.crm import CrmClient
from integration.zoho.errors import HoldBack, ZohoError, ZohoNotFound

logger = logging.getLogger(__name__)

KINDS = ("invoice", "payment", "creditnote", "creditnote_refund")
ID_FIELDS = {
    "invoice": "invoice_id",
    "payment": "payment_id",
    "creditnote": "creditnote_id",
    "creditnote_refund": "creditnote_refund_id",
}
PAYMENT_STATUS = {
    "paid": "Paid",
    "partially_paid": "Partially Paid",
    "overdue": "Overdue",
    "void": "Void",
    "sent": "Unpaid",
    "viewed": "Unpaid",
    "draft": "Unpaid",
}
WRITTEN_OFF = "Written Off"
SETTLED = ("Paid", WRITTEN_OFF)  # never left because of a reading no newer than the one that said so
BOOKS_TIME = "%Y-%m-%dT%H:%M:%S%z"
SYNC_TRIES = 3
WRITE_CLAIM = timedelta(seconds=90)  # longer than a CRM call can take (its timeouts): then the writer is gone


# --- processing -----------------------------------------------------------------------------------------
def webhook_process(*, delivery_id: int) -> None:
    """Re-read the delivery's entity from Books and sync every invoice of ours it touches.

    Zoho errors propagate (the task retries); the delivery records where it got to."""
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    if delivery.state not in (
        WebhookDelivery.State.RECEIVED,
        WebhookDelivery.State.PARKED,
        WebhookDelivery.State.FAILED,
    ):
        return
    WebhookDelivery.objects.filter(pk=delivery_id).update(
        attempts=delivery.attempts + 1, last_attempt_at=timezone.now()
    )
    org, books = delivery.organization_id, BooksClient()
    invoice_ids, creditnote_ids = _invoices_touched(books, org, delivery)
    parked, foreign = [], []
    for invoice_id in invoice_ids:
        if invoice_sync(organization_id=org, invoice_id=invoice_id, books=books, creditnote_ids=creditnote_ids) is None:
            (parked if _may_become_ours(books, org, invoice_id) else foreign).append(invoice_id)
    if foreign and not parked and len(foreign) == len(invoice_ids):
        WebhookDelivery.objects.filter(pk=delivery_id).update(
            state=WebhookDelivery.State.IGNORED,
            processed_at=timezone.now(),
            parked_invoice_id="",
            note=f"Invoice {', '.join(foreign)} was not made by Invoice Bridge (no push of ours is for its deal): "
            "nothing to sync.",
        )
    elif parked:
        WebhookDelivery.objects.filter(pk=delivery_id).update(
            state=WebhookDelivery.State.PARKED,
            parked_invoice_id=parked[0],
            note=f"Invoice {parked[0]} is not one of our pushed invoices yet; applied when its push completes.",
        )
        # The push may have completed (and released what was parked then) between our look and the line
        # above: parked is committed now, so look once more and wake ourselves if so.
        if pushed(org, parked[0]):
            after_commit(webhook_process_task, delivery_id)
    else:
        WebhookDelivery.objects.filter(pk=delivery_id).update(
            state=WebhookDelivery.State.PROCESSED,
            processed_at=timezone.now(),
            parked_invoice_id="",
            note=f"Synced invoice(s) {', '.join(invoice_ids) or 'none'}.",
        )


def _invoices_touched(books: BooksClient, org: str, delivery: WebhookDelivery) -> tuple[list[str], list[str]]:
    """The invoices a delivery concerns (and the credit notes it names), read from Books.

    The payload's state is never used; its identifiers are, when Books can no longer show the entity
    (a deleted payment or credit note still changed its invoices)."""
    kind, entity_id, body = delivery.kind, delivery.entity_id, delivery.payload.get(delivery.kind) or {}
    hinted = _invoice_ids(body.get("invoices"))
    if kind != "invoice" and books_id_or_blank(body.get("invoice_id")):
        hinted.insert(0, books_id_or_blank(body.get("invoice_id")))
    if kind == "invoice":
        return [entity_id], []
    if kind == "payment":
        try:
            payment = books.payment_get(org, entity_id)
        except ZohoNotFound:
            return list(dict.fromkeys(hinted)), []
        return _invoice_ids(payment.get("invoices")), []
    creditnote_id = entity_id if kind == "creditnote" else books_id_or_blank(body.get("creditnote_id"))
    if not creditnote_id:
        # A refund that does not name its credit note: re-check every invoice of ours with credit notes.
        synced = InvoiceSync.objects.filter(organization_id=org).exclude(creditnote_ids=[])
        return list(synced.values_list("invoice_id", flat=True)), [c for s in synced for c in s.creditnote_ids]
    try:
        note = books.creditnote_get(org, creditnote_id)
    except ZohoNotFound:
        return list(dict.fromkeys(hinted)), [creditnote_id]
    # credit-notes.yml: the invoices a note was raised against or applied to are its `invoices[]`.
    return _invoice_ids(note.get("invoices")), [creditnote_id]


def books_id_or_blank(value) -> str:
    try:
        return books_id(value)
    except ValueError:
        return ""


def _invoice_ids(rows) -> list[str]:
    """The invoice ids of a payment's or credit note's `invoices`, skipping anything malformed."""
    if not isinstance(rows, list):
        return []
    ids = (books_id_or_blank(row.get("invoice_id")) for row in rows if isinstance(row, dict))
    return list(dict.fromkeys(i for i in ids if i))


def _may_become_ours(books: BooksClient, organization_id: str, invoice_id: str) -> bool:
    """Whether an invoice that is not (yet) one of our pushed invoices may still become one: a push of ours still
    on its way names its deal in the invoice's `reference_number`. No push on its way in the organization: no call."""
    on_its_way = InvoicePush.objects.filter(
        organization_id=organization_id,
        state__in=[InvoicePush.State.QUEUED, InvoicePush.State.RUNNING, InvoicePush.State.FAILED],
    )
    if on_its_way.filter(invoice_id=invoice_id).exists():
        return True  # created by a push that has not finished: it will be ours
    waiting = set(on_its_way.filter(invoice_id="").values_list("deal_id", flat=True))
    if not waiting:
        return False
    try:
        reference = str(books.invoice_get(organization_id, invoice_id).get("reference_number") or "")
    except ZohoNotFound:
        return False
    return reference in waiting


def pushed(organization_id: str, invoice_id: str) -> bool:
    return InvoicePush.objects.filter(
        organization_id=organization_id, invoice_id=invoice_id, state=InvoicePush.State.PUSHED
    ).exists()


def invoice_sync(
    *,
    organization_id: str,
    invoice_id: str,
    books: BooksClient | None = None,
    crm: CrmClient | None = None,
    creditnote_ids: list[str] | tuple = (),
) -> InvoiceSync | None:
    """Bring the deal of one of our invoices in line with Books. None when the invoice is not ours (yet).

    No field moves backwards because of an older reading: a reading of an invoice older than the one last
    applied changes nothing, and a reading taken while another sync of the same invoice was applied is
    thrown away and taken again (the other sync may have read newer data), so concurrent deliveries
    and reconciliation cannot interleave an old reading over a new one."""
    push = InvoicePush.objects.filter(
        organization_id=organization_id, invoice_id=invoice_id, state=InvoicePush.State.PUSHED
    ).first()
    if push is None:
        return None
    books = books or BooksClient()
    crm = crm or CrmClient()
    InvoiceSync.objects.get_or_create(organization_id=organization_id, invoice_id=invoice_id, defaults={"push": push})
    for _ in range(SYNC_TRIES):
        previous = InvoiceSync.objects.get(organization_id=organization_id, invoice_id=invoice_id)
        reading = _read_invoice(books, organization_id, invoice_id, previous, creditnote_ids)
        if reading is None:
            return previous  # the invoice is as we last synced it: one call, nothing to do
        applied = _apply_reading(push, previous.version, reading, crm)
        if applied is not None:
            return applied
    logger.warning("invoice %s kept changing under concurrent syncs; the last one applied stands", invoice_id)
    return InvoiceSync.objects.get(organization_id=organization_id, invoice_id=invoice_id)


def _read_invoice(
    books: BooksClient, organization_id: str, invoice_id: str, previous: InvoiceSync, creditnote_ids
) -> dict | None:
    """Everything the deal's fields come from, read from Books; None when the invoice has not changed."""
    read_at = timezone.now()
    invoice = books.invoice_get(organization_id, invoice_id)
    fingerprint = _fingerprint(invoice)
    if previous.synced_at and not creditnote_ids and fingerprint == previous.books_fingerprint:
        InvoiceSync.objects.filter(pk=previous.pk).update(read_at=read_at)  # confirmed as it was, at this time
        return None
    applied = (
        [str(c["creditnote_id"]) for c in books.invoice_credits_applied(organization_id, invoice_id)]
        if _maybe_positive(invoice.get("credits_applied"))
        else []
    )
    payments = (
        books.invoice_payments(organization_id, invoice_id) if _maybe_positive(invoice.get("payment_made")) else []
    )
    places = _places(invoice)
    notes = []
    for note_id in dict.fromkeys([*previous.creditnote_ids, *creditnote_ids, *applied]):
        try:
            note = books.creditnote_get(organization_id, note_id)
        except ZohoNotFound:
            continue  # deleted in Books
        if invoice_id not in _invoice_ids(note.get("invoices")):
            continue
        note_refunds = books.creditnote_refunds(organization_id, note_id) if note.get("status") != "void" else []
        # Refund rows carry amount_fcy — in the credit note's currency, which is the invoice's — and amount_bcy
        # (the organization's base currency); never `amount`.
        refund_total = sum((Decimal(str(r.get("amount_fcy") or 0)) for r in note_refunds), Decimal("0.00"))
        notes.append(
            {
                "creditnote_id": note_id,
                "number": note.get("creditnote_number", ""),
                "status": note.get("status", ""),
                "total": _money(note.get("total"), places),
                "refunded": _money(refund_total, places),
                "date": note.get("date", ""),
                "modified": note.get("updated_time", ""),  # the detail's change time (last_modified_time: lists only)
            }
        )
    return {"invoice": invoice, "fingerprint": fingerprint, "payments": payments, "notes": notes, "read_at": read_at}


def _not_older(reading: dict, sync: InvoiceSync) -> dict:
    """The reading with anything older than what was applied before put back: a credit note read older than
    the version we hold keeps ours, and while the invoice itself is no newer than the last reading, a
    payment we saw does not vanish (a lagging read of the payments list)."""
    held = {n["creditnote_id"]: n for n in sync.creditnotes}
    notes = []
    for note in reading["notes"]:
        ours = held.get(note["creditnote_id"])
        older = ours and books_time(note.get("modified")) < books_time(ours.get("modified"))
        notes.append(ours if older else note)
    payments = list(reading["payments"])
    if not _newer(reading["invoice"], sync):
        seen = {str(p["payment_id"]) for p in payments}
        payments += [{**p, "payment_mode": p.get("mode", "")} for p in sync.payments if p["payment_id"] not in seen]
    live = [n for n in notes if n["status"] != "void"]
    return {
        **reading,
        "notes": notes,
        "payments": payments,
        "credited": sum((Decimal(n["total"]) for n in live), Decimal("0.00")),
        "refunded": sum((Decimal(n["refunded"]) for n in live), Decimal("0.00")),
    }


def _apply_reading(push: InvoicePush, read_version: int, reading: dict, crm: CrmClient) -> InvoiceSync | None:
    """Write a reading to the deal and the sync row; None when another sync was applied since the reading began
    (read again). One writer per invoice, without holding a row lock across the CRM call: the writer claims the
    row (its version bumped, `writing_until` set) in a short transaction, writes CRM outside any transaction, then
    records what it wrote; another sync meanwhile reads again, or waits while the claim lasts."""
    invoice = reading["invoice"]
    now = timezone.now()
    with transaction.atomic():
        sync = InvoiceSync.objects.select_for_update().get(
            organization_id=push.organization_id, invoice_id=invoice["invoice_id"]
        )
        if sync.version != read_version:
            return None
        if sync.writing_until and sync.writing_until > now:
            raise HoldBack("Another sync of this invoice is writing to CRM; waiting for it", retry_after=2)
        if sync.books_last_modified and books_time(invoice.get("last_modified_time")) < books_time(
            sync.books_last_modified
        ):
            return sync  # Books served an older state than one we already applied: change nothing
        reading = _not_older(reading, sync)
        fields = _sync_fields(invoice, reading, sync)
        last = {
            "Payment_Status": sync.payment_status,
            "Credited_Amount": sync.credited_amount,
            "Refunded_Amount": sync.refunded_amount,
            "Written_Off_Amount": sync.written_off_amount,
        }
        changes = {k: v for k, v in fields.pop("wanted").items() if v != last[k]}
        sync.version += 1  # claimed: any reading begun before now is read again
        if not changes:
            _record(sync, fields)
            payment_posts(push, invoice, reading["payments"])
            return sync
        sync.writing_until = now + WRITE_CLAIM
        sync.save(update_fields=["version", "writing_until"])
    try:
        crm.record_update("Deals", push.deal_id, changes)  # no transaction, no row lock held
    except Exception:
        InvoiceSync.objects.filter(pk=sync.pk, version=sync.version).update(writing_until=None)
        raise
    with transaction.atomic():
        sync = InvoiceSync.objects.select_for_update().get(pk=sync.pk)
        sync.crm_writes += 1
        # Recorded: a reading begun while we were writing (after the claim, before this) knew none of it — the
        # credit note this reading found, say — and is read again rather than applied over it.
        sync.version += 1
        _record(sync, fields)
        payment_posts(push, invoice, reading["payments"])
    return sync


def _sync_fields(invoice: dict, reading: dict, sync: InvoiceSync) -> dict:
    """What the sync row will hold after this reading, and (`wanted`) the deal's fields."""
    places = _places(invoice)
    written_off = round_money(invoice.get("write_off_amount"), places)
    status = PAYMENT_STATUS.get(invoice.get("status", ""), "Unpaid")
    if written_off > 0 and round_money(invoice.get("balance"), places) == 0:
        status = WRITTEN_OFF  # whatever status Books shows: its document does not say which
    if sync.payment_status in SETTLED and status != sync.payment_status and not _newer(invoice, sync):
        status = sync.payment_status  # a reading no newer than the one that said Paid (or Written Off)
    return {
        "wanted": {
            "Payment_Status": status,
            "Credited_Amount": reading["credited"],
            "Refunded_Amount": reading["refunded"],
            "Written_Off_Amount": written_off,
        },
        "books_fingerprint": reading["fingerprint"],
        "books_last_modified": invoice.get("last_modified_time") or sync.books_last_modified,
        "payment_status": status,
        "credited_amount": reading["credited"],
        "refunded_amount": reading["refunded"],
        "written_off_amount": written_off,
        "creditnote_ids": sorted(set(sync.creditnote_ids) | {n["creditnote_id"] for n in reading["notes"]}),
        "creditnotes": reading["notes"],
        "payments": [
            {
                "payment_id": str(p["payment_id"]),
                "number": str(p.get("payment_number") or ""),
                "amount": _money(p["amount"], places),
                "date": p.get("date", ""),
                "mode": p.get("payment_mode", ""),
            }
            for p in reading["payments"]
        ],
        "total": _decimal(invoice.get("total"), places),
        "balance": _decimal(invoice.get("balance"), places),
        "currency": str(invoice.get("currency_code") or "")[:3],
        "read_at": reading["read_at"],
    }


def _record(sync: InvoiceSync, fields: dict) -> None:
    for name, value in fields.items():
        setattr(sync, name, value)
    sync.synced_at, sync.writing_until = timezone.now(), None
    sync.save()


def _places(invoice: dict) -> int:
    """The decimals of the invoice's currency: Books' `price_precision` on the invoice, else ISO's."""
    return books_places(
        invoice.get("price_precision"), default=currency_decimals(invoice.get("currency_code", "")), most=3
    )


def _decimal(value, places: int) -> Decimal | None:
    return round_money(value, places) if as_decimal(value) is not None else None


def _money(value, places: int) -> str:
    return str(round_money(value, places))


def _fingerprint(invoice: dict) -> str:
    """Everything we use of an invoice. Timestamps have one-second resolution, so they alone cannot tell
    two changes in the same second apart."""
    fields = ("last_modified_time", "status", "balance", "payment_made", "credits_applied", "total", "write_off_amount")
    return "|".join(str(invoice.get(f, "")) for f in fields)


def _maybe_positive(amount) -> bool:
    """False only when Books says the amount is zero; a missing field means we must look."""
    return amount is None or Decimal(str(amount)) != 0


def books_time(value: str | None) -> datetime:
    try:
        return datetime.strptime(value or "", BOOKS_TIME)
    except ValueError:
        return datetime.min.replace(tzinfo=timezone.get_current_timezone())


def _newer(invoice: dict, sync: InvoiceSync) -> bool:
    return books_time(invoice.get("last_modified_time")) > books_time(sync.books_last_modified)


def parked_release(*, organization_id: str, invoice_id: str) -> int:
    """A push just recorded its invoice: process deliveries that arrived before it did."""
    parked = list(
        WebhookDelivery.objects.filter(
            organization_id=organization_id, parked_invoice_id=invoice_id, state=WebhookDelivery.State.PARKED
        ).values_list("pk", flat=True)
    )
    for delivery_id in parked:
        after_commit(webhook_process_task, delivery_id)
    return len(parked)


def webhook_delivery_retry(*, delivery: WebhookDelivery) -> bool:
    """Process a failed delivery again (a person asked to); False when it is not failed (nothing changes)."""
    with transaction.atomic():
        moved = WebhookDelivery.objects.filter(pk=delivery.pk, state=WebhookDelivery.State.FAILED).update(
            state=WebhookDelivery.State.RECEIVED, note="Retried from the dashboard."
        )
        if moved:
            after_commit(webhook_process_task, delivery.pk)
    return bool(moved)


@shared_task(bind=True, name="integration.tasks.webhook_process_task")
def webhook_process_task(self, delivery_id: int, attempt: int = 1, deferrals: int = 0) -> None:
    """Re-read a Books webhook's entity and sync the deal(s); Zoho trouble is retried with backoff."""
    try:
        with working_on(Work.WEBHOOK):
            webhook_process(delivery_id=delivery_id)
    except ZohoError as exc:
        if not retry_later(webhook_process_task, (delivery_id,), exc, attempt, deferrals):
            note = f"Gave up after {attempt} attempts: {exc}" if exc.retryable else str(exc)
            WebhookDelivery.objects.filter(pk=delivery_id).update(
                state=WebhookDelivery.State.FAILED, note=redact_text(note)
            )
    except Exception as exc:  # a bug or a payload we did not foresee: fail visibly, never stay "received"
        logger.exception("webhook delivery %s could not be processed", delivery_id)
        WebhookDelivery.objects.filter(pk=delivery_id).update(
            state=WebhookDelivery.State.FAILED,
            note=redact_text(f"Could not be processed ({type(exc).__name__}: {exc})."),
        )
