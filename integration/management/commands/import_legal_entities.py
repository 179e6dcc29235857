from __future__ import annotations

from integration.management.csv_import import CsvImportCommand
from integration.services.config_tables import legal_entities_import


class Command(CsvImportCommand):
    help = (
        "Load the legal entities from a CSV file with columns code,name,books_org_id,require_review "
        "(upsert by code; all or nothing)."
    )
    label = "Legal entities"
    importer = staticmethod(legal_entities_import)
