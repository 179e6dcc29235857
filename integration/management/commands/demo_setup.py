from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError

from integration.services.config_tables import legal_entities_import, tax_map_import

DEMO_DIR = Path(settings.BASE_DIR) / "demo"
USERS = [("admin", None), ("finance", "finance-admin"), ("reviewer", "reviewer")]


class Command(BaseCommand):
    help = "Load the demo legal entities and tax map and create demo logins (DEBUG only)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--password", default="invoice-bridge-demo", help="Password for the demo logins.")

    def handle(self, *args, password: str, **options) -> None:
        if not settings.DEBUG:
            raise CommandError("demo_setup creates logins with a known password; it runs only with DEBUG on.")
        with (DEMO_DIR / "legal_entities.csv").open(encoding="utf-8") as fh:
            entities = legal_entities_import(file=fh, source="demo_setup")
        with (DEMO_DIR / "tax_map.csv").open(encoding="utf-8") as fh:
            rules = tax_map_import(file=fh, source="demo_setup")
        for username, group in USERS:
            user, _ = User.objects.get_or_create(username=username, defaults={"email": f"{username}@acme.example"})
            user.is_staff = True
            user.is_superuser = group is None
            user.set_password(password)
            user.save()
            if group:
                user.groups.set([Group.objects.get(name=group)])
        self.stdout.write(
            f"Demo ready: legal entities {entities}; tax map {rules}. "
            f"Log in as admin, finance or reviewer with password {password!r}."
        )
