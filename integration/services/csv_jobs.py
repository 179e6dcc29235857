"""CSV imports a worker applies: a file of more than INLINE_ROWS rows is stored and handed to a worker, which
checks it (its progress on the row, every 100 rows), then applies it all or nothing; the screen polls the row
like a bulk replay's. Smaller files are applied at once, inside the request."""

from __future__ import annotations

import io

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from integration.models import CsvImport
from integration.services.config_tables import CsvImportError, legal_entities_import, tax_map_import
from integration.services.dispatch import after_commit

INLINE_ROWS = 500
IMPORTERS = {"legal_entities": legal_entities_import, "tax_map": tax_map_import}


def csv_import_start(*, table: str, filename: str, content: str, user) -> CsvImport:
    """Record the file and hand it to a worker."""
    with transaction.atomic():
        job = CsvImport.objects.create(
            table=table,
            filename=filename[:200],
            content=content,
            rows=max(0, len(content.splitlines()) - 1),
            requested_by=user if getattr(user, "pk", None) else None,
        )
        after_commit(csv_import_task, job.pk)
    return job


def csv_import_run(*, import_id: int) -> None:
    """Check and apply one stored file, once: claimed from queued (a second message finds nothing to do)."""
    now = timezone.now()
    if not CsvImport.objects.filter(pk=import_id, state=CsvImport.State.QUEUED).update(
        state=CsvImport.State.CHECKING, progress_at=now
    ):
        return
    job = CsvImport.objects.get(pk=import_id)

    def progress(phase: str, count: int) -> None:
        fields = {"checked": count} if phase == "checking" else {"state": CsvImport.State.APPLYING}
        CsvImport.objects.filter(pk=import_id).update(progress_at=timezone.now(), **fields)

    source = f"CSV upload on the screen ({job.filename or 'a file'}, import #{job.pk})"
    try:
        summary = IMPORTERS[job.table](file=io.StringIO(job.content, newline=""), source=source, progress=progress)
    except CsvImportError as exc:
        outcome = {"state": CsvImport.State.REFUSED, "errors": exc.errors}
    else:
        outcome = {"state": CsvImport.State.DONE, "summary": str(summary), "checked": job.rows}
    CsvImport.objects.filter(pk=import_id).update(content="", finished_at=timezone.now(), **outcome)


@shared_task(name="integration.tasks.csv_import_task")
def csv_import_task(import_id: int) -> None:
    csv_import_run(import_id=import_id)
