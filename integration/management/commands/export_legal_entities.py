from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand

from integration.services.config_tables import legal_entities_export


class Command(BaseCommand):
    help = (
        "Write the legal entities as CSV (code,name,books_org_id,require_review) to standard output or --output FILE; "
        "--every-column adds active,invoice_delivery,books_daily_cap (import_legal_entities takes them too)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--output", type=Path, help="Write to this file instead of standard output.")
        parser.add_argument("--every-column", action="store_true", help="Also the screen's settings, active first.")

    def handle(self, *args, output: Path | None, every_column: bool, **options) -> None:
        if output is None:
            legal_entities_export(out=self.stdout, every_column=every_column)
            return
        with output.open("w", encoding="utf-8", newline="") as fh:
            count = legal_entities_export(out=fh, every_column=every_column)
        self.stdout.write(f"Legal entities: {count} row(s) written to {output}.")
