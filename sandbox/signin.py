"""Zoho's sign-in (the OAuth authorization-code grant of a "server-based application" client), as the sandbox plays
it for "Sign in with Zoho": the consent screen at GET /oauth/v2/auth, the code exchanged at POST /oauth/v2/token,
and who signed in at GET /oauth/user/info.

Per Zoho's OAuth documents: the consent screen refuses a client it does not know or a redirect_uri the client did
not register (shown on the page, nothing sent back); consent redirects to the redirect_uri with `code`, `location`,
`accounts-server` and the caller's `state`; denial with `error=access_denied`. A code is single-use and expires
after two minutes; exchanging it needs the same client, secret and redirect_uri, else `{"error": "invalid_code"}`
(or `invalid_client`), with HTTP 200 as Zoho answers. /oauth/user/info answers ZUID, Email, First_Name,
Last_Name, Display_Name for a token with the `aaaserver.profile.READ` scope. Zoho's documents show the token as
`Zoho-oauthtoken …`; allauth's Zoho provider sends `Bearer …`, which the sandbox takes too (unconfirmed in Zoho's
documents; the provider is used against Zoho as it is)."""

from __future__ import annotations

import html
import secrets
from urllib.parse import urlencode

from sandbox.wire import Request, Response

CODE_LIFETIME = 120
PROFILE_SCOPE = "aaaserver.profile.READ"
DEMO_SIGNIN_CLIENT = ("demo-signin-client-id", "demo-signin-client-secret")
DEMO_REDIRECTS = ["http://localhost:8000/auth/zoho/login/callback/", "http://127.0.0.1:8000/auth/zoho/login/callback/"]
DEMO_USERS = [
    {"ZUID": 70000001, "Email": "maria.lopez@acme.example", "First_Name": "Maria", "Last_Name": "Lopez"},
    {"ZUID": 70000002, "Email": "dev.patel@acme.example", "First_Name": "Dev", "Last_Name": "Patel"},
]


class ZohoSignin:
    def __init__(self, sb) -> None:
        self.sb = sb
        self.clients: dict[str, dict] = {
            DEMO_SIGNIN_CLIENT[0]: {"secret": DEMO_SIGNIN_CLIENT[1], "redirect_uris": list(DEMO_REDIRECTS)}
        }
        self.users = [{**u, "Display_Name": f"{u['First_Name']} {u['Last_Name']}"} for u in DEMO_USERS]
        self.codes: dict[str, dict] = {}
        self.tokens: dict[str, dict] = {}

    def register(self, client_id: str, secret: str, redirect_uri: str) -> None:
        client = self.clients.setdefault(client_id, {"secret": secret, "redirect_uris": []})
        client["secret"] = secret
        client["redirect_uris"].append(redirect_uri)

    def _refused(self, why: str) -> Response:
        page = f"<!doctype html><title>Zoho Accounts</title><h1>Invalid request</h1><p>{html.escape(why)}</p>"
        return Response(400, page, content_type="text/html; charset=utf-8")

    def consent(self, req: Request) -> Response:
        """GET: the consent screen (choose a demo Zoho user); POST: that user's answer."""
        params = {**req.query, **(req.form() if req.method == "POST" else {})}
        client = self.clients.get(params.get("client_id", ""))
        if client is None:
            return self._refused("Invalid Client ID passed.")
        redirect_uri = params.get("redirect_uri", "")
        if redirect_uri not in client["redirect_uris"]:
            return self._refused("Invalid Redirect Uri passed.")
        if params.get("response_type") != "code":
            return self._refused("Invalid response_type passed.")
        state = params.get("state", "")
        if req.method == "POST":
            back = {"state": state} if state else {}
            if params.get("answer") != "accept":
                return Response(
                    302, "", headers={"Location": f"{redirect_uri}?{urlencode({'error': 'access_denied', **back})}"}
                )
            user = next((u for u in self.users if str(u["ZUID"]) == params.get("zuid")), None)
            if user is None:
                return self._refused("Choose a user.")
            code = f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
            self.codes[code] = {
                "client_id": params["client_id"],
                "redirect_uri": redirect_uri,
                "user": user,
                "scopes": params.get("scope", "").replace(",", " ").split(),
                "expires": self.sb.clock.time() + CODE_LIFETIME,
            }
            query = {"code": code, "location": "us", "accounts-server": self.sb.base_url, **back}
            return Response(302, "", headers={"Location": f"{redirect_uri}?{urlencode(query)}"})
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items()
            if k in ("client_id", "redirect_uri", "response_type", "scope", "state", "access_type")
        )
        choices = "".join(
            f'<label><input type="radio" name="zuid" value="{u["ZUID"]}"{" checked" if n == 0 else ""}> '
            f"{html.escape(u['Display_Name'])} ({html.escape(u['Email'])})</label><br>"
            for n, u in enumerate(self.users)
        )
        page = (
            "<!doctype html><html lang='en'><title>Sign in — Zoho Accounts (sandbox)</title>"
            "<main><h1>Zoho Accounts (sandbox)</h1>"
            f"<p>An application asks to know who you are ({html.escape(params.get('scope', ''))}).</p>"
            f"<form method='post'>{hidden}<fieldset><legend>Sign in as</legend>{choices}</fieldset>"
            "<button name='answer' value='accept'>Accept</button> <button name='answer' value='deny'>Reject</button>"
            "</form></main></html>"
        )
        return Response(200, page, content_type="text/html; charset=utf-8")

    def token(self, params: dict) -> Response:
        """grant_type=authorization_code at POST /oauth/v2/token."""
        client = self.clients.get(params.get("client_id", ""))
        if client is None or client["secret"] != params.get("client_secret"):
            return Response(200, {"error": "invalid_client"})
        grant = self.codes.pop(params.get("code", ""), None)  # single use, whatever happens next
        if (
            grant is None
            or grant["expires"] < self.sb.clock.time()
            or grant["client_id"] != params.get("client_id")
            or grant["redirect_uri"] != params.get("redirect_uri")
        ):
            return Response(200, {"error": "invalid_code"})
        token = f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
        self.tokens[token] = {"user": grant["user"], "scopes": grant["scopes"], "expires": self.sb.clock.time() + 3600}
        return Response(
            200,
            {"access_token": token, "api_domain": self.sb.base_url, "token_type": "Bearer", "expires_in": 3600},
        )

    def user_info(self, req: Request) -> Response:
        header = req.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        grant = self.tokens.get(token) if scheme in ("Zoho-oauthtoken", "Bearer") else None
        if grant is None or grant["expires"] < self.sb.clock.time():
            return Response(401, {"response": "error", "cause": "invalid_oauthtoken"})
        if PROFILE_SCOPE not in grant["scopes"]:
            return Response(401, {"response": "error", "cause": "OAUTH_SCOPE_MISMATCH"})
        return Response(200, dict(grant["user"]))
