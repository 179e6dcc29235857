from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from integration.models import LegalEntity
from integration.services.preflight import zoho_check


class Command(BaseCommand):
    help = (
        "Check the live Zoho setup without writing anything to Zoho: the token refresh; each active legal entity's "
        "Books organization (reachable, its edition, currency and time zone) and the tax-map rows that apply to it; "
        "the CRM fields the bridge reads and writes (by CRM's field metadata). Prints one line per problem and exits "
        "1 when there is any, 0 when there is none; -v 2 also prints what was found right."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--org", metavar="CODE", help="Check one legal entity (its code) instead of every active one."
        )

    def handle(self, *args, org: str | None, verbosity: int, **options) -> None:
        if org and not LegalEntity.objects.filter(code=org).exists():
            raise CommandError(f"There is no legal entity {org!r}.")
        findings = zoho_check(entity_code=org)
        problems = [f for f in findings if f.problem]
        for finding in findings:
            if finding.problem or verbosity > 1:
                line = f"{finding.where}: {finding.text}"
                self.stdout.write(("PROBLEM " if finding.problem else "ok ") + line)
        if problems:
            raise CommandError(f"zoho_check: {len(problems)} problem(s), each on a line above.")
        self.stdout.write("zoho_check: no problem found.")
