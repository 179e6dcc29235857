from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from integration.models import LegalEntity
from integration.services.reconcile import reconcile_all


class Command(BaseCommand):
    help = (
        "Sync every invoice of ours that Books says changed since the last run (heals lost webhooks), and wake "
        "webhook deliveries parked for an invoice that has since been recorded. What beat runs every "
        "RECONCILE_INTERVAL_SECONDS."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--org", help="Only this Books organization id (default: every active legal entity's).")

    def handle(self, *args, org: str | None, **options) -> None:
        if not LegalEntity.objects.filter(active=True).exists():
            raise CommandError("No active legal entities: nothing to reconcile.")
        results = [r for r in reconcile_all(only=org) if r["organization_id"]]
        if org and not results:
            raise CommandError(f"No active legal entity uses Books organization {org}.")
        total = sum(r["synced"] for r in results)
        failed = 0
        for result in results:
            for problem in result["failed"]:
                failed += 1
                self.stderr.write(f"{result['organization_id']}: {problem}")
        self.stdout.write(f"Reconciled {len(results)} organization(s): {total} invoice(s) synced, {failed} failed.")
        if failed:
            raise CommandError(f"{failed} problem(s) kept invoices from syncing; see above. The next run retries them.")
