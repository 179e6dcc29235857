"""The dashboard's running totals: how many pushes are in each state, how many need a decision, how many
invoices are overdue, what is owed per currency and how many webhook deliveries failed — read in one query of a
few rows however long the history grows.

In PostgreSQL, triggers on the three tables write a signed delta row to `Tally` whenever a row that counts is
written, changed or deleted, in the same transaction (so a total is never ahead of or behind the rows it counts,
and no writer waits for another: deltas are inserted, never updated in place). The sweeper folds the deltas into
one row per key (`compact`). The triggers and their functions are in
migration 0027 (integration/migrations/0027_dashboard_tally.py).

SQLite (the zero-setup default, for a demo or a small team) has no such triggers here: there the totals are
counted from the tables each time (`counted`), which is also what the tests compare the tally against.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Q, Sum

from integration.models import InvoicePush, InvoiceSync, Tally, WebhookDelivery

OWING = ("Unpaid", "Partially Paid", "Overdue")

# The tally, and two counts over an index range (the pushes pushed today, the invoices paid this week), in one query.
_READ = """
SELECT key, sum(n), sum(amount) FROM integration_tally GROUP BY key
UNION ALL SELECT 'pushed_today', count(*), 0 FROM integration_invoicepush WHERE state = 'pushed' AND updated_at >= %s
UNION ALL SELECT 'paid_this_week', count(*), 0 FROM integration_invoicesync WHERE payment_status = 'Paid'
  AND synced_at >= %s
UNION ALL SELECT 'blocked_rows', count(DISTINCT deal_id), 0 FROM integration_invoicepush WHERE state = 'blocked'
  AND (SELECT coalesce(sum(n), 0) FROM integration_tally WHERE key = 'push:blocked') <= %s
"""

# The Blocked chip counts the rows its list shows (one per deal, however often it was pressed): counted exactly while
# there are at most this many blocked presses (an index-only count, a millisecond or two); past it — a backlog nobody
# works through — the chip shows the presses, so the dashboard's cost stays flat.
BLOCKED_ROWS_COUNTED_UP_TO = 10_000

_COMPACT = """
WITH gone AS (DELETE FROM integration_tally RETURNING key, n, amount)
INSERT INTO integration_tally (key, n, amount)
SELECT key, sum(n), sum(amount) FROM gone GROUP BY key HAVING sum(n) <> 0 OR sum(amount) <> 0
"""


def kept() -> bool:
    """Whether the database keeps the tally (PostgreSQL, with the triggers of migration 0027)."""
    return connection.vendor == "postgresql"


def totals(*, today: datetime, week: datetime) -> dict:
    """The totals, and the pushes pushed since `today` and invoices paid since `week` (an index range each):
    from the tally where the database keeps it (one query), else counted from the tables."""
    return read(today=today, week=week) if kept() else counted(today=today, week=week)


def read(*, today: datetime, week: datetime) -> dict:
    with connection.cursor() as cursor:
        cursor.execute(_READ, [today, week, BLOCKED_ROWS_COUNTED_UP_TO])
        return _shape({key: (n, amount) for key, n, amount in cursor.fetchall()})


def counted(*, today: datetime, week: datetime) -> dict:
    """The same totals counted from the tables (what the tally must always equal)."""
    lines: dict[str, tuple[int, Decimal]] = {}
    decision = Q(state=InvoicePush.State.FAILED, plan__has_key="decisions") & ~Q(plan__decisions=[])
    for row in InvoicePush.objects.values("state").annotate(n=Count("id")).order_by():
        lines[f"push:{row['state']}"] = (row["n"], Decimal(0))
    lines["push:needs_decision"] = (InvoicePush.objects.filter(decision).count(), Decimal(0))
    owing = Q(payment_status__in=OWING, balance__gt=0)
    overdue = Q(payment_status="Overdue", balance__gt=0)
    per_currency = InvoiceSync.objects.filter(owing).values("currency").order_by()
    sums = {"owed": Sum("balance"), "overdue_n": Count("id", filter=overdue), "overdue": Sum("balance", filter=overdue)}
    for row in per_currency.annotate(n=Count("id"), **sums):
        lines[f"owed:{row['currency']}"] = (row["n"], row["owed"])
        if row["overdue_n"]:
            lines[f"overdue:{row['currency']}"] = (row["overdue_n"], row["overdue"])
    lines["syncs:overdue"] = (InvoiceSync.objects.filter(payment_status="Overdue").count(), Decimal(0))
    lines["deliveries:failed"] = (
        WebhookDelivery.objects.filter(state=WebhookDelivery.State.FAILED).count(),
        Decimal(0),
    )
    pushed = InvoicePush.objects.filter(state=InvoicePush.State.PUSHED, updated_at__gte=today).count()
    lines["pushed_today"] = (pushed, Decimal(0))
    paid = InvoiceSync.objects.filter(payment_status="Paid", synced_at__gte=week).count()
    lines["paid_this_week"] = (paid, Decimal(0))
    blocked = InvoicePush.objects.filter(state=InvoicePush.State.BLOCKED)
    if blocked.count() <= BLOCKED_ROWS_COUNTED_UP_TO:
        lines["blocked_rows"] = (blocked.values("deal_id").distinct().count(), Decimal(0))
    return _shape(lines)


def _shape(lines: dict[str, tuple[int, Decimal]]) -> dict:
    states: dict[str, int] = dict.fromkeys(InvoicePush.State.values, 0)
    owed: dict[str, dict] = defaultdict(lambda: {"unpaid": Decimal(0), "overdue": Decimal(0)})
    shaped = {"needs_decision": 0, "overdue": 0, "deliveries_failed": 0, "pushed_today": 0, "paid_this_week": 0}
    shaped["blocked_rows"] = 0  # the blocked list's rows: one per deal, however often it was pressed
    for key, (n, amount) in lines.items():
        kind, _, name = key.partition(":")
        if kind == "push" and name == "needs_decision":
            shaped["needs_decision"] = n
        elif kind == "push":
            states[name] = n
        elif kind == "owed" and n:
            owed[name]["unpaid"] = amount
        elif kind == "overdue" and n:
            owed[name]["overdue"] = amount
        elif key == "syncs:overdue":
            shaped["overdue"] = n
        elif key == "deliveries:failed":
            shaped["deliveries_failed"] = n
        elif key in ("pushed_today", "paid_this_week", "blocked_rows"):
            shaped[key] = n
    shaped["counts"] = states
    if states["blocked"] > BLOCKED_ROWS_COUNTED_UP_TO:
        shaped["blocked_rows"] = states["blocked"]
    shaped["owed"] = [
        {"currency": code or "?", **amounts} for code, amounts in sorted(owed.items()) if amounts["unpaid"]
    ]
    return shaped


def deliveries_failed() -> int:
    """How many webhook deliveries have failed: the tally's one key where it is kept (no scan of the deliveries,
    which have no index by state), else counted."""
    if kept():
        return Tally.objects.filter(key="deliveries:failed").aggregate(n=Sum("n"))["n"] or 0
    return WebhookDelivery.objects.filter(state=WebhookDelivery.State.FAILED).count()


def compact() -> None:
    """Fold the deltas into one row per key (the sweeper does it; safe beside writers and another compaction)."""
    if kept():
        with connection.cursor() as cursor:
            cursor.execute(_COMPACT)
