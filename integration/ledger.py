"""The Books budget's ledger: every call the product sends to Books is counted per organization, per (UTC) day and
per kind of work — pushes, webhook syncs, reconciliation, audits, checks — in the database, so every process adds
to the same count. Each legal entity says its plan's daily cap (`books_daily_cap`, default 1,000: Books' lowest
plan); the dashboard, the Setup screen and /healthz show today's calls, what is left and what used them.

The kind of work is set where the work begins (`working_on`), and read where the call is sent."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from integration.models import BooksCallDay

Work = BooksCallDay.Work
_work: contextvars.ContextVar[str] = contextvars.ContextVar("books_work", default=Work.OTHER)


@contextlib.contextmanager
def working_on(work: str) -> Iterator[None]:
    """Count the Books calls made inside this block as `work`."""
    token = _work.set(work)
    try:
        yield
    finally:
        _work.reset(token)


# Who gets the next free slot of the per-minute window first (lower first): work a person or Books is waiting on,
# then reconciliation, then audits.
PRIORITY = {Work.PUSH: 0, Work.WEBHOOK: 0, Work.OTHER: 0, Work.RECONCILE: 1, Work.AUDIT: 2}


def priority() -> int:
    """The rate limiter's priority of the work in hand."""
    return PRIORITY[Work(_work.get())]


def count(organization_id: str) -> None:
    """One more Books call for the organization, today, for the work in hand (one statement, no lock held)."""
    where = {"organization_id": organization_id, "day": timezone.now().date(), "work": _work.get()}
    if BooksCallDay.objects.filter(**where).update(calls=F("calls") + 1):
        return
    try:
        with transaction.atomic():
            BooksCallDay.objects.create(**where, calls=1)
    except IntegrityError:  # another process made today's line first
        BooksCallDay.objects.filter(**where).update(calls=F("calls") + 1)


def calls_today(organization_id: str, work: str) -> int:
    """Today's Books calls for one organization and one kind of work (one query)."""
    where = {"organization_id": organization_id, "day": timezone.now().date(), "work": work}
    return BooksCallDay.objects.filter(**where).values_list("calls", flat=True).first() or 0


def today() -> dict[str, dict]:
    """Per organization: today's calls, and by what kind of work (one query)."""
    lines: dict[str, dict] = {}
    rows = (
        BooksCallDay.objects.filter(day=timezone.now().date())
        .values("organization_id", "work")
        .annotate(n=Sum("calls"))
        .order_by("organization_id", "work")
    )
    for row in rows:
        line = lines.setdefault(row["organization_id"], {"calls": 0, "by": {}})
        line["calls"] += row["n"]
        line["by"][Work(row["work"]).label] = row["n"]
    return lines
