"""Invoice Bridge's tables: configuration (legal entities, tax map), Books links, pushes and their timelines."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from integration.editions import LABELS

# The values of the deal's Payment_Status (CONTRACT.md §4): what the webhooks write, and what screens filter by.
PAYMENT_STATUSES = ("Unpaid", "Partially Paid", "Paid", "Overdue", "Void", "Written Off")


class LegalEntity(models.Model):
    """A company we invoice from; each has its own Books organization (CONTRACT.md §5)."""

    class Delivery(models.TextChoices):
        DRAFT = "draft", "Left as a draft in Books (someone sends it from Books)"
        SENT = "sent", "Marked as sent in Books (no email)"
        EMAIL = "email", "Emailed to the customer by Books as it is created"

    code = models.CharField(max_length=40, unique=True, help_text="The Account's Legal_Entity picklist value.")
    name = models.CharField(max_length=200)
    books_org_id = models.CharField("Books organization id", max_length=40)
    require_review = models.BooleanField(default=False, help_text="Pushes wait for a reviewer.")
    active = models.BooleanField(default=True)
    books_daily_cap = models.PositiveIntegerField(default=1000, help_text="Books API calls a day in its plan.")
    invoice_delivery = models.CharField(
        "what happens to a created invoice",
        max_length=10,
        choices=Delivery.choices,
        default=Delivery.DRAFT,
        help_text="Emailing needs the customer's contact person to have an email address in Books.",
    )
    # Learnt from Books (GET /organizations/{id}) on first use and on "test connection".
    books_edition = models.CharField(max_length=20, blank=True, help_text="us, canada, uk, india, gcc or other.")
    books_org_name = models.CharField(max_length=200, blank=True)
    books_currency = models.CharField(max_length=3, blank=True)
    books_country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2, from Books.")
    books_home_state = models.CharField(
        max_length=100, blank=True, help_text="The organization's state, as Books shows it."
    )
    books_time_zone = models.CharField(
        max_length=64, blank=True, help_text="The organization's time_zone as Books writes it (its invoices' day)."
    )
    books_currency_decimals = models.PositiveSmallIntegerField(
        default=2, help_text="The base currency's price_precision in Books."
    )
    books_checked_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "legal entities"
        constraints = [models.CheckConstraint(condition=~Q(code=""), name="legal_entity_code_not_blank")]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"

    @property
    def edition_label(self) -> str:
        """The Books edition and home state, as the screens show them."""
        if not self.books_edition:
            return "not read from Books yet (manage.py test_connection)"
        home = f", home state {self.books_home_state}" if self.books_home_state else ""
        return f"{LABELS.get(self.books_edition, self.books_edition)}{home}"


class TaxRule(models.Model):
    """Which Books tax authority applies to a country or state, for one entity or for all.

    Blank `state` covers the whole country; no `legal_entity` covers every entity. The most
    specific rule wins (see `selectors.tax_rule_for`).
    """

    legal_entity = models.ForeignKey(
        LegalEntity, null=True, blank=True, on_delete=models.CASCADE, related_name="tax_rules"
    )
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2, e.g. US.")
    state = models.CharField(max_length=10, blank=True, help_text="ISO 3166-2 code without the country, e.g. CA.")
    tax_authority = models.CharField(
        max_length=100, blank=True, help_text="Books tax authority (agency) name, e.g. BOE_CA: US and Canada."
    )
    tax_treatment = models.CharField(
        max_length=40, blank=True, help_text="The edition's treatment word, e.g. uk or business_gst: UK, India, others."
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["country", "state", "legal_entity__code"]
        constraints = [
            models.UniqueConstraint(
                fields=["legal_entity", "country", "state"],
                condition=Q(legal_entity__isnull=False),
                name="tax_rule_unique_per_entity",
            ),
            models.UniqueConstraint(
                fields=["country", "state"],
                condition=Q(legal_entity__isnull=True),
                name="tax_rule_unique_for_all_entities",
            ),
            models.CheckConstraint(
                condition=(Q(tax_authority="") & ~Q(tax_treatment="")) | (~Q(tax_authority="") & Q(tax_treatment="")),
                name="tax_rule_authority_or_treatment",
            ),
            models.CheckConstraint(condition=Q(country__regex=r"^[A-Z]{2}$"), name="tax_rule_country_iso2"),
        ]

    def __str__(self) -> str:
        where = f"{self.country}/{self.state}" if self.state else self.country
        scope = self.legal_entity.code if self.legal_entity_id else "all entities"
        return f"{where} ({scope}) → {self.tax_authority or self.tax_treatment}"


class CustomerLink(models.Model):
    """CRM Account → Books contact, per Books organization. Our source of truth for customers."""

    organization_id = models.CharField(max_length=40)
    crm_account_id = models.CharField(max_length=40)
    books_contact_id = models.CharField(max_length=40)
    contact_name = models.CharField(max_length=300)
    currency_code = models.CharField(max_length=3, blank=True, help_text="The Books contact's currency.")
    created_in_books = models.BooleanField(default=False, help_text="False when an existing contact was adopted.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization_id", "crm_account_id"], name="one_customer_per_account"),
        ]

    def __str__(self) -> str:
        return f"{self.contact_name} ({self.organization_id})"


class ItemLink(models.Model):
    """CRM Product → Books item, per Books organization (CONTRACT.md §4: this table wins over the CRM field)."""

    organization_id = models.CharField(max_length=40)
    crm_product_id = models.CharField(max_length=40)
    books_item_id = models.CharField(max_length=40)
    sku = models.CharField(max_length=200, blank=True)
    sku_normalized = models.CharField(max_length=200, blank=True, db_index=True)
    created_in_books = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization_id", "crm_product_id"], name="one_item_per_product"),
        ]

    def __str__(self) -> str:
        return f"{self.sku or self.crm_product_id} → {self.books_item_id} ({self.organization_id})"


class InvoicePush(models.Model):
    """One attempt to turn a CRM deal into one Books invoice, with its state machine.

    blocked ─ (terminal: the deal could not be invoiced as it stood)
    pending_review → queued | rejected
    queued → running → pushed | failed | queued (retry)
    failed → queued (replay)
    At most one push per deal is active (pending_review, queued, running, pushed or failed):
    a database constraint, so concurrent presses cannot both win.
    """

    class State(models.TextChoices):
        BLOCKED = "blocked", "Blocked"
        PENDING_REVIEW = "pending_review", "Pending review"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        PUSHED = "pushed", "Pushed"
        FAILED = "failed", "Failed"
        REJECTED = "rejected", "Rejected"
        VOIDED = "voided", "Invoice voided; replaced"

    class Step(models.TextChoices):
        PLAN = "plan", "Read the deal and plan"
        CUSTOMER = "customer", "Find or create the customer"
        ITEMS = "items", "Find or create the items"
        INVOICE = "invoice", "Create the invoice"
        SEND = "send", "Mark the invoice sent"
        STAMP = "stamp", "Stamp the deal"
        DONE = "done", "Done"

    ACTIVE_STATES = (
        State.PENDING_REVIEW,
        State.QUEUED,
        State.RUNNING,
        State.PUSHED,
        State.FAILED,
    )
    TRANSITIONS = {
        State.PENDING_REVIEW: {State.QUEUED, State.REJECTED},
        State.QUEUED: {State.RUNNING, State.FAILED, State.BLOCKED},
        State.RUNNING: {State.PUSHED, State.FAILED, State.QUEUED, State.BLOCKED, State.PENDING_REVIEW},
        State.FAILED: {State.QUEUED},
        State.BLOCKED: set(),
        State.PUSHED: {State.VOIDED},
        State.VOIDED: set(),
        State.REJECTED: set(),
    }

    deal_id = models.CharField(max_length=40, db_index=True)
    deal_name = models.CharField(max_length=300, blank=True)
    customer_name = models.CharField(max_length=300, blank=True, help_text="The Account's name, for search.")
    requested_by = models.CharField(max_length=254, blank=True, help_text="Email of the AE who clicked.")
    requesters = models.JSONField(
        default=list,
        blank=True,
        help_text="Everyone who asked for it (pressed, replayed, planned again): not its approver.",
    )
    legal_entity = models.ForeignKey(LegalEntity, null=True, blank=True, on_delete=models.PROTECT)
    organization_id = models.CharField(max_length=40, blank=True)
    state = models.CharField(max_length=20, choices=State.choices, default=State.QUEUED)
    step = models.CharField(max_length=20, choices=Step.choices, default=Step.PLAN)
    plan = models.JSONField(default=dict, blank=True, help_text="The invoice we mean to create.")
    reasons = models.JSONField(default=list, blank=True, help_text="Why the push is blocked, in plain words.")
    error = models.TextField(blank=True, help_text="The last failure, in plain words.")
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    running_since = models.DateTimeField(null=True, blank=True)
    lease = models.UUIDField(null=True, blank=True, help_text="Which worker run owns the push while it runs.")
    invoice_id = models.CharField(max_length=40, blank=True)
    invoice_number = models.CharField(max_length=60, blank=True)
    invoice_url = models.URLField(max_length=500, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "invoice pushes"
        permissions = [("review_invoicepush", "Can approve, reject and replay invoice pushes")]
        constraints = [
            models.UniqueConstraint(
                fields=["deal_id"],
                condition=Q(state__in=["pending_review", "queued", "running", "pushed", "failed"]),
                name="one_active_push_per_deal",
            ),
            models.CheckConstraint(condition=~Q(state="pushed") | ~Q(invoice_id=""), name="pushed_push_has_invoice"),
        ]
        indexes = [
            models.Index(fields=["state", "running_since"], name="push_state_running_idx"),
            models.Index(fields=["invoice_number"], name="push_invoice_number_idx"),  # the dashboard's search
            models.Index(fields=["state", "-id"], name="push_state_newest_idx"),  # the dashboard's state filter
            models.Index(fields=["state", "updated_at"], name="push_state_updated_idx"),  # "pushed today"
            models.Index(fields=["customer_name", "-id"], name="push_customer_newest_idx"),  # customer search
            # The Blocked chip counts deals, not presses: an index-only count of the blocked ones.
            models.Index(fields=["deal_id"], condition=Q(state="blocked"), name="push_blocked_deal_idx"),
        ]

    def __str__(self) -> str:
        return f"Push #{self.pk} deal {self.deal_id} ({self.state})"

    def can_move_to(self, state: str) -> bool:
        return state in self.TRANSITIONS[self.State(self.state)]


class PushEvent(models.Model):
    """One line of a push's timeline: a step, a Zoho call or a state change, with its outcome (redacted)."""

    class Outcome(models.TextChoices):
        STARTED = "started", "Started"
        OK = "ok", "OK"
        ERROR = "error", "Error"
        INFO = "info", "Info"

    push = models.ForeignKey(InvoicePush, on_delete=models.CASCADE, related_name="events")
    actor = models.CharField(max_length=150, blank=True, help_text="The person who did it (staff actions only).")
    at = models.DateTimeField(auto_now_add=True)
    step = models.CharField(max_length=20, choices=InvoicePush.Step.choices, blank=True)
    action = models.CharField(max_length=200, help_text="e.g. 'POST /books/v3/invoices' or 'state queued → running'.")
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.INFO)
    message = models.TextField(blank=True)
    detail = models.JSONField(default=dict, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.action}: {self.outcome}"


class ZohoAccessToken(models.Model):
    """The one cached OAuth access token shared by every process (ZOHO_API.md: never per request).

    `key` is a digest of the client id and refresh token, so new credentials start a new row. One process at a
    time refreshes: it claims `refreshing_until` (never a row lock held across the call to Zoho).
    """

    key = models.CharField(max_length=64, unique=True)
    access_token = models.TextField(blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    refresh_count = models.PositiveIntegerField(default=0)
    refreshing_until = models.DateTimeField(null=True, blank=True)
    fatal_error = models.TextField(blank=True, help_text="Set when Zoho refused the refresh token itself.")
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    retry_not_before = models.DateTimeField(
        null=True, blank=True, help_text="Zoho is throttling refreshes: no process asks again before this."
    )
    scope_refusals = models.JSONField(
        default=dict,
        blank=True,
        help_text="Scopes Zoho refused even with a fresh token: {scope: {call, at}}. Cleared by new credentials.",
    )

    def __str__(self) -> str:
        return f"Zoho access token (refreshed {self.refresh_count} times)"


class WebhookDelivery(models.Model):
    """One Books webhook as received (headers redacted). A nudge: the entity is re-read before use."""

    class State(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        PARKED = "parked", "Parked (invoice not known yet)"
        IGNORED = "ignored", "Ignored"
        FAILED = "failed", "Failed"

    organization_id = models.CharField(max_length=40)
    kind = models.CharField(max_length=40, blank=True, help_text="invoice, creditnote, payment, creditnote_refund…")
    entity_id = models.CharField(max_length=40, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=20, choices=State.choices, default=State.RECEIVED)
    parked_invoice_id = models.CharField(max_length=40, blank=True, db_index=True)
    note = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    # When a drain handed the delivery to a worker (webhook_inbox.py); empty until then.
    dispatched_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.kind or 'unknown'} {self.entity_id} ({self.state})"


class InvoiceSync(models.Model):
    """What we last read from Books for one of our invoices, and what we last wrote to its deal."""

    organization_id = models.CharField(max_length=40)
    invoice_id = models.CharField(max_length=40)
    push = models.OneToOneField(InvoicePush, on_delete=models.CASCADE, related_name="sync")
    books_last_modified = models.CharField(max_length=40, blank=True)
    books_fingerprint = models.CharField(max_length=200, blank=True, help_text="What we used of the invoice last time.")
    payment_status = models.CharField(max_length=30, blank=True, help_text="Last value written to the deal.")
    # Amounts in the invoice's currency, to its decimals (up to 3: KWD, BHD, OMR).
    credited_amount = models.DecimalField(max_digits=18, decimal_places=3, null=True, blank=True)
    refunded_amount = models.DecimalField(max_digits=18, decimal_places=3, null=True, blank=True)
    written_off_amount = models.DecimalField(max_digits=18, decimal_places=3, null=True, blank=True)
    total = models.DecimalField(
        max_digits=18, decimal_places=3, null=True, blank=True, help_text="As Books last showed it."
    )
    balance = models.DecimalField(max_digits=18, decimal_places=3, null=True, blank=True, help_text="Left to pay.")
    currency = models.CharField(max_length=3, blank=True)
    creditnote_ids = models.JSONField(default=list, blank=True, help_text="Credit notes raised against the invoice.")
    creditnotes = models.JSONField(default=list, blank=True, help_text="Read-only snapshot for the dashboard.")
    payments = models.JSONField(default=list, blank=True, help_text="Read-only snapshot for the dashboard.")
    crm_writes = models.PositiveIntegerField(default=0)
    version = models.PositiveIntegerField(default=0, help_text="Bumped by every sync that writes its reading.")
    synced_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True, help_text="When the invoice was last read (before the call).")
    writing_until = models.DateTimeField(null=True, blank=True, help_text="A sync is writing its reading to CRM.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization_id", "invoice_id"], name="one_sync_per_invoice"),
        ]
        # The dashboard's "paid this week".
        indexes = [models.Index(fields=["payment_status", "synced_at"], name="sync_status_synced_idx")]

    def __str__(self) -> str:
        return f"Invoice {self.invoice_id}: {self.payment_status or 'not synced'}"


class CliqPost(models.Model):
    """One Cliq message per customer payment on an invoice; the unique constraint makes it exactly one."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped (no Cliq URL)"
        UNCONFIRMED = "unconfirmed", "Unconfirmed (Cliq may have posted it; not resent)"

    organization_id = models.CharField(max_length=40)
    payment_id = models.CharField(max_length=40)
    invoice_id = models.CharField(max_length=40)
    push = models.ForeignKey(InvoicePush, null=True, on_delete=models.SET_NULL, related_name="cliq_posts")
    text = models.TextField()
    card_title = models.CharField(max_length=200, blank=True)
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization_id", "payment_id", "invoice_id"], name="one_cliq_post_per_payment"
            ),
        ]

    def __str__(self) -> str:
        return f"Cliq post for payment {self.payment_id} ({self.state})"


class ReconcileCursor(models.Model):
    """How far reconciliation has got for a Books organization: every invoice Books listed as modified before
    `last_run_at` has been applied. One run at a time holds `lease` until `lease_until`."""

    organization_id = models.CharField(max_length=40, unique=True)
    last_run_at = models.DateTimeField()
    lease = models.UUIDField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_report = models.JSONField(default=dict, blank=True, help_text="The last run: Books calls, synced, why.")

    def __str__(self) -> str:
        return f"{self.organization_id} reconciled at {self.last_run_at:%Y-%m-%d %H:%M}"


class BooksCallWindow(models.Model):
    """The Books rate-limit window of one organization when there is no Redis: the times (epoch seconds) of
    the calls made in the last window, and the callers waiting for a slot (waiter -> [priority, until]), shared by
    every process through the database."""

    organization_id = models.CharField(max_length=40, unique=True)
    calls = models.JSONField(default=list)
    waiting = models.JSONField(default=dict)

    def __str__(self) -> str:
        return f"Books calls for {self.organization_id}: {len(self.calls)} in the window"


class BooksPause(models.Model):
    """Books refused an organization for its daily API cap (code 45): no Books call for it before `until`."""

    organization_id = models.CharField(max_length=40, unique=True)
    until = models.DateTimeField()
    reason = models.TextField()
    since = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Books paused for {self.organization_id} until {self.until:%Y-%m-%d %H:%M} UTC"


class BulkReplay(models.Model):
    """A reviewer's replay (or approval) of a set of pushes, run by a worker one push at a time; the screen shows
    its progress and each push's outcome."""

    action = models.CharField(max_length=10, default="replay", help_text="replay (failed) or approve (in review)")
    push_ids = models.JSONField(default=list)
    outcomes = models.JSONField(default=list, help_text="[{push_id, deal, outcome}] in the order done.")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    progress_at = models.DateTimeField(null=True, blank=True, help_text="When a worker last did one of them.")
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Bulk replay #{self.pk}: {self.done} of {self.total}"

    @property
    def total(self) -> int:
        return len(self.push_ids)

    @property
    def done(self) -> int:
        return len(self.outcomes)


from integration.import_jobs import BooksCallDay, BooksCreate, CsvImport, CustomerName, PushAlert, Tally  # noqa: E402, F401 — this app's, kept apart
