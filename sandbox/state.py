"""The world the sandbox simulates: Zoho's data (OAuth tokens, Books organizations, CRM records, Cliq
messages), its clock and ids, and the Books webhooks it sends. The product handlers (books.py, crm.py) and
the demo data work on this; the HTTP app (core.py) adds routing, faults and the control API."""

from __future__ import annotations

import itertools
import json
import threading
from collections import defaultdict, deque
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sandbox.wire import BOOKS_TIME_FORMAT, Clock, Fault, Request, _json_default

FULL_ACCESS = ("ZohoBooks.fullaccess.all", "ZohoCRM.modules.ALL", "ZohoCRM.settings.ALL")


def scope_allows(granted: list[str], needed: str) -> bool:
    """Zoho's scope rules as its documents state them: `Service.scope.OPERATION`, where `ALL` covers every
    operation of a scope (`ZohoBooks.invoices.ALL`, `ZohoCRM.modules.deals.ALL`), `ZohoCRM.modules.ALL` every
    module, `ZohoCRM.settings.ALL` every setting, and `ZohoBooks.fullaccess.all` all of Books. Case-insensitive."""
    want = needed.lower().split(".")
    for scope in (g.lower() for g in granted):
        have = scope.split(".")
        if scope == needed.lower() or (scope == "zohobooks.fullaccess.all" and want[0] == "zohobooks"):
            return True
        if have[-1] == "all" and want[: len(have) - 1] == have[:-1]:
            return True
    return False


class SandboxState:
    """All of Zoho's state that Invoice Bridge talks to, in one process. Thread-safe under `lock`."""

    def __init__(
        self,
        *,
        base_url: str = "http://zoho-sandbox.test",
        clients: dict[str, str] | None = None,
        refresh_tokens: dict[str, str] | None = None,
        scopes: list[str] | tuple[str, ...] | None = None,
        cliq_zapikey: str = "sandbox-zapikey",
    ):
        self.base_url = base_url.rstrip("/")
        self.lock = threading.RLock()
        self.clock = Clock()
        self._ids = itertools.count(460000000001000)
        self.faults: list[Fault] = []
        self.calls: list[dict] = []
        # OAuth
        self.clients = dict(clients or {"sandbox-client-id": "sandbox-client-secret"})
        # The scopes the refresh token was generated with (a grant is made once, in Zoho's API console); every
        # access token it yields carries them. Default: full access to everything the sandbox serves.
        self.granted_scopes = list(scopes or FULL_ACCESS)
        self.refresh_tokens = {
            rt: {"client_id": cid, "revoked": False, "scopes": list(self.granted_scopes)}
            for rt, cid in (refresh_tokens or {"sandbox-refresh-token": "sandbox-client-id"}).items()
        }
        self.access_tokens: dict[str, dict] = {}
        self.refresh_history: dict[str, deque] = defaultdict(deque)
        self.token_lifetime = 3600
        self.max_live_tokens = 10
        self.refresh_limit = 10
        self.refresh_window = 600
        self.oauth_query_credentials = 0  # times a caller put credentials in the URL
        self.token_refreshes = 0
        # Books
        self.orgs: dict[str, Any] = {}
        self.books_rate_limit_per_minute = 100
        self.books_rate_window_seconds = 60.0  # Books counts per minute; shorter only to speed up tests
        self.books_send_retry_after = False
        self.books_daily_limit = 10_000
        self.books_concurrency_limit = 10
        self.books_window: dict[str, deque] = defaultdict(deque)
        self.books_daily: dict[tuple[str, str], int] = defaultdict(int)
        self.books_in_flight: dict[str, int] = defaultdict(int)
        self.webhook_url = ""  # e.g. http://127.0.0.1:8000/api/books/webhook/{organization_id}/
        self.webhook_token = ""
        # thread: deliver in the background; manual: keep in the outbox until flushed; lose: never deliver
        # (a lost webhook, logged as such, for reconciliation to heal)
        self.webhook_mode = "thread"
        self.webhook_sender: Callable[[str, dict[str, str], bytes], int] | None = None
        self.outbox: list[dict] = []
        self.versions: dict[str, list[dict]] = defaultdict(list)  # invoice/credit-note id → its versions
        self.webhook_log: list[dict] = []
        # CRM
        self.crm: dict[str, dict[str, dict]] = {"Deals": {}, "Accounts": {}, "Contacts": {}, "Products": {}}
        self.crm_locked: set[str] = set()
        # The CRM "Generate Invoice" button: a Deluge function that signs and calls our endpoint.
        self.crm_button_url = ""  # e.g. http://127.0.0.1:8000/api/crm/generate-invoice/
        self.crm_button_secret = ""
        self.crm_writes: list[dict] = []
        # Cliq
        self.cliq_zapikey = cliq_zapikey
        self.cliq_messages: list[dict] = []

    # --- ids and time ------------------------------------------------------------------------
    def new_id(self) -> str:
        return str(next(self._ids))

    def now(self) -> datetime:
        return self.clock.now()

    def stamp(self) -> str:
        return self.now().strftime(BOOKS_TIME_FORMAT)

    def token_valid(self, req: Request) -> bool | None:
        """True valid, False invalid/expired, None when no Zoho-oauthtoken header was sent."""
        header = req.headers.get("authorization", "")
        if not header.startswith("Zoho-oauthtoken "):
            return None
        token = self.access_tokens.get(header.removeprefix("Zoho-oauthtoken ").strip())
        return bool(token) and token["expires"] > self.clock.time()

    def token_allows(self, req: Request, scope: str) -> bool:
        """Whether the (valid) access token of `req` was granted `scope`."""
        token = self.access_tokens.get(req.headers.get("authorization", "").removeprefix("Zoho-oauthtoken ").strip())
        return bool(token) and scope_allows(token["scopes"], scope)

    # --- webhooks ----------------------------------------------------------------------------
    def emit_webhook(self, org_id: str, kind: str, entity: dict) -> None:
        """Queue a Books workflow webhook ("Default payload": the entity JSON under its module key)."""
        if not self.webhook_url:
            return
        event = {
            "url": self.webhook_url.format(organization_id=org_id),
            "body": json.dumps({kind: entity}, default=_json_default).encode(),
            "kind": kind,
            "org": org_id,
        }
        if self.webhook_mode == "lose":
            with self.lock:
                self.webhook_log.append({"kind": kind, "org": org_id, "lost": True, "at": self.stamp()})
            return
        self.outbox.append(event)
        if self.webhook_mode == "thread":
            threading.Thread(target=self.flush_webhooks, daemon=True).start()

    def flush_webhooks(self) -> int:
        """Deliver every queued webhook; returns how many were delivered."""
        delivered = 0
        while True:
            with self.lock:
                if not self.outbox:
                    return delivered
                event = self.outbox.pop(0)
            headers = {"Content-Type": "application/json", "X-Webhook-Token": self.webhook_token}
            try:
                status = (self.webhook_sender or _http_post)(event["url"], headers, event["body"])
                outcome = {"status": status}
            except Exception as exc:  # the receiver being down must not break the sandbox
                outcome = {"error": type(exc).__name__}
            with self.lock:
                self.webhook_log.append({"kind": event["kind"], "org": event["org"], **outcome, "at": self.stamp()})
            delivered += 1


def _http_post(url: str, headers: dict[str, str], body: bytes) -> int:
    import httpx

    return httpx.post(url, headers=headers, content=body, timeout=10).status_code
