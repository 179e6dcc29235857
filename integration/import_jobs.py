"""The model of a CSV import a worker applies (a file too large to check and apply while the browser waits);
registered with the app through `integration.models`. The work itself is in services/csv_jobs.py."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class CsvImport(models.Model):
    """One uploaded CSV file for a configuration table, applied by a worker; the screen polls its progress."""

    class State(models.TextChoices):
        QUEUED = "queued", "Waiting for a worker"
        CHECKING = "checking", "Checking"
        APPLYING = "applying", "Applying"
        DONE = "done", "Imported"
        REFUSED = "refused", "Refused: nothing was imported"

    table = models.CharField(max_length=20, help_text="legal_entities or tax_map")
    filename = models.CharField(max_length=200, blank=True)
    content = models.TextField(help_text="The file as uploaded (UTF-8), kept until it is applied.")
    rows = models.PositiveIntegerField(default=0, help_text="Lines in the file, the header excluded.")
    checked = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    summary = models.CharField(max_length=200, blank=True)
    errors = models.JSONField(default=list, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    progress_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"CSV import #{self.pk} of {self.table} ({self.state})"
