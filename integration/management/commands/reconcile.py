from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from integration.models import LegalEntity
from integration.services.webhooks import reconcile
from integration.zoho.errors import ZohoError


class Command(BaseCommand):
    help = "Sync every invoice of ours that Books says changed since the last run (heals lost webhooks)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--org", help="Only this Books organization id (default: every active legal entity's).")

    def handle(self, *args, org: str | None, **options) -> None:
        orgs = [org] if org else list(LegalEntity.objects.filter(active=True).values_list("books_org_id", flat=True))
        if not orgs:
            raise CommandError("No active legal entities: nothing to reconcile.")
        total = failed = 0
        for organization_id in dict.fromkeys(orgs):
            try:
                result = reconcile(organization_id=organization_id)
            except ZohoError as exc:
                raise CommandError(f"Books organization {organization_id}: {exc}") from None
            total += result["synced"]
            failed += len(result["failed"])
            for problem in result["failed"]:
                self.stderr.write(f"{organization_id}: {problem}")
        self.stdout.write(f"Reconciled {len(set(orgs))} organization(s): {total} invoice(s) synced, {failed} failed.")
        if failed:
            raise CommandError(f"{failed} invoice(s) could not be synced; see above.")
