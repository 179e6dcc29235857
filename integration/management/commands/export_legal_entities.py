from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand

from integration.services.config_tables import legal_entities_export


class Command(BaseCommand):
    help = (
        "Write the legal entities as CSV (code,name,books_org_id,require_review) to standard output or --output FILE."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--output", type=Path, help="Write to this file instead of standard output.")

    def handle(self, *args, output: Path | None, **options) -> None:
        if output is None:
            legal_entities_export(out=self.stdout)
            return
        with output.open("w", encoding="utf-8", newline="") as fh:
            count = legal_entities_export(out=fh)
        self.stdout.write(f"Legal entities: {count} row(s) written to {output}.")
