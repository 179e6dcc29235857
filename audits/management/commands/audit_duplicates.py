from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from audits.models import AuditRun
from audits.runs import audit_claim, audit_stalled, audit_start, audit_work
from audits.selectors import auditable_entities, findings_csv, findings_rows
from integration.models import LegalEntity
from integration.redaction import redact_text
from integration.zoho.errors import ZohoError


class Command(BaseCommand):
    help = (
        "Find duplicate Books items and customers in one legal entity's organization (--org CODE) or in every "
        "active one, and record them for the review screen. Findings are not an error: exits 0 when the audit ran."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--org", metavar="CODE", help="A legal entity code (default: every active entity).")
        parser.add_argument("--csv", metavar="FILE", help="Also write the open findings to FILE.")

    def handle(self, *args, org: str | None, csv: str | None, **options) -> None:
        if org:
            entities = list(LegalEntity.objects.filter(code=org))
            if not entities:
                raise CommandError(f"Unknown legal entity code {org!r}.")
        else:
            entities = list(auditable_entities())
            if not entities:
                raise CommandError("No active legal entities: nothing to audit.")
        problems = []
        for entity in entities:
            problem = self.audit(entity)
            if problem:
                problems.append(problem)
                self.stderr.write(problem)
        if csv:
            rows = findings_rows(entity=org or "")
            with open(csv, "w", encoding="utf-8", newline="") as fh:
                findings_csv(fh, rows)
            self.stdout.write(f"Wrote {len(rows)} row(s) of open findings to {csv}.")
        if problems:
            raise CommandError(f"{len(problems)} organization(s) could not be audited; see above.")

    def audit(self, entity: LegalEntity) -> str:
        """Audit one entity in this process; returns the problem in plain words, or ''."""
        run, _created = audit_start(entity=entity, trigger="command", queue=False)
        claimed = audit_claim(run.pk, take_over=audit_stalled(run))
        if claimed is None:
            return (
                f"{entity.code}: an audit of Books organization {entity.books_org_id} is running already "
                f"(audit #{run.pk}); wait for it to finish."
            )
        bar = Progress(self.stderr._out, entity.code)
        try:
            audit_work(claimed, progress=bar.show)
        except (ZohoError, OSError) as exc:
            bar.close()
            return redact_text(f"{entity.code}: Books organization {entity.books_org_id} could not be audited: {exc}")
        bar.close()
        run = AuditRun.objects.get(pk=claimed.pk)
        if run.state != AuditRun.State.DONE:
            self.stdout.write(f"{entity.code} ({entity.books_org_id}): {run.error or 'not finished yet'}")
            return ""
        self.stdout.write(
            f"{entity.code} ({entity.books_org_id}): {run.items_read} items and {run.contacts_read} customers read "
            f"in {run.books_calls} Books calls; {run.item_groups} item group(s) and {run.customer_groups} "
            f"customer group(s) of possible duplicates open."
        )
        return ""


class Progress:
    """A one-line bar on a terminal; plain lines per phase elsewhere (logs, CI)."""

    def __init__(self, out, label: str):
        self.out, self.label = out, label
        self.tty = hasattr(out, "isatty") and out.isatty()
        self.phase = ""

    def show(self, run: AuditRun) -> None:
        text = (
            f"{self.label}: {run.get_phase_display()} — {run.items_read} items, {run.contacts_read} customers, "
            f"{run.books_calls} Books calls"
        )
        if self.tty:
            filled = run.percent * 30 // 100
            self.out.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {run.percent:3d}% {text}\x1b[K")
            self.out.flush()
        elif run.phase != self.phase:
            self.phase = run.phase
            self.out.write(f"{run.percent:3d}% {text}\n")

    def close(self) -> None:
        if self.tty:
            self.out.write("\n")
            self.out.flush()
