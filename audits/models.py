"""Duplicate audits: a run per organization that reads the Books catalogue page by page (so an interrupted run
carries on where it stopped), the groups it found (flags), what finance decided about each, and the pairs a
person settled so they are not flagged again."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from integration.models import LegalEntity


class AuditRun(models.Model):
    """One audit of one Books organization's items and customers. At most one is queued or running per
    organization (a database constraint): two runs never overlap."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Finished"
        FAILED = "failed", "Failed"

    class Phase(models.TextChoices):
        ITEMS = "items", "Reading the items"
        CONTACTS = "contacts", "Reading the customers"
        DETAILS = "details", "Reading tax registration numbers"
        MATCHING = "matching", "Matching"
        DONE = "done", "Done"

    ACTIVE_STATES = (State.QUEUED, State.RUNNING)

    legal_entity = models.ForeignKey(LegalEntity, on_delete=models.CASCADE, related_name="audit_runs")
    organization_id = models.CharField(max_length=40)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    phase = models.CharField(max_length=10, choices=Phase.choices, default=Phase.ITEMS)
    next_page = models.PositiveIntegerField(default=1, help_text="The next page (or contact) of the phase to read.")
    items_read = models.PositiveIntegerField(default=0)
    contacts_read = models.PositiveIntegerField(default=0)
    details_read = models.PositiveIntegerField(default=0)
    details_total = models.PositiveIntegerField(default=0)
    books_calls = models.PositiveIntegerField(default=0)
    expected_items = models.PositiveIntegerField(default=0, help_text="From the last finished run, for progress.")
    expected_contacts = models.PositiveIntegerField(default=0)
    item_groups = models.PositiveIntegerField(default=0)
    customer_groups = models.PositiveIntegerField(default=0)
    trigger = models.CharField(max_length=20, default="screen", help_text="screen, command or schedule.")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    error = models.TextField(blank=True)
    lease = models.UUIDField(null=True, blank=True, help_text="Which worker holds the run while it works.")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization_id"],
                condition=Q(state__in=["queued", "running"]),
                name="one_active_audit_per_org",
            )
        ]

    def __str__(self) -> str:
        return f"Audit #{self.pk} of {self.legal_entity_id} ({self.state})"

    @property
    def percent(self) -> int:
        """Progress for the bar: reading is most of the work; without a previous run the total is a guess."""
        if self.state == self.State.DONE:
            return 100
        weights = {"items": (0, 55), "contacts": (55, 80), "details": (80, 95), "matching": (95, 100)}
        start, end = weights.get(self.phase, (100, 100))
        done, total = {
            "items": (self.items_read, self.expected_items),
            "contacts": (self.contacts_read, self.expected_contacts),
            "details": (self.details_read, self.details_total),
        }.get(self.phase, (0, 0))
        share = min(done / total, 0.99) if total else (done / (done + 400) if done else 0)
        return int(start + (end - start) * share)


class AuditPage(models.Model):
    """One page of what Books returned, kept until the run finishes: a resumed run does not read it again."""

    run = models.ForeignKey(AuditRun, on_delete=models.CASCADE, related_name="pages")
    kind = models.CharField(max_length=10)  # item or customer
    page = models.PositiveIntegerField()
    rows = models.JSONField(default=list)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "kind", "page"], name="one_audit_page")]

    def __str__(self) -> str:
        return f"Audit #{self.run_id} {self.kind} page {self.page}"


class ContactTaxNumber(models.Model):
    """A contact's VAT/GST registration number as last read from Books (the contact list does not carry it), so
    the next audit only reads the contacts changed since."""

    organization_id = models.CharField(max_length=40)
    contact_id = models.CharField(max_length=40)
    last_modified_time = models.CharField(max_length=40, blank=True)
    number = models.CharField(max_length=60, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization_id", "contact_id"], name="one_tax_number")]

    def __str__(self) -> str:
        return f"Contact {self.contact_id}: {self.number or 'no number'}"


class DuplicateFlag(models.Model):
    """A group of Books items (or customers) that look like one, with why, a score, and what points at each."""

    class Kind(models.TextChoices):
        ITEM = "item", "Items"
        CUSTOMER = "customer", "Customers"

    class State(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVING = "resolving", "Being resolved"
        UNDOING = "undoing", "Being undone"
        STUCK = "stuck", "Needs attention"
        RESOLVED = "resolved", "Resolved"
        DISMISSED = "dismissed", "Not duplicates"
        GONE = "gone", "No longer found"

    legal_entity = models.ForeignKey(LegalEntity, on_delete=models.CASCADE, related_name="duplicate_flags")
    organization_id = models.CharField(max_length=40)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    key = models.CharField(max_length=64, help_text="The members' Books ids, hashed: the same group keeps its flag.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    reason = models.TextField(help_text="Why the group was formed, in plain words.")
    score = models.PositiveSmallIntegerField(help_text="0–100; 100 = identical after normalization.")
    members = models.JSONField(default=list, help_text="[{books_id, name, sku, status, email, tax_number, usage}]")
    survivor_id = models.CharField(max_length=40, blank=True)
    resolution = models.JSONField(default=dict, blank=True, help_text="What resolving changed, for undo.")
    operation = models.JSONField(
        default=dict,
        blank=True,
        help_text="The decision in progress: its intent, what it changed, what could not be put back.",
    )
    run = models.ForeignKey(AuditRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="flags")
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-score", "id"]
        permissions = [("resolve_duplicateflag", "Can resolve, dismiss and undo duplicate findings")]
        constraints = [
            models.UniqueConstraint(fields=["organization_id", "kind", "key"], name="one_flag_per_group"),
        ]
        indexes = [models.Index(fields=["state", "organization_id", "kind"], name="flag_open_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} group #{self.pk} ({self.state})"

    def member_ids(self) -> list[str]:
        return [m["books_id"] for m in self.members]

    @classmethod
    def merges(cls, organization_id: str, kind: str) -> dict[str, str]:
        """Every Books id finance merged away in the organization → the record it kept (resolved groups)."""
        found: dict[str, str] = {}
        for survivor, members in cls.objects.filter(
            organization_id=organization_id, kind=kind, state=cls.State.RESOLVED
        ).values_list("survivor_id", "members"):
            found.update({m["books_id"]: survivor for m in members if m["books_id"] != survivor})
        return found


class FlagEvent(models.Model):
    """Who did what to a flag, and when: resolved (with the survivor), dismissed, undone."""

    flag = models.ForeignKey(DuplicateFlag, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(auto_now_add=True)
    actor = models.CharField(max_length=150)
    action = models.CharField(max_length=20)
    message = models.TextField()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.actor} {self.action} group #{self.flag_id}"


class SettledPair(models.Model):
    """Two Books records a person said are not duplicates (dismissed), or merged (resolved): never flagged
    together again. Undoing the resolution forgets the pair."""

    organization_id = models.CharField(max_length=40)
    kind = models.CharField(max_length=10)
    first_id = models.CharField(max_length=40)
    second_id = models.CharField(max_length=40)
    flag = models.ForeignKey(DuplicateFlag, on_delete=models.CASCADE, related_name="settled_pairs")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization_id", "kind", "first_id", "second_id"], name="one_settled_pair"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind}s {self.first_id} and {self.second_id}"
