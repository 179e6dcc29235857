"""What the two CSV import commands share: open the file, run the import, report."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from integration.services.config_tables import CsvImportError, ImportSummary, size_problem


class CsvImportCommand(BaseCommand):
    label = ""
    importer: Callable[..., ImportSummary]

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path, help="CSV file; the header is line 1.")

    def handle(self, *args, file: Path, **options) -> None:
        try:
            if problem := size_problem(file.stat().st_size):
                raise CsvImportError([problem])
            with file.open(encoding="utf-8-sig", newline="") as fh:
                summary = self.importer(file=fh, source=f"{self.command_name} {file.name}")
        except FileNotFoundError:
            raise CommandError(f"{file}: no such file") from None
        except UnicodeDecodeError:
            raise CommandError(f"{file}: not a UTF-8 text file; nothing was imported") from None
        except CsvImportError as exc:
            for line in exc.errors:
                self.stderr.write(f"{file}: {line}")
            raise CommandError(f"{file}: {exc.total} bad row(s); nothing was imported") from None
        self.stdout.write(f"{self.label}: {summary}.")

    @property
    def command_name(self) -> str:
        return type(self).__module__.rsplit(".", 1)[-1]
