"""Reconciliation (beat, every RECONCILE_INTERVAL_SECONDS): list each organization's invoices Books says
changed since the last run and apply the same sync as a webhook would, so a lost delivery heals within one
period; then wake parked deliveries whose invoice has since been recorded."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import Exists, OuterRef, Q, Value
from django.db.models.functions import Concat
from django.utils import timezone

from integration.ledger import Work, working_on
from integration.models import InvoicePush, LegalEntity, ReconcileCursor, WebhookDelivery
from integration.redaction import redact_text
from integration.services.dispatch import after_commit
from integration.services.webhooks import BOOKS_TIME, books_time, invoice_sync, webhook_process_task
from integration.zoho.books import BooksClient
from integration.zoho.errors import HoldBack, ZohoError

logger = logging.getLogger(__name__)

RECONCILE_OVERLAP = timedelta(minutes=5)
RECONCILE_FIRST_LOOKBACK = timedelta(days=1)
RECONCILE_LEASE = timedelta(minutes=15)  # a run that holds the organization longer lost its worker


def _claim(organization_id: str, now: datetime) -> tuple[ReconcileCursor, uuid.UUID | None]:
    """The organization's cursor, and a lease on it unless another run holds one (single-flight per organization)."""
    cursor, _ = ReconcileCursor.objects.get_or_create(
        organization_id=organization_id, defaults={"last_run_at": now - RECONCILE_FIRST_LOOKBACK}
    )
    lease = uuid.uuid4()
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    claimed = ReconcileCursor.objects.filter(Q(pk=cursor.pk) & free).update(
        lease=lease, lease_until=now + RECONCILE_LEASE
    )
    return cursor, (lease if claimed else None)


def _applied_as_listed(listed: str | None, applied: str | None, read_at: datetime | None) -> bool:
    """The listed modification time is the one we last applied, and we read the invoice long enough after it that
    a second change within the same second (Books' times have no finer grain) would have been in our reading."""
    if not (listed and applied and read_at) or books_time(listed) != books_time(applied):
        return False
    margin = timedelta(seconds=settings.RECONCILE_SAME_SECOND_MARGIN_SECONDS)
    return read_at - books_time(listed) >= margin


def reconcile(*, organization_id: str, since: datetime | None = None) -> dict:
    """Sync every invoice of ours that Books lists as changed since the cursor (minus an overlap), costing what
    changed: an invoice whose listed `last_modified_time` is the one we last applied costs no further call, so an
    organization where nothing changed costs one list call. The cursor moves invoice by invoice (oldest change
    first), so a run that is held back by our own limiter — not a failure — or fails on one invoice keeps what it
    did and the next run carries on from there. One run per organization at a time."""
    started = timezone.now()
    cursor, lease = _claim(organization_id, started)
    report = {"organization_id": organization_id, "changed": 0, "ours": 0, "synced": 0, "skipped": 0, "failed": []}
    if lease is None:
        return {**report, "calls": 0, "note": "another run of this organization is in progress"}
    books = BooksClient()
    since = since or cursor.last_run_at - RECONCILE_OVERLAP
    note, reached = "", None  # the cursor moves up to just before the first invoice that could not be applied

    def before(listed: str | None) -> datetime:
        return books_time(listed) - timedelta(seconds=1) if listed else cursor.last_run_at

    try:
        changed = books.invoices_modified_since(organization_id, since.strftime(BOOKS_TIME))
        changed.sort(key=lambda row: books_time(row.get("last_modified_time")))
        ours = {
            invoice_id: (applied, read_at)
            for invoice_id, applied, read_at in InvoicePush.objects.filter(
                organization_id=organization_id,
                state=InvoicePush.State.PUSHED,
                invoice_id__in=[str(i["invoice_id"]) for i in changed],
            ).values_list("invoice_id", "sync__books_last_modified", "sync__read_at")
        }
        report.update(changed=len(changed), ours=len(ours))
        reached, blocked = started, False
        for row in changed:
            invoice_id, listed = str(row["invoice_id"]), row.get("last_modified_time")
            if invoice_id not in ours:
                continue
            if _applied_as_listed(listed, *ours[invoice_id]):
                report["skipped"] += 1  # already applied as listed: no call
                continue
            try:
                invoice_sync(organization_id=organization_id, invoice_id=invoice_id, books=books)
                report["synced"] += 1
            except HoldBack as exc:
                note = f"held back by our own pacing ({exc}); the next run carries on from here"
                reached = min(reached, before(listed))
                break
            except ZohoError as exc:
                report["failed"].append(redact_text(f"{invoice_id}: {exc}"))
                if not blocked:
                    reached, blocked = before(listed), True
    except HoldBack as exc:
        note, reached = f"held back by our own pacing before listing ({exc})", None
    except ZohoError as exc:  # the organization could not be read at all: said on every screen until a run passes
        report["error"] = redact_text(str(exc))
        raise
    finally:
        report.update(calls=books.sent, note=note)
        fields = {"lease": None, "lease_until": None, "last_report": {**report, "at": started.isoformat()}}
        if reached is not None and reached > cursor.last_run_at:
            fields["last_run_at"] = reached
        ReconcileCursor.objects.filter(pk=cursor.pk, lease=lease).update(**fields)
    return {**report, "since": since}


def reconcile_all(*, only: str | None = None) -> list[dict]:
    """Reconcile every active legal entity's organization (or `only` that one); one organization failing
    (Books down for it, its daily cap used up) is reported and does not stop the others. Then wake parked
    deliveries whose push has recorded its invoice."""
    orgs = LegalEntity.objects.filter(active=True).values_list("books_org_id", flat=True).distinct()
    if only:
        orgs = orgs.filter(books_org_id=only)
    results = []
    for org in orgs:
        try:
            with working_on(Work.RECONCILE):
                results.append(reconcile(organization_id=org))
        except Exception as exc:  # any failure of one organization stays with that organization
            logger.warning("reconciliation of Books organization %s failed: %s", org, exc)
            results.append({"organization_id": org, "synced": 0, "failed": [redact_text(str(exc))]})
    results.append({"organization_id": "", "synced": 0, "released": parked_releasepushed(), "failed": []})
    return results


PARK_AT_MOST = timedelta(days=1)


def parked_releasepushed() -> int:
    """Wake parked deliveries whose invoice has become one of our pushed invoices (a safety net under
    `parked_release`, which the completing push calls itself), and settle those parked longer than PARK_AT_MOST:
    no push of ours recorded their invoice, so they never will be ours. Two queries, however many are parked."""
    parked = WebhookDelivery.objects.filter(state=WebhookDelivery.State.PARKED)
    ours = InvoicePush.objects.filter(
        organization_id=OuterRef("organization_id"),
        invoice_id=OuterRef("parked_invoice_id"),
        state=InvoicePush.State.PUSHED,
    )
    due = list(parked.filter(Exists(ours)).values_list("pk", flat=True))
    for delivery_id in due:
        after_commit(webhook_process_task, delivery_id)
    parked.exclude(pk__in=due).filter(received_at__lt=timezone.now() - PARK_AT_MOST).update(
        state=WebhookDelivery.State.IGNORED,
        processed_at=timezone.now(),
        note=Concat(
            Value("Invoice "),
            "parked_invoice_id",
            Value(" was never recorded by a push of ours within a day of this delivery: not ours, nothing to sync."),
        ),
    )
    return len(due)


@shared_task(name="integration.tasks.reconcile_task")
def reconcile_task() -> int:
    """Every RECONCILE_INTERVAL_SECONDS (beat): heal lost webhooks by syncing invoices Books says changed."""
    return sum(result["synced"] for result in reconcile_all())
