from __future__ import annotations

from integration.management.csv_import import CsvImportCommand
from integration.services.config_tables import tax_map_import


class Command(CsvImportCommand):
    help = (
        "Load the tax map from a CSV file with columns legal_entity,country,state,tax_authority "
        "(upsert by (legal_entity, country, state); all or nothing)."
    )
    label = "Tax map"
    importer = staticmethod(tax_map_import)
