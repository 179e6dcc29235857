"""Reconciliation (beat, every RECONCILE_INTERVAL_SECONDS): list each organization's invoices Books says
changed since the last run and apply the same sync as a webhook would, so a lost delivery heals within one
period; then wake parked deliveries whose invoice has since been recorded."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from celery import shared_task
from django.utils import timezone

from integration.models import InvoicePush, LegalEntity, ReconcileCursor, WebhookDelivery
from integration.redaction import redact_text
from integration.services.dispatch import after_commit
from integration.services.webhooks import BOOKS_TIME, invoice_sync, pushed, webhook_process_task
from integration.zoho.books import BooksClient
from integration.zoho.errors import ZohoError

logger = logging.getLogger(__name__)

RECONCILE_OVERLAP = timedelta(minutes=5)
RECONCILE_FIRST_LOOKBACK = timedelta(days=1)


def reconcile(*, organization_id: str, since: datetime | None = None) -> dict:
    """Sync every invoice of ours that Books says changed since the last run (minus an overlap)."""
    started = timezone.now()
    cursor = ReconcileCursor.objects.filter(organization_id=organization_id).first()
    if since is None:
        since = (cursor.last_run_at - RECONCILE_OVERLAP) if cursor else started - RECONCILE_FIRST_LOOKBACK
    books = BooksClient()
    changed = books.invoices_modified_since(organization_id, since.strftime(BOOKS_TIME))
    ours = set(
        InvoicePush.objects.filter(
            organization_id=organization_id,
            state=InvoicePush.State.PUSHED,
            invoice_id__in=[str(i["invoice_id"]) for i in changed],
        ).values_list("invoice_id", flat=True)
    )
    synced, failed = 0, []
    for invoice_id in sorted(ours):
        try:
            invoice_sync(organization_id=organization_id, invoice_id=invoice_id, books=books)
            synced += 1
        except ZohoError as exc:
            failed.append(f"{invoice_id}: {exc}")
    if not failed:
        ReconcileCursor.objects.update_or_create(organization_id=organization_id, defaults={"last_run_at": started})
    return {
        "organization_id": organization_id,
        "since": since,
        "changed": len(changed),
        "ours": len(ours),
        "synced": synced,
        "failed": failed,
    }


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
            results.append(reconcile(organization_id=org))
        except Exception as exc:  # any failure of one organization stays with that organization
            logger.warning("reconciliation of Books organization %s failed: %s", org, exc)
            results.append({"organization_id": org, "synced": 0, "failed": [redact_text(str(exc))]})
    results.append({"organization_id": "", "synced": 0, "released": parked_releasepushed(), "failed": []})
    return results


def parked_releasepushed() -> int:
    """Wake parked deliveries whose invoice has become one of our pushed invoices (a safety net under
    `parked_release`, which the completing push calls itself)."""
    released = 0
    for delivery in WebhookDelivery.objects.filter(state=WebhookDelivery.State.PARKED).only(
        "pk", "organization_id", "parked_invoice_id"
    ):
        if pushed(delivery.organization_id, delivery.parked_invoice_id):
            after_commit(webhook_process_task, delivery.pk)
            released += 1
    return released


@shared_task(name="integration.tasks.reconcile_task")
def reconcile_task() -> int:
    """Every RECONCILE_INTERVAL_SECONDS (beat): heal lost webhooks by syncing invoices Books says changed."""
    return sum(result["synced"] for result in reconcile_all())
