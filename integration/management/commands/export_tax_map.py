from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand

from integration.services.config_tables import tax_map_export


class Command(BaseCommand):
    help = "Write the tax map as CSV (legal_entity,country,state,tax_authority) to standard output or --output FILE."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--output", type=Path, help="Write to this file instead of standard output.")

    def handle(self, *args, output: Path | None, **options) -> None:
        if output is None:
            tax_map_export(out=self.stdout)
            return
        with output.open("w", encoding="utf-8", newline="") as fh:
            count = tax_map_export(out=fh)
        self.stdout.write(f"Tax map: {count} row(s) written to {output}.")
