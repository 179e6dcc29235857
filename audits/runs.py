"""Running a duplicate audit of one Books organization: read every item and customer page by page through the
shared rate limiter, then match and record the groups as flags for the review screen.

A run keeps each page it read (`AuditPage`), so a run whose worker stopped carries on from the next page. A
worker works on a run for at most AUDIT_SLICE_SECONDS, then queues the rest (a 100,000-item catalogue is 500
pages, ~9 minutes at Books' limit — longer than a task may run). At most one run per organization is queued or
running (a database constraint), and a lease keeps two workers off one run.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import logging
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from audits.matching import duplicate_customer_groups, duplicate_item_groups, unusual_characters
from audits.models import AuditPage, AuditRun, ContactTaxNumber, DuplicateFlag, SettledPair
from audits.selectors import auditable_entities
from integration import ledger
from integration.ledger import Work, working_on
from integration.models import CustomerLink, InvoicePush, ItemLink, LegalEntity
from integration.redaction import redact_text
from integration.services.dispatch import after_commit
from integration.services.entities import legal_entity_edition
from integration.services.retry import retry_delay
from integration.zoho.books import BooksClient
from integration.zoho.errors import HoldBack, ZohoError, ZohoQuotaExceeded, ZohoRateLimited, ZohoRetryable

log = logging.getLogger(__name__)
Phase, State = AuditRun.Phase, AuditRun.State

# The field holding a contact's tax registration number, per edition (only GET /contacts/{id} carries it).
TAX_NUMBER_FIELD = {"uk": "vat_reg_no", "india": "gst_no", "gcc": "tax_reg_no"}
ITEM_FIELDS = ("item_id", "name", "sku", "status")
CONTACT_FIELDS = ("contact_id", "contact_name", "company_name", "email", "status", "last_modified_time")
RATE_LIMITED_WAITS = 10  # Books' own 429s waited out per read before the run gives up
INVOICED = (InvoicePush.State.PUSHED, InvoicePush.State.VOIDED)
MAX_READ_WAIT_SECONDS = 60.0
PENDING = (InvoicePush.State.PENDING_REVIEW, InvoicePush.State.QUEUED, InvoicePush.State.FAILED)


@dataclass(frozen=True)
class Side:
    """Where a kind of Books record shows on our side: our link table (its CRM and Books id fields), the CRM module
    and field noting the Books id, and the push step that finds it."""

    link: type[models.Model]
    crm_field: str
    books_field: str
    crm_module: str
    crm_books_field: str
    step: str


SIDES = {
    DuplicateFlag.Kind.ITEM: Side(
        ItemLink, "crm_product_id", "books_item_id", "Products", "Books_Item_Id", InvoicePush.Step.ITEMS
    ),
    DuplicateFlag.Kind.CUSTOMER: Side(
        CustomerLink, "crm_account_id", "books_contact_id", "Accounts", "Books_Customer_Id", InvoicePush.Step.CUSTOMER
    ),
}


def plan_uses(plan: dict | None, kind: str) -> set[str]:
    """The Books items (or the customer) a push's plan uses."""
    plan = plan or {}
    if kind == DuplicateFlag.Kind.ITEM:
        return set(plan.get("item_ids", {}).values())
    return {plan.get("customer_id") or ""} - {""}


# --- starting -------------------------------------------------------------------------------------
def audit_start(
    *, entity: LegalEntity, trigger: str = "screen", user=None, queue: bool = True
) -> tuple[AuditRun, bool]:
    """Queue an audit of the entity's organization; or, when one is queued or running already, return that one
    (created=False) — re-queued if its worker stopped, so it carries on."""
    org = entity.books_org_id
    with transaction.atomic():
        run = AuditRun.objects.filter(organization_id=org, state__in=AuditRun.ACTIVE_STATES).first()
        if run is None:
            last = AuditRun.objects.filter(organization_id=org, state=State.DONE).order_by("-finished_at").first()
            try:
                with transaction.atomic():
                    run = AuditRun.objects.create(
                        legal_entity=entity,
                        organization_id=org,
                        trigger=trigger,
                        requested_by=user if getattr(user, "pk", None) else None,
                        expected_items=last.items_read if last else 0,
                        expected_contacts=last.contacts_read if last else 0,
                    )
                created = True
            except IntegrityError:  # someone else started it an instant ago
                run, created = AuditRun.objects.get(organization_id=org, state__in=AuditRun.ACTIVE_STATES), False
        else:
            created = False
        if queue and (created or audit_stalled(run)):
            after_commit(audit_step_task, run.pk)
    return run, created


def audit_stalled(run: AuditRun) -> bool:
    """A run that nobody has worked on for AUDIT_STALE_SECONDS (its worker stopped or its message was lost)."""
    since = run.heartbeat_at or run.created_at
    return run.state in AuditRun.ACTIVE_STATES and since < timezone.now() - timedelta(
        seconds=settings.AUDIT_STALE_SECONDS
    )


def audit_claim(run_id: int, *, take_over: bool = False) -> AuditRun | None:
    """Take the run's lease, or None when it is finished or another worker holds it (fresh heartbeat)."""
    with transaction.atomic():
        run = AuditRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.state not in AuditRun.ACTIVE_STATES:
            return None
        if run.lease and not take_over and not audit_stalled(run):
            return None
        run.lease, run.state, run.heartbeat_at = uuid.uuid4(), State.RUNNING, timezone.now()
        run.save(update_fields=["lease", "state", "heartbeat_at"])
        return run


# --- working --------------------------------------------------------------------------------------
def audit_work(
    run: AuditRun, *, seconds: float | None = None, progress: Callable[[AuditRun], None] | None = None
) -> bool:
    """Work on a claimed run until it is done (True) or `seconds` have passed (False; the lease is released so
    the next slice can claim it). A failure ends the run with the reason in plain words, and raises. Its Books
    calls count as the audit's in the day's ledger."""
    with working_on(Work.AUDIT):
        return _audit_work(run, seconds=seconds, progress=progress)


def _audit_work(run: AuditRun, *, seconds: float | None, progress: Callable[[AuditRun], None] | None) -> bool:
    if run.error:  # a pause for the day's budget: over once it goes on
        AuditRun.objects.filter(pk=run.pk).update(error="")
        run.error = ""
    worker = _Worker(run)
    deadline = None if seconds is None else time.monotonic() + seconds
    try:
        while run.phase != Phase.DONE:
            if deadline is not None and time.monotonic() > deadline:
                _save(run, release=True)
                return False
            worker.step()
            _save(run, release=run.phase == Phase.DONE)
            if progress:
                progress(run)
    except LeaseLost:
        return False
    except AuditPaused as paused:
        run.state = State.QUEUED  # until tomorrow: the hourly look wakes it; it pauses again, or goes on
        _save(run, release=True)
        AuditRun.objects.filter(pk=run.pk).update(error=str(paused))
        return False
    except (ZohoError, OSError) as exc:
        _fail(run, f"Could not read Books for {run.legal_entity_id}: {exc}")
        raise
    return True


class LeaseLost(Exception):
    """Another worker took the run over (this one was too slow to beat): stop quietly."""


class AuditPaused(Exception):
    """Audits used their share of the organization's Books calls today: the run waits for tomorrow."""


def audit_budget_problem(run: AuditRun) -> str:
    """Why the run may not make another Books call today ('' when it may): audits never use more than
    AUDIT_DAILY_SHARE of the organization's daily cap, so pushes and syncs keep the rest."""
    cap = run.legal_entity.books_daily_cap
    allowed = int(cap * settings.AUDIT_DAILY_SHARE)
    used = ledger.calls_today(run.organization_id, Work.AUDIT)
    if used < allowed:
        return ""
    return (
        f"Paused: audits may use {settings.AUDIT_DAILY_SHARE:.0%} of {run.legal_entity.code}'s {cap:,} Books calls a "
        f"day ({allowed:,}) and have used {used:,} today, so pushes and syncs keep the rest. It carries on tomorrow "
        "(UTC) by itself."
    )


def _save(run: AuditRun, *, release: bool = False) -> None:
    """Record the run's progress (its heartbeat), unless another worker has taken the run over meanwhile."""
    with transaction.atomic():
        current = AuditRun.objects.select_for_update().values_list("lease", flat=True).get(pk=run.pk)
        if current != run.lease:
            raise LeaseLost
        run.heartbeat_at = timezone.now()
        if release:
            run.lease = None
        run.save(
            update_fields=[
                *("phase", "next_page", "items_read", "contacts_read", "details_read", "details_total"),
                *("books_calls", "state", "item_groups", "customer_groups", "finished_at", "heartbeat_at", "lease"),
            ]
        )


def _fail(run: AuditRun, error: str) -> None:
    error = redact_text(error)  # Zoho echoes input in its messages
    AuditRun.objects.filter(pk=run.pk).update(
        state=State.FAILED, error=error, lease=None, finished_at=timezone.now(), heartbeat_at=timezone.now()
    )
    AuditPage.objects.filter(run=run).delete()
    run.state, run.error = State.FAILED, error


class _Worker:
    """One step at a time: a page of items, a page of contacts, one contact's details, or the matching."""

    def __init__(self, run: AuditRun):
        self.run = run
        self.books = BooksClient()
        self.org = run.organization_id
        self._details: list[dict] | None = None

    def step(self) -> None:
        run = self.run
        if run.phase == Phase.ITEMS:
            rows, more = self._call(self.books.items_page, self.org, run.next_page)
            self._keep("item", rows, ITEM_FIELDS)
            run.items_read += len(rows)
            self._next(more, Phase.CONTACTS)
        elif run.phase == Phase.CONTACTS:
            rows, more = self._call(self.books.contacts_page, self.org, run.next_page)
            rows = [r for r in rows if r.get("contact_type", "customer") == "customer"]
            self._keep("customer", rows, CONTACT_FIELDS)
            run.contacts_read += len(rows)
            self._next(more, Phase.DETAILS if self._tax_field else Phase.MATCHING)
            if run.phase == Phase.DETAILS:
                run.details_read, run.details_total = 0, len(self._needing_details())
        elif run.phase == Phase.DETAILS:
            todo = self._needing_details()
            if not todo:
                run.phase = Phase.MATCHING
                return
            contact = todo.pop()
            full = self._call(self.books.contact_get, self.org, contact["contact_id"])
            ContactTaxNumber.objects.update_or_create(
                organization_id=self.org,
                contact_id=contact["contact_id"],
                defaults={
                    "last_modified_time": str(contact.get("last_modified_time") or ""),
                    "number": str(full.get(self._tax_field) or "")[:60],
                },
            )
            run.details_read += 1
        elif run.phase == Phase.MATCHING:
            audit_match(run)
            AuditPage.objects.filter(run=run).delete()
            run.phase, run.state, run.finished_at = Phase.DONE, State.DONE, timezone.now()

    def _call(self, fn, *args):
        """One Books read, patiently: waits for our limiter (pushes share it) without counting it as a failure,
        waits out Books' own 429s (a few times), and retries 5xx and lost answers AUDIT_READ_RETRIES times."""
        failures = limited = 0
        if problem := audit_budget_problem(self.run):
            raise AuditPaused(problem)
        while True:
            try:
                self.run.books_calls += 1
                return fn(*args)
            except ZohoQuotaExceeded:
                raise
            except HoldBack as exc:
                self.run.books_calls -= 1  # never sent
                time.sleep(min(exc.retry_after or 1.0, 30.0))
            except ZohoRateLimited as exc:
                limited += 1
                if limited > RATE_LIMITED_WAITS:
                    raise
                time.sleep(min(retry_delay(limited, exc.retry_after), MAX_READ_WAIT_SECONDS))
            except ZohoRetryable as exc:
                failures += 1
                if failures > settings.AUDIT_READ_RETRIES:
                    raise
                time.sleep(min(retry_delay(failures, getattr(exc, "retry_after", None)), MAX_READ_WAIT_SECONDS))

    def _keep(self, kind: str, rows: list[dict], fields: tuple[str, ...]) -> None:
        AuditPage.objects.update_or_create(
            run=self.run,
            kind=kind,
            page=self.run.next_page,
            defaults={"rows": [{k: r.get(k) or "" for k in fields} for r in rows]},
        )

    def _next(self, more: bool, then: str) -> None:
        if more:
            self.run.next_page += 1
        else:
            self.run.phase, self.run.next_page = then, 1

    @functools.cached_property
    def _tax_field(self) -> str:
        """The edition's registration-number field ('' when it has none); may read the organization once."""
        return TAX_NUMBER_FIELD.get(legal_entity_edition(entity=self.run.legal_entity, books=self.books), "")

    def _needing_details(self) -> list[dict]:
        """Contacts whose registration number we have not read since they last changed (a resumed run skips the
        ones it read before it stopped), last first: the step pops them."""
        if self._details is None:
            known = dict(
                ContactTaxNumber.objects.filter(organization_id=self.org).values_list(
                    "contact_id", "last_modified_time"
                )
            )
            contacts = _rows(self.run, "customer")
            self._details = sorted(
                (c for c in contacts if known.get(c["contact_id"]) != str(c.get("last_modified_time") or "")),
                key=lambda c: c["contact_id"],
                reverse=True,
            )
        return self._details


def _rows(run: AuditRun, kind: str) -> list[dict]:
    rows: list[dict] = []
    for page in AuditPage.objects.filter(run=run, kind=kind).order_by("page").values_list("rows", flat=True):
        rows.extend(page)
    return rows


# --- matching and recording -------------------------------------------------------------------------
def audit_match(run: AuditRun) -> None:
    """Group the catalogue read by the run and record each group not already settled by a person."""
    items = _rows(run, "item")
    contacts = _rows(run, "customer")
    numbers = dict(
        ContactTaxNumber.objects.filter(organization_id=run.organization_id).values_list("contact_id", "number")
    )
    for c in contacts:
        c["tax_number"] = numbers.get(c["contact_id"], "")
    item_records = [{**i, "books_id": i["item_id"]} for i in items]
    customer_records = [{**c, "books_id": c["contact_id"], "name": c["contact_name"], "sku": ""} for c in contacts]
    run.item_groups = _record(run, DuplicateFlag.Kind.ITEM, item_records, duplicate_item_groups(items))
    run.customer_groups = _record(
        run, DuplicateFlag.Kind.CUSTOMER, customer_records, duplicate_customer_groups(contacts)
    )


def _record(run: AuditRun, kind: str, records: list[dict], groups: list[dict]) -> int:
    org = run.organization_id
    settled = {
        frozenset(p)
        for p in SettledPair.objects.filter(organization_id=org, kind=kind).values_list("first_id", "second_id")
    }
    usage = member_usage(org, kind)
    seen: set[str] = set()
    for group in groups:
        members = [records[i] for i in group["members"]]
        ids = [m["books_id"] for m in members]
        if all(frozenset(p) in settled for p in itertools.combinations(ids, 2)):
            continue  # a person already said what these are
        key = group_key(ids)
        seen.add(key)
        reason = "; ".join(dict.fromkeys(why for why, _ in group["reasons"].values()))
        data = {
            "legal_entity": run.legal_entity,
            "reason": reason,
            "score": group["score"],
            "members": [member_snapshot(m, usage) for m in members],
            "run": run,
        }
        flag, created = DuplicateFlag.objects.get_or_create(organization_id=org, kind=kind, key=key, defaults=data)
        if not created and flag.state in (DuplicateFlag.State.OPEN, DuplicateFlag.State.GONE):
            for name, value in data.items():
                setattr(flag, name, value)
            flag.state = DuplicateFlag.State.OPEN
            flag.save()
    # Open findings this run no longer sees were fixed in Books meanwhile.
    DuplicateFlag.objects.filter(organization_id=org, kind=kind, state=DuplicateFlag.State.OPEN).exclude(
        key__in=seen
    ).update(state=DuplicateFlag.State.GONE)
    return len(seen)


def group_key(ids: list[str]) -> str:
    return hashlib.sha256(",".join(sorted(ids)).encode()).hexdigest()[:40]


def member_snapshot(record: dict, usage: dict) -> dict:
    used = usage.get(record["books_id"], {})
    return {
        "books_id": record["books_id"],
        "name": record.get("name", ""),
        "sku": record.get("sku", ""),
        "unusual": unusual_characters(record.get("sku", "") or ""),
        "company": record.get("company_name", ""),
        "email": record.get("email", ""),
        "tax_number": record.get("tax_number", ""),
        "status": record.get("status", ""),
        "links": used.get("links", []),
        "invoices": used.get("invoices", 0),
        "pending": used.get("pending", 0),
    }


def member_usage(organization_id: str, kind: str) -> dict[str, dict]:
    """Per Books id: the CRM records our links point at it (Products or Accounts), and how many of our invoices
    and pending pushes use it."""
    usage: dict[str, dict] = defaultdict(lambda: {"links": [], "invoices": 0, "pending": 0})
    side = SIDES[kind]
    links = side.link.objects.filter(organization_id=organization_id).values_list(side.books_field, side.crm_field)
    for books_id, crm_id in links:
        usage[books_id]["links"].append(crm_id)
    counts: Counter = Counter()
    pushes = InvoicePush.objects.filter(organization_id=organization_id, state__in=(*INVOICED, *PENDING))
    for state, plan in pushes.values_list("state", "plan").iterator(chunk_size=2000):
        for books_id in plan_uses(plan, kind):
            counts[(books_id, "invoices" if state in INVOICED else "pending")] += 1
    for (books_id, bucket), n in counts.items():
        usage[books_id][bucket] = n
    return usage


# --- the worker's task and the schedule ------------------------------------------------------------
@shared_task(name="integration.tasks.audit_step_task")
def audit_step_task(run_id: int) -> None:
    """Work on the run for one slice; queue the next slice if it is not finished."""
    run = audit_claim(run_id)
    if run is None:
        return
    try:
        finished = audit_work(run, seconds=settings.AUDIT_SLICE_SECONDS)
    except (ZohoError, OSError) as exc:
        log.warning("Audit #%s failed: %s", run_id, exc)
        return
    if not finished:
        audit_step_task.delay(run_id)


def audits_due(now=None) -> list[AuditRun]:
    """Start the audits that are due (none finished within AUDIT_EVERY_DAYS) and wake stalled ones."""
    now = now or timezone.now()
    started = []
    for entity in auditable_entities():
        active = AuditRun.objects.filter(organization_id=entity.books_org_id, state__in=AuditRun.ACTIVE_STATES).first()
        if active is not None:
            if audit_stalled(active):
                audit_start(entity=entity, trigger="schedule")
            continue
        if not settings.AUDIT_EVERY_DAYS:
            continue
        recent = AuditRun.objects.filter(
            organization_id=entity.books_org_id,
            state=State.DONE,
            finished_at__gte=now - timedelta(days=settings.AUDIT_EVERY_DAYS),
        ).exists()
        if not recent:
            started.append(audit_start(entity=entity, trigger="schedule")[0])
    return started


@shared_task(name="integration.tasks.audit_due_task")
def audit_due_task() -> None:
    audits_due()
