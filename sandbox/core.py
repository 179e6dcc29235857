"""The Zoho sandbox: a stateful WSGI stand-in for Zoho Accounts, CRM, Books and Cliq.

It follows ../shared/ZOHO_API.md — paths, envelopes, status and error codes, pagination, rate limits,
token expiry — and keeps its foot-guns (items listed ACTIVE-only by default, taxes without an authority,
no idempotency on invoice creation). It is not shaped to make our code pass: where Zoho's behaviour is
unconfirmed the sandbox picks the harsher plausible answer and says so in `FIDELITY`.

One `Sandbox` object holds all state behind a lock; it is a WSGI app (served over HTTP by
`manage.py zoho_sandbox`, mounted in tests through `SandboxTransport`) with a JSON control API under
`/__sandbox__/` for fault injection, the clock and inspection.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import time
from collections.abc import Callable
from urllib.parse import parse_qsl

from sandbox import books, crm, pages, sales
from sandbox.demo import load_demo
from sandbox.signin import ZohoSignin
from sandbox.state import SandboxState
from sandbox.wire import (
    STATUS_TEXT,
    DropConnection,
    Fault,
    Request,
    Response,
    Route,
    SimulatedTimeout,
    _error_response,
)

FIDELITY = """\
Modelled from Zoho's API documents: Books editions (US authorities; Canada tax agencies; UK VAT rates and
vat_treatment, no authorities; India GST groups, IGST, CGST/SGST components, gst_treatment and place_of_supply
in Books' state codes); GET /organizations and /organizations/{id}; OAuth refresh (body credentials; invalid_code / invalid_client in a 200 body;
10 refreshes per 10 minutes per refresh token → 400 Access Denied; at most 10 live access tokens, the oldest
silently invalidated; 1-hour expiry on the sandbox clock); Books v3 envelopes with code != 0 errors,
401/57, 404/1002, 400/4 validation, 429/44 per-organization 100/minute (sliding 60 s, Retry-After optional),
daily cap 45, concurrency cap 1070, 200-per-page pagination with has_more_page, items ACTIVE-only unless
filter_by=Status.All, taxed lines whose tax has no authority rejected, invoice numbering INV-00001 and
invoice_url, no idempotency on POST /invoices; CRM v2–v8 paths, {"data": [...]} envelopes, 204 for no
records, per-record errors inside data[] (INVALID_DATA, RECORD_LOCKED), INVALID_TOKEN 401; Cliq channel
messages answered 204; payments, credit notes and refunds that move invoice and credit-note status and
fire "Default payload" webhooks with a custom token header.
Also from the documents: OAuth scopes per call (each Books call needs its module's scope — item create and
reactivate need ZohoBooks.settings.CREATE, marking an invoice sent or writing it off ZohoBooks.invoices.CREATE; each
CRM call its ZohoCRM.modules.<module>.<READ|UPDATE>, field metadata ZohoCRM.settings.fields.READ), a Books call
without its scope refused like an expired token (401/57), a CRM one with 401 OAUTH_SCOPE_MISMATCH; contacts'
search_text matching the contact name (and notes), contact_name_contains / company_name_contains, vendors in the
same list unless contact_type=customer; list rows carrying only the documented list fields (no created/modified
times on items, no detail-only fields on contacts, invoices or credit notes); every tax on paginated pages;
currencies (GET /settings/currencies) with their price_precision and exchange rate; invoices in the customer's
currency with an exchange_rate off the base currency, dated by the request or by the organization's own day,
rounded half-up to the currency's places, sent with ?send=true or POST /status/sent, written off
(write_off_amount, balance 0) and the write-off cancelled; credit notes raised against an invoice named in their
invoices[] (the invoice_id goes in the query string), updated_time on detail; refund list rows with
amount_bcy/amount_fcy and no amount; CRM field metadata (data_type, lookup.module.api_name, a subform's
associated_module.module, pick_list_values); the GCC editions (tax_treatment, place of supply as the contact's
country_code, dz treatments in the UAE only); Mexico, Kenya and South Africa tax_treatment words.
Simplified or assumed (unconfirmed publicly): duplicate contact names rejected (code 3062) and duplicate
item names rejected (code 1001); reference_number filter is exact; only accepted calls count toward the
per-minute window; payments on draft invoices are refused; partially paid invoices stay partially_paid
when past due; CRM credit limits are not modelled (inject 429s with a fault instead); a tax field from
another edition, a missing treatment or place of supply on a taxed invoice, and a line tax that does not fit
the supply are refused (Zoho does not document its answer; the sandbox takes the harsher one); a tax list row
carries `status` (active/inactive) although taxes.yml lists no such field — the bridge skips inactive ones when
it is there and takes every row when it is not; the organization's time_zone is given as Books' abbreviation
("PST") or an IANA name; an invoice in a foreign currency without exchange_rate is refused, as is one whose
currency_id differs from its customer's; ?send=true for a contact with no email is refused (code 4); the
status after a write-off is "paid" with write_off_amount set; a refund's webhook payload is the refund detail;
the organization's day follows its time zone from the sandbox clock; CRM "Create Notes" on a record needs
ZohoCRM.modules.notes.CREATE and, the document not saying which operation on the record's module, its READ
(the least a note on it could need); a Books create that a slow fault holds is carried out after the caller has
given up (Zoho does not say how long Books works on a request whose caller left: the bridge waits 300 s).
"""


class Sandbox(SandboxState):
    """The sandbox as a WSGI app: routing, faults, OAuth, Cliq and the control API over `SandboxState`."""

    def __init__(self, *, demo: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.crm_fields = crm.default_fields()  # CRM's field metadata, as the administrator set it up
        self.signin = ZohoSignin(self)  # Sign in with Zoho: its own client, consent screen and users
        self.routes = self._routes()
        if demo:
            load_demo(self)

    # --- WSGI --------------------------------------------------------------------------------
    def __call__(self, environ: dict, start_response: Callable) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        req = Request(
            method=environ["REQUEST_METHOD"].upper(),
            path=environ.get("PATH_INFO", "/"),
            query=dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)),
            headers=headers,
            body=body,
            in_process=bool(environ.get("sandbox.in_process")),
        )
        resp = self.handle(req)
        content = resp.content()
        head = [("Content-Type", resp.content_type), *resp.headers.items()]
        if resp.status != 204:
            head.append(("Content-Length", str(len(content))))
        start_response(f"{resp.status} {STATUS_TEXT.get(resp.status, 'Status')}", head)
        return [content] if resp.status != 204 else []

    def handle(self, req: Request) -> Response:
        """Route one request, applying any matching fault first."""
        product = self._product(req.path)
        fault = self._take_fault(req) if product != "control" else None
        if fault and fault.kind == "timeout":
            if not req.in_process:
                time.sleep(fault.seconds or 35)
            raise SimulatedTimeout(fault.seconds or 35)
        if fault and fault.kind == "error":
            resp = _error_response(product, 500)
            if fault.message and isinstance(resp.body, dict):
                resp.body["message"] = fault.message
            return self._record(req, product, resp)
        if fault and fault.kind == "rate_limit":
            resp = _error_response(product, 429)
            if fault.retry_after is not None:
                resp.headers["Retry-After"] = str(fault.retry_after)
            return self._record(req, product, resp)
        if fault and fault.kind == "slow":
            time.sleep(fault.seconds)
        if fault and fault.kind == "stale":
            return self._dispatch_stale(req, product)
        resp = self._dispatch(req, product)
        if fault and fault.kind == "drop":
            raise DropConnection()
        return resp

    def _dispatch_stale(self, req: Request, product: str) -> Response:
        """A read served by a lagging replica: the invoices and credit notes named in the path are shown as
        they were before their last change (Zoho does not document read-after-write consistency, so the
        sandbox lets tests meet the harsher answer). Meant for GETs."""
        swapped = []
        with self.lock:
            for org in self.orgs.values():
                for store in (org.invoices, org.creditnotes):
                    for ident in re.findall(r"/(\d+)", req.path):
                        if ident in store and len(self.versions.get(ident, ())) >= 2:
                            swapped.append((store, ident, store[ident]))
                            store[ident] = copy.deepcopy(self.versions[ident][-2])
        try:
            return self._dispatch(req, product)
        finally:
            with self.lock:
                for store, ident, live in swapped:
                    store[ident] = live

    def _dispatch(self, req: Request, product: str) -> Response:
        for route in self.routes:
            match = route.regex.match(req.path)
            if match and route.method == req.method:
                if product == "books":
                    return self._books_call(req, route, match.groupdict())
                if product == "control":
                    # Control actions take the lock themselves: the CRM button calls our app, which calls back in.
                    return route.handler(req, **match.groupdict())
                with self.lock:
                    resp = route.handler(req, **match.groupdict())
                return self._record(req, product, resp)
        if product == "books":
            return self._record(req, product, Response(404, {"code": 5, "message": "Invalid URL Passed"}))
        if product == "crm":
            return self._record(
                req,
                product,
                Response(
                    404,
                    {
                        "code": "INVALID_URL_PATTERN",
                        "details": {},
                        "message": "Please check if the URL trying to access is a correct one",
                        "status": "error",
                    },
                ),
            )
        return Response(404, {"error": "not found", "path": req.path})

    @staticmethod
    def _product(path: str) -> str:
        if path.startswith("/books/v3/"):
            return "books"
        if path.startswith("/crm/"):
            return "crm"
        if path.startswith("/oauth/"):
            return "oauth"
        if path.startswith("/api/v2/"):
            return "cliq"
        if path.startswith("/__sandbox__"):
            return "control"
        return "other"

    def _record(self, req: Request, product: str, resp: Response, org: str = "") -> Response:
        if product in ("books", "crm", "oauth", "cliq"):
            with self.lock:
                self.calls.append(
                    {
                        "product": product,
                        "method": req.method,
                        "path": req.path,
                        "org": org or req.query.get("organization_id", ""),
                        "status": resp.status,
                        "at": self.clock.time(),
                    }
                )
        return resp

    def _take_fault(self, req: Request) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.count > 0 and fault.matches(req):
                    fault.count -= 1
                    if fault.count == 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def add_fault(
        self,
        kind: str,
        *,
        count: int = 1,
        method: str = "",
        path: str = "",
        seconds: float = 0.0,
        retry_after: int | None = None,
        message: str = "",
    ) -> Fault:
        if kind not in Fault.KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {', '.join(Fault.KINDS)}")
        fault = Fault(
            kind=kind, count=count, method=method, path=path, seconds=seconds, retry_after=retry_after, message=message
        )
        with self.lock:
            self.faults.append(fault)
        return fault

    def calls_to(self, method: str, path_regex: str, *, org: str | None = None) -> list[dict]:
        """Recorded API calls matching a method and a path regex (tests count Zoho calls with this)."""
        rx = re.compile(path_regex)
        with self.lock:
            return [
                c
                for c in self.calls
                if c["method"] == method and rx.search(c["path"]) and (org is None or c["org"] == org)
            ]

    # --- OAuth (accounts server) ---------------------------------------------------------------
    def oauth_token(self, req: Request) -> Response:
        params = req.form()
        if any(k in req.query for k in ("client_secret", "refresh_token")):
            self.oauth_query_credentials += 1
            params = {**req.query, **params}  # Zoho accepts them there too, but URLs end up in logs
        if params.get("grant_type") == "authorization_code":
            return self.signin.token(params)  # Sign in with Zoho (sandbox/signin.py)
        if params.get("grant_type") != "refresh_token":
            return Response(200, {"error": "unsupported_grant_type"})
        client_id, secret = params.get("client_id", ""), params.get("client_secret", "")
        if self.clients.get(client_id) != secret or not secret:
            return Response(200, {"error": "invalid_client"})
        rt = self.refresh_tokens.get(params.get("refresh_token", ""))
        if rt is None or rt["revoked"] or rt["client_id"] != client_id:
            return Response(200, {"error": "invalid_code"})
        history = self.refresh_history[params["refresh_token"]]
        now = self.clock.time()
        while history and history[0] <= now - self.refresh_window:
            history.popleft()
        if len(history) >= self.refresh_limit:
            return Response(
                400,
                {
                    "error": "Access Denied",
                    "status": "failure",
                    "error_description": "You have made too many requests continuously. Please try again after some time.",
                },
            )
        history.append(now)
        self.token_refreshes += 1
        token = f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
        self.access_tokens[token] = {
            "refresh_token": params["refresh_token"],
            "expires": now + self.token_lifetime,
            "scopes": list(rt["scopes"]),
        }
        live = [t for t, v in self.access_tokens.items() if v["refresh_token"] == params["refresh_token"]]
        for stale in live[: max(0, len(live) - self.max_live_tokens)]:
            del self.access_tokens[stale]  # the oldest is silently invalidated
        return Response(
            200,
            {
                "access_token": token,
                "expires_in": self.token_lifetime,
                "api_domain": self.base_url,
                "token_type": "Bearer",
            },
        )

    def revoke_refresh_token(self, refresh_token: str) -> None:
        with self.lock:
            self.refresh_tokens[refresh_token]["revoked"] = True
            for t in [t for t, v in self.access_tokens.items() if v["refresh_token"] == refresh_token]:
                del self.access_tokens[t]

    # --- Cliq ----------------------------------------------------------------------------------
    def cliq_message(self, req: Request, channel: str) -> Response:
        if req.query.get("zapikey") != self.cliq_zapikey:
            return Response(401, {"code": "invalid_zapikey", "message": "Invalid zapikey."})
        try:
            payload = req.json()
        except ValueError:
            return Response(400, {"code": "input_json_invalid", "message": "The JSON input is invalid."})
        if not isinstance(payload, dict) or not (payload.get("text") or payload.get("card") or payload.get("slides")):
            return Response(400, {"code": "message_text_empty", "message": "Message text cannot be empty."})
        self.cliq_messages.append({"channel": channel, "payload": payload, "at": self.stamp()})
        return Response(204)

    # --- control API ----------------------------------------------------------------------------
    def control(self, req: Request, action: str = "") -> Response:
        try:
            data = req.json() if req.body else {}
        except ValueError:
            return Response(400, {"error": "body is not JSON"})
        action = action.strip("/")
        if req.method == "GET" and action == "":
            return Response(200, self.summary())
        if action == "reset" and req.method == "POST":
            self.reset(demo=bool(data.get("demo", True)))
            return Response(200, {"ok": True})
        if action == "faults":
            if req.method == "GET":
                return Response(200, {"faults": [f.__dict__ for f in self.faults]})
            if req.method == "DELETE":
                self.faults.clear()
                return Response(200, {"ok": True})
            try:
                fault = self.add_fault(data.pop("kind", ""), **data)
            except (TypeError, ValueError) as exc:
                return Response(400, {"error": str(exc)})
            return Response(201, {"fault": fault.__dict__})
        if action == "clock" and req.method == "POST":
            self.advance_clock(float(data.get("advance", 0)))
            return Response(200, {"now": self.stamp()})
        m = re.fullmatch(r"crm/deals/(?P<deal>\d+)/generate-invoice", action)
        if m and req.method == "POST":
            return self.crm_button_press(m["deal"], str(data.get("user") or "ae@acme.example"))
        if action == "settings" and req.method in ("POST", "PATCH"):
            allowed = {
                "books_rate_limit_per_minute",
                "books_send_retry_after",
                "books_daily_limit",
                "books_concurrency_limit",
                "webhook_url",
                "webhook_token",
                "token_lifetime",
                "webhook_mode",
            }
            unknown = set(data) - allowed
            if unknown:
                return Response(400, {"error": f"unknown settings: {sorted(unknown)}"})
            if data.get("webhook_mode", "thread") not in ("thread", "manual", "lose"):
                return Response(400, {"error": "webhook_mode is one of thread, manual, lose"})
            with self.lock:
                for key, value in data.items():
                    setattr(self, key, value)
            return Response(200, {k: getattr(self, k) for k in sorted(allowed)})
        if action == "oauth/revoke" and req.method == "POST":
            if data.get("refresh_token") not in self.refresh_tokens:
                return Response(400, {"error": "unknown refresh_token"})
            self.revoke_refresh_token(data["refresh_token"])
            return Response(200, {"ok": True})
        m = re.fullmatch(r"crm/fields/(?P<module>\w+)/(?P<field>\w+)", action)
        if m and req.method in ("POST", "DELETE"):
            return self.crm_field_change(m["module"], m["field"], None if req.method == "DELETE" else data)
        if action == "crm/lock" and req.method == "POST":
            with self.lock:
                (self.crm_locked.add if data.get("locked", True) else self.crm_locked.discard)(str(data.get("id")))
                return Response(200, {"locked": sorted(self.crm_locked)})
        if action == "calls" and req.method == "GET":
            with self.lock:
                return Response(200, {"calls": self.calls[-500:], "total": len(self.calls)})
        if action == "cliq" and req.method == "GET":
            with self.lock:
                return Response(200, {"messages": list(self.cliq_messages)})
        if action == "webhooks" and req.method == "GET":
            with self.lock:
                return Response(200, {"outbox": list(self.outbox), "log": self.webhook_log[-200:]})
        if action == "webhooks/flush" and req.method == "POST":
            return Response(200, {"delivered": self.flush_webhooks()})
        m = re.fullmatch(r"books/(?P<org>\d+)/invoices/(?P<inv>\d+)/(?P<what>\w+)", action)
        if m and req.method == "POST" and m["what"] in pages.ACTIONS:
            return self.books_demo_action(m["org"], m["inv"], m["what"], data)
        return Response(404, {"error": f"unknown control action {req.method} /__sandbox__/{action}"})

    def crm_field_change(self, module: str, api_name: str, data: dict | None) -> Response:
        """What a CRM administrator does in Setup: delete a field (`data` None) or give it another data type."""
        with self.lock:
            fields = self.crm_fields.get(module)
            if fields is None:
                return Response(404, {"error": f"no CRM module {module}"})
            if data is None:
                if fields.pop(api_name, None) is None:
                    return Response(404, {"error": f"no field {api_name} in {module}"})
                return Response(200, {"deleted": f"{module}.{api_name}"})
            kind = str(data.get("data_type") or "")
            if kind not in crm.JSON_TYPES and kind not in ("text", "textarea", "picklist", "website", "email"):
                return Response(400, {"error": "data_type is one of CRM's field types (text, currency, lookup…)"})
            ids = iter(range(5725767000002000001, 5725767000003000000))
            fields[api_name] = crm.field_meta(ids, module, api_name, kind)
            return Response(200, {"field": fields[api_name]})

    def crm_button_press(self, deal_id: str, user: str) -> Response:
        """What the CRM's Deluge function does: sign `ts + "." + body` with HMAC-SHA256 and call out."""
        import hashlib
        import hmac

        import httpx

        if not (self.crm_button_url and self.crm_button_secret):
            return Response(400, {"message": "The sandbox CRM button is not configured (crm_button_url/secret)."})
        body = json.dumps({"deal_id": deal_id, "user": user}).encode()
        ts = str(int(time.time() * 1000))
        signature = hmac.new(self.crm_button_secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        try:
            resp = httpx.post(
                self.crm_button_url,
                content=body,
                timeout=40,  # Deluge's invokeurl gives up at 40 s
                headers={"Content-Type": "application/json", "X-Timestamp": ts, "X-Signature": signature},
            )
        except httpx.HTTPError as exc:
            return Response(502, {"message": f"Could not reach Invoice Bridge: {type(exc).__name__}"})
        try:
            reply = resp.json()
        except ValueError:
            reply = {"message": resp.text[:500]}
        return Response(200, {"http_status": resp.status_code, "reply": reply})

    def summary(self) -> dict:
        with self.lock:
            return {
                "now": self.stamp(),
                "organizations": {
                    oid: {
                        "name": o.name,
                        "contacts": len(o.contacts),
                        "items": len(o.items),
                        "invoices": len(o.invoices),
                        "creditnotes": len(o.creditnotes),
                    }
                    for oid, o in self.orgs.items()
                },
                "crm": {m: len(r) for m, r in self.crm.items()},
                "token_refreshes": self.token_refreshes,
                "live_access_tokens": len(self.access_tokens),
                "calls": len(self.calls),
                "faults": [f.__dict__ for f in self.faults],
                "cliq_messages": len(self.cliq_messages),
                "webhooks_pending": len(self.outbox),
            }

    def reset(self, *, demo: bool = True) -> None:
        with self.lock:
            fresh = Sandbox(base_url=self.base_url, cliq_zapikey=self.cliq_zapikey, demo=demo)
            keep = {
                "webhook_url": self.webhook_url,
                "webhook_token": self.webhook_token,
                "webhook_mode": self.webhook_mode,
                "webhook_sender": self.webhook_sender,
                "clients": self.clients,
                "books_rate_limit_per_minute": self.books_rate_limit_per_minute,
            }
            rts = {rt: (v["client_id"], v["scopes"]) for rt, v in self.refresh_tokens.items()}
            self.__dict__.update({k: v for k, v in fresh.__dict__.items() if k != "lock"})
            self.__dict__.update(keep)
            self.refresh_tokens = {
                rt: {"client_id": cid, "revoked": False, "scopes": scopes} for rt, (cid, scopes) in rts.items()
            }
            self.routes = self._routes()

    def advance_clock(self, seconds: float) -> None:
        with self.lock:
            self.clock.advance(seconds)
            self.books_mark_overdue()

    def books_mark_overdue(self) -> None:
        sales.mark_overdue(self)

    def books_demo_action(self, org_id: str, invoice_id: str, what: str, data: dict) -> Response:
        with self.lock:
            return pages.demo_action(self, org_id, invoice_id, what, data)

    def _routes(self) -> list[Route]:
        return [
            Route("POST", r"/oauth/v2/token", lambda req: self.oauth_token(req)),
            *[Route(m, r"/oauth/v2/auth", lambda req: self.signin.consent(req)) for m in ("GET", "POST")],
            Route("GET", r"/oauth/user/info", lambda req: self.signin.user_info(req)),
            Route("POST", r"/api/v2/channelsbyname/(?P<channel>[^/]+)/message", self.cliq_message),
            *[Route(m, r"/__sandbox__(?P<action>/.*)?", self.control) for m in ("GET", "POST", "PATCH", "DELETE")],
            Route("GET", r"/", lambda req: pages.home_page(self)),
            Route(
                "GET",
                r"/books/portal/(?P<org_id>\d+)/invoices/(?P<invoice_id>\d+)",
                lambda req, **kw: pages.portal_page(self, **kw),
            ),
            Route(
                "GET",
                r"/crm/tab/(?P<module>Potentials|Accounts)/(?P<record_id>\d+)",
                lambda req, **kw: pages.crm_record_page(self, **kw),
            ),
            Route("GET", r"/app/(?P<org_id>\d+)", lambda req, **kw: pages.books_app_page(self, **kw)),
            *crm.routes(self),
            *books.routes(self),
            *sales.routes(self),
        ]

    # --- Books plumbing: auth, organization, rate limits -----------------------------------------
    def _books_call(self, req: Request, route: Route, params: dict) -> Response:
        org_id = req.query.get("organization_id", "") or params.get("org_path_id", "")
        valid = self.token_valid(req)
        if not valid or (route.scope and not self.token_allows(req, route.scope)):
            # Books answers a missing scope exactly like an expired token (ZOHO_API.md).
            return self._record(
                req, "books", Response(401, {"code": 57, "message": "You are not authorized to perform this operation"})
            )
        if req.path.rstrip("/") == "/books/v3/organizations":  # account level: no organization needed
            with self.lock:
                return self._record(req, "books", route.handler(req, None))
        with self.lock:
            org = self.orgs.get(org_id)
            if org is None:
                return self._record(
                    req,
                    "books",
                    Response(
                        400,
                        {
                            "code": 6041,
                            "message": "This user is not associated with the CompanyID/CompanyName:"
                            + org_id[:20]
                            + ".",
                        },
                    ),
                )
            limited = self._books_limits(org_id)
            if limited:
                return self._record(req, "books", limited)
            self.books_in_flight[org_id] += 1
        try:
            with self.lock:
                resp = route.handler(req, org, **params)
        except ValueError as exc:  # malformed JSON and the like
            resp = Response(400, {"code": 4, "message": f"Invalid value passed: {exc}"})
        finally:
            with self.lock:
                self.books_in_flight[org_id] -= 1
        return self._record(req, "books", resp)

    def _books_limits(self, org_id: str) -> Response | None:
        now = self.clock.time()
        window = self.books_window[org_id]
        span = self.books_rate_window_seconds
        while window and window[0] <= now - span:
            window.popleft()
        if len(window) >= self.books_rate_limit_per_minute:
            headers = {}
            if self.books_send_retry_after:
                headers["Retry-After"] = str(max(1, int(window[0] + span - now + 0.999)))
            return Response(
                429,
                {"code": 44, "message": "You have made too many requests. Please try again after some time."},
                headers,
            )
        day = self.now().strftime("%Y-%m-%d")
        if self.books_daily[(org_id, day)] >= self.books_daily_limit:
            return Response(
                429, {"code": 45, "message": "You have reached the maximum number of API requests allowed for the day."}
            )
        if self.books_in_flight[org_id] >= self.books_concurrency_limit:
            return Response(429, {"code": 1070, "message": "The number of concurrent requests has exceeded the limit."})
        window.append(now)
        self.books_daily[(org_id, day)] += 1
        return None
