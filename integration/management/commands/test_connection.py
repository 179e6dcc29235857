from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from integration.editions import LABELS
from integration.models import LegalEntity
from integration.services.entities import legal_entity_refresh
from integration.zoho.errors import ZohoError


class Command(BaseCommand):
    help = (
        "Read each legal entity's Books organization (name, currency, edition, home state) and keep it: "
        "how Invoice Bridge learns which taxes an organization takes."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("codes", nargs="*", help="Legal entity codes (default: every active entity).")

    def handle(self, *args, codes: list[str], **options) -> None:
        entities = LegalEntity.objects.filter(code__in=codes) if codes else LegalEntity.objects.filter(active=True)
        missing = set(codes) - {e.code for e in entities}
        if missing:
            raise CommandError(f"Unknown legal entity code(s): {', '.join(sorted(missing))}.")
        failed = 0
        for entity in entities:
            try:
                legal_entity_refresh(entity=entity)
            except ZohoError as exc:
                failed += 1
                self.stderr.write(f"{entity.code}: Books organization {entity.books_org_id} could not be read: {exc}")
                continue
            edition = LABELS.get(entity.books_edition, "unknown")
            self.stdout.write(
                f"{entity.code}: {entity.books_org_name} ({entity.books_org_id}), {entity.books_currency}, "
                f"{edition} edition, home state {entity.books_home_state or '—'}"
            )
        if failed:
            raise CommandError(f"{failed} organization(s) could not be read; see above.")
