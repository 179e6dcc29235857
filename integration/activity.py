"""The activity trail: every staff action and every automatic decision, newest first, with who, when and what
changed field by field — push decisions, duplicate decisions, audit runs, bulk actions, CSV imports, and every
change to the two tables (a connection test included). A constant number of queries whatever the number of rows,
and rows whose subject has since been deleted still read plainly."""

from __future__ import annotations

from typing import Any

from audits.models import AuditRun, FlagEvent
from integration.models import BulkReplay, CsvImport, LegalEntity, PushEvent, TaxRule

SKIP = {"id", "history_id", "history_date", "history_change_reason", "history_type", "history_user_id", "updated_at"}
REASONS = {"Read from Books": "Tested the connection of"}


def _label(model, row: dict, codes: dict[int, str]) -> str:
    if model is LegalEntity:
        return f"legal entity {row['code']}"
    entity = codes.get(row.get("legal_entity_id"), "all entities") if row.get("legal_entity_id") else "all entities"
    where = f"{row['country']}/{row['state']}" if row.get("state") else row.get("country", "")
    return f"tax rule {where} for {entity}"


def _shown(value: Any) -> str:
    return "—" if value in (None, "") else str(value)


def _table_rows(model, codes: dict[int, str], limit: int) -> list[dict]:
    """History of one table with each change's fields, diffed against the object's previous version (2 queries)."""
    history = model.history.model
    recent = list(history.objects.order_by("-history_id").values()[:limit])
    ids = {r["id"] for r in recent}
    earlier: dict[int, list[dict]] = {}
    for row in history.objects.filter(id__in=ids).order_by("history_id").values():
        earlier.setdefault(row["id"], []).append(row)
    rows = []
    for row in recent:
        versions = earlier[row["id"]]
        index = next(i for i, v in enumerate(versions) if v["history_id"] == row["history_id"])
        before = versions[index - 1] if index else {}
        changes = [
            f"{name}: {_shown(before.get(name))} → {_shown(value)}"
            for name, value in row.items()
            if name not in SKIP and before and before.get(name) != value
        ]
        kind = {"+": "Added", "-": "Deleted", "~": "Changed"}[row["history_type"]]
        verb = REASONS.get(row.get("history_change_reason") or "", kind)
        if row["history_type"] == "~" and not changes:
            continue  # saved without a change: nothing to show
        rows.append(
            {
                "at": row["history_date"],
                "user_id": row["history_user_id"],
                "what": f"{verb} {_label(model, row, codes)}",
                "changes": changes,
                "push": None,
            }
        )
    return rows


def staff_activity(*, limit: int = 200) -> list[dict]:
    """Everything people (and the automatic decisions) did, newest first. About ten queries, however many rows."""
    from django.contrib.auth import get_user_model

    rows = [
        {"at": e.at, "who": e.actor, "what": e.action, "changes": [e.message] if e.message else [], "push": e.push_id}
        for e in PushEvent.objects.exclude(actor="").order_by("-at")[:limit]
    ]
    rows += [
        {"at": e.at, "who": e.actor, "what": f"Duplicate group #{e.flag_id}: {e.message}", "changes": [], "push": None}
        for e in FlagEvent.objects.order_by("-at")[:limit]
    ]
    for run in AuditRun.objects.select_related("legal_entity", "requested_by").order_by("-created_at")[:limit]:
        who = str(run.requested_by) if run.requested_by else {"schedule": "the schedule"}.get(run.trigger, run.trigger)
        outcome = (
            [f"{run.item_groups} item group(s), {run.customer_groups} customer group(s); {run.books_calls} Books calls"]
            if run.state == AuditRun.State.DONE
            else [run.error]
            if run.error
            else []
        )
        rows.append(
            {
                "at": run.created_at,
                "who": who,
                "what": f"Duplicate audit of {run.legal_entity.code}: {run.get_state_display().lower()}",
                "changes": outcome,
                "push": None,
            }
        )
    for bulk in BulkReplay.objects.select_related("requested_by").order_by("-created_at")[:limit]:
        verb = "approval" if bulk.action == "approve" else "replay"
        rows.append(
            {
                "at": bulk.created_at,
                "who": str(bulk.requested_by or "someone"),
                "what": f"Bulk {verb} #{bulk.pk} of {bulk.total} push(es)",
                "changes": [f"{bulk.done} done" + (", finished" if bulk.finished_at else "")],
                "push": None,
            }
        )
    for job in CsvImport.objects.select_related("requested_by").defer("content").order_by("-created_at")[:limit]:
        rows.append(
            {
                "at": job.created_at,
                "who": str(job.requested_by or "someone"),
                "what": f"CSV import #{job.pk} of the {job.table.replace('_', ' ')} ({job.filename})",
                "changes": [job.get_state_display() + (f": {job.summary}" if job.summary else "")],
                "push": None,
            }
        )
    codes = dict(LegalEntity.history.model.objects.values_list("id", "code"))  # deleted entities too
    table_rows = _table_rows(LegalEntity, codes, limit) + _table_rows(TaxRule, codes, limit)
    names = dict(
        get_user_model()
        .objects.filter(pk__in={r["user_id"] for r in table_rows if r["user_id"]})
        .values_list("pk", "username")
    )
    for row in table_rows:
        row["who"] = names.get(row.pop("user_id"), "the system")
    rows += table_rows
    rows += _role_changes(limit)
    return sorted(rows, key=lambda r: r["at"], reverse=True)[:limit]


def _role_changes(limit: int) -> list[dict]:
    """Roles given and taken on the People screen (kept as admin log entries "Role: … → …")."""
    from django.contrib.admin.models import LogEntry
    from django.contrib.auth import get_user_model
    from django.contrib.contenttypes.models import ContentType

    kind = ContentType.objects.get_for_model(get_user_model())
    entries = LogEntry.objects.filter(content_type=kind, change_message__startswith="Role:").select_related("user")
    return [
        {
            "at": e.action_time,
            "who": e.user.username,
            "what": f"{e.object_repr}: {e.change_message}",
            "changes": [],
            "push": None,
        }
        for e in entries.order_by("-action_time")[:limit]
    ]
