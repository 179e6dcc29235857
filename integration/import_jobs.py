"""Models of this app kept out of `integration/models.py` (which imports them, so they are registered as usual):
the fence of a Books create (services/fence.py), the day's Books call ledger (ledger.py), a CSV import a worker
applies (services/csv_jobs.py), and the dashboard's running totals (tally.py)."""

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


class BooksCreate(models.Model):
    """A Books create (invoice, customer or item) that is in flight, or whose answer never came and may still
    land: nothing creates the same record again before `settle_until` (fence.py)."""

    class Kind(models.TextChoices):
        INVOICE = "invoice", "invoice"
        CUSTOMER = "customer", "customer"
        ITEM = "item", "item"

    organization_id = models.CharField(max_length=40)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    key = models.CharField(max_length=300, help_text="Deal id, normalized customer name or normalized SKU.")
    token = models.UUIDField(help_text="Which attempt holds it.")
    uncertain = models.BooleanField(default=False, help_text="The create was sent and no answer came back.")
    settle_until = models.DateTimeField()
    started_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization_id", "kind", "key"], name="one_books_create")]

    def __str__(self) -> str:
        return f"Books {self.kind} create {self.key} in {self.organization_id} until {self.settle_until:%H:%M:%S}"


class BooksCallDay(models.Model):
    """Books calls made for one organization on one (UTC) day by one kind of work: the daily budget's ledger."""

    class Work(models.TextChoices):
        PUSH = "push", "pushes"
        WEBHOOK = "webhook", "webhook syncs"
        RECONCILE = "reconcile", "reconciliation"
        AUDIT = "audit", "duplicate audits"
        OTHER = "other", "checks and screens"

    organization_id = models.CharField(max_length=40)
    day = models.DateField()
    work = models.CharField(max_length=10, choices=Work.choices)
    calls = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization_id", "day", "work"], name="one_ledger_line")]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.day}: {self.calls} Books calls for {self.get_work_display()}"


class Tally(models.Model):
    """Running totals the dashboard reads instead of counting the whole history (integration/tally.py): signed
    deltas that database triggers write whenever a push's state, a sync's payment status or balance, or a
    delivery's state changes. The sweeper folds them into one row per key."""

    key = models.CharField(max_length=60, db_index=True)
    n = models.BigIntegerField(default=0)
    amount = models.DecimalField(max_digits=24, decimal_places=3, default=0)

    def __str__(self) -> str:
        return f"{self.key}: {self.n:+} ({self.amount:+})"


class CustomerName(models.Model):
    """Every customer name a push carries, once (PostgreSQL keeps it by a trigger, migration 0029): the push list's
    customer search looks here, then takes the pushes by exact name. A few thousand names search in a millisecond,
    where a substring index over a million pushes that share those names does not."""

    name = models.CharField(max_length=300, unique=True)

    def __str__(self) -> str:
        return self.name


class PushAlert(models.Model):
    """A Cliq message to the alerts channel (CLIQ_ALERTS_URL) when a push needs a person — waiting for review,
    a decision between look-alikes — or gives up. One per push and occasion: `key` is the attempt's lease (an
    attempt finishes once) or "press"; sent at most once, like the payment posts."""

    class Kind(models.TextChoices):
        REVIEW = "review", "Waiting for review"
        DECISION = "decision", "Needs a decision"
        GAVE_UP = "gave_up", "Gave up"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        UNCONFIRMED = "unconfirmed", "Unconfirmed (Cliq may have posted it; not resent)"

    push = models.ForeignKey("integration.InvoicePush", on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    key = models.CharField(max_length=40)
    text = models.TextField()
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["push", "key"], name="one_alert_per_occasion")]

    def __str__(self) -> str:
        return f"Alert for push {self.push_id}: {self.get_kind_display()} ({self.state})"
