"""Reads for the audit screen, the CSV export and the command: flags, the latest runs, the findings as rows."""

from __future__ import annotations

from typing import IO

from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Q, Subquery

from audits.models import AuditRun, DuplicateFlag
from integration.csvsafe import writerow
from integration.models import LegalEntity

CSV_COLUMNS = ["legal_entity", "kind", "group", "books_id", "name", "sku", "status", "reason", "score"]
PAGE_SIZE = 50


def flag_page(*, entity: str = "", kind: str = "", state: str = DuplicateFlag.State.OPEN, page: str | int = 1):
    """One page of flags for the screen (PAGE_SIZE a page), with the paginator's counts."""
    return Paginator(_flags(entity=entity, kind=kind, state=state), PAGE_SIZE).get_page(page)


def flag_list(*, entity: str = "", kind: str = "", state: str = DuplicateFlag.State.OPEN, limit: int = PAGE_SIZE):
    return list(_flags(entity=entity, kind=kind, state=state)[:limit])


def _flags(*, entity: str, kind: str, state: str):
    flags = DuplicateFlag.objects.select_related("legal_entity", "decided_by").prefetch_related("events")
    if entity:
        flags = flags.filter(legal_entity__code=entity)
    if kind:
        flags = flags.filter(kind=kind)
    if state:
        flags = flags.filter(state=state)
    return flags.order_by("legal_entity__code", "kind", "-score", "id")


def latest_runs() -> list[tuple[LegalEntity, AuditRun | None, int]]:
    """Each active legal entity with its latest audit run (or None) and its number of open groups: three queries
    whatever the number of runs and findings (the progress panel asks every second while an audit runs)."""
    latest = AuditRun.objects.filter(legal_entity=OuterRef("pk")).order_by("-created_at").values("pk")[:1]
    open_groups = Count("duplicate_flags", filter=Q(duplicate_flags__state=DuplicateFlag.State.OPEN))
    entities = list(
        LegalEntity.objects.filter(active=True).annotate(latest_run=Subquery(latest), open_groups=open_groups)
    )
    runs = AuditRun.objects.select_related("requested_by").in_bulk([e.latest_run for e in entities if e.latest_run])
    return [(e, runs.get(e.latest_run), e.open_groups) for e in sorted(entities, key=lambda e: e.code)]


def entity_known(code: str) -> bool:
    return bool(code) and LegalEntity.objects.filter(code=code).exists()


def auditable_entities(code: str = ""):
    """The active legal entities an audit can read (all, or the one with `code`), by code."""
    entities = LegalEntity.objects.filter(active=True).exclude(books_org_id="").order_by("code")
    return entities.filter(code=code) if code else entities


def any_run_active() -> bool:
    return AuditRun.objects.filter(state__in=AuditRun.ACTIVE_STATES).exists()


def findings_rows(*, entity: str = "", kind: str = "") -> list[dict]:
    """The open findings, one row per member of each group (CONTRACT §8)."""
    rows = []
    for flag in flag_list(entity=entity, kind=kind, limit=10**9):
        for member in flag.members:
            rows.append(
                {
                    "legal_entity": flag.legal_entity.code,
                    "kind": flag.kind,
                    "group": flag.pk,
                    "books_id": member["books_id"],
                    "name": member["name"],
                    "sku": member["sku"] if flag.kind == DuplicateFlag.Kind.ITEM else "",
                    "status": member["status"],
                    "reason": flag.reason,
                    "score": flag.score,
                }
            )
    return rows


def findings_csv(out: IO[str], rows: list[dict]) -> None:
    writerow(out, CSV_COLUMNS)
    for row in rows:
        writerow(out, [row[column] for column in CSV_COLUMNS])
