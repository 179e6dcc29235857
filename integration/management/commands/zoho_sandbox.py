from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from integration.setup_guide import OAUTH_SCOPES
from sandbox import FIDELITY, Sandbox, serve


class Command(BaseCommand):
    help = (
        "Serve the Zoho sandbox (OAuth, CRM, Books, Cliq) over HTTP with the demo dataset. It accepts the "
        "configured ZOHO_CLIENT_ID/SECRET/REFRESH_TOKEN and the zapikey of CLIQ_WEBHOOK_URL, and sends Books "
        "webhooks to this dashboard with BOOKS_WEBHOOK_TOKEN."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument("--empty", action="store_true", help="Start without the demo dataset.")
        parser.add_argument(
            "--webhook-url",
            default=f"{settings.PUBLIC_BASE_URL}/api/books/webhook/{{organization_id}}/",
            help="Where Books webhooks go; {organization_id} is filled in. Empty to send none.",
        )
        parser.add_argument("--rate-limit", type=int, default=100, help="Books calls per organization per minute.")
        parser.add_argument(
            "--even-without-debug",
            action="store_true",
            help="Run although DEBUG is off (it accepts the configured Zoho credentials: never in production).",
        )

    def handle(self, *args, host: str, port: int, empty: bool, webhook_url: str, rate_limit: int, **options) -> None:
        if not settings.DEBUG and not options["even_without_debug"]:
            raise CommandError(
                "The Zoho sandbox is for the demo and tests and DEBUG is off here. "
                "Pass --even-without-debug if this really is not production."
            )
        clients = {
            settings.ZOHO_CLIENT_ID or "sandbox-client-id": settings.ZOHO_CLIENT_SECRET or "sandbox-client-secret"
        }
        refresh = {settings.ZOHO_REFRESH_TOKEN or "sandbox-refresh-token": next(iter(clients))}
        zapikey = parse_qs(urlsplit(settings.CLIQ_WEBHOOK_URL).query).get("zapikey", ["sandbox-zapikey"])[0]
        sandbox = Sandbox(
            base_url=f"http://{host}:{port}",
            clients=clients,
            refresh_tokens=refresh,
            cliq_zapikey=zapikey,
            scopes=OAUTH_SCOPES,  # the demo grants exactly what the setup guide lists
            demo=not empty,
        )
        sandbox.webhook_url = webhook_url
        sandbox.webhook_token = settings.BOOKS_WEBHOOK_TOKEN
        sandbox.books_rate_limit_per_minute = rate_limit
        sandbox.crm_button_url = f"{settings.PUBLIC_BASE_URL}/api/crm/generate-invoice/"
        sandbox.crm_button_secret = settings.CRM_BUTTON_SECRET
        if options["verbosity"] > 1:
            self.stdout.write(FIDELITY)
        summary = sandbox.summary()
        self.stdout.write(
            f"Zoho sandbox on http://{host}:{port}/ — {len(summary['organizations'])} Books organizations, "
            f"{summary['crm']['Deals']} CRM deals; control API at /__sandbox__/."
        )
        serve(sandbox, host=host, port=port)
