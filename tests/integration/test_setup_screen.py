"""The setup screen: what an admin needs, generated for this installation — and proof that the Deluge
function it hands out signs exactly as our endpoint checks."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time

import pytest
from django.utils.html import escape

from integration.models import InvoicePush
from integration.setup_guide import CRM_FIELDS, OAUTH_SCOPES, deluge_function
from sandbox.demo import deal_id
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def run_deluge(source: str, *, deal: str, user: str, org_variables: dict[str, str], invokeurl) -> str:
    """Evaluate the generated function the way Deluge would, statement by statement, for the few built-ins it
    uses: getOrgVariable, Map.toString() (compact JSON), currenttime.toLong() (epoch ms), hmacsha256 (hex)."""
    env: dict = {"deal_id": deal}
    variable = re.search(r'secret = zoho\.crm\.getOrgVariable\("([^"]+)"\);', source).group(1)
    env["secret"] = org_variables[variable]
    fields = re.search(r"payload = \{(.*)\}\.toString\(\);", source).group(1)
    assert fields == '"deal_id": deal_id, "user": zoho.loginuserid'
    env["payload"] = json.dumps({"deal_id": deal, "user": user}, separators=(",", ":"))
    assert "ts = zoho.currenttime.toLong().toString();" in source
    env["ts"] = str(int(time.time() * 1000))
    signed = re.search(r'signature = zoho\.encryption\.hmacsha256\(secret, (.+), "hex"\);', source).group(1)
    assert signed == 'ts + "." + payload'
    message = env["ts"] + "." + env["payload"]
    env["signature"] = hmac.new(env["secret"].encode(), message.encode(), hashlib.sha256).hexdigest()
    headers = {}
    for name, value in re.findall(r'headers\.put\("([^"]+)", ([^)]+)\);', source):
        headers[name] = value.strip('"') if value.startswith('"') else env[value]
    url = re.search(r'url: "([^"]+)"', source).group(1)
    assert re.search(r"parameters: payload", source) and re.search(r"type: POST", source)
    reply = invokeurl(url, env["payload"], headers)
    assert 'return response.get("message");' in source
    return reply["message"]


def test_the_generated_deluge_function_is_accepted_by_our_signature_check(client, press, settings):
    source = deluge_function()
    assert settings.CRM_BUTTON_SECRET not in source  # read from a CRM variable, never pasted in
    assert f'url: "{settings.PUBLIC_BASE_URL}/api/crm/generate-invoice/"' in source

    def invokeurl(url: str, body: str, headers: dict) -> dict:
        path = url.removeprefix(settings.PUBLIC_BASE_URL)
        extra = {k: v for k, v in headers.items() if k != "Content-Type"}
        resp = client.post(path, body, content_type=headers["Content-Type"], headers=extra)
        assert resp.status_code in (200, 202), resp.json()
        return resp.json()

    message = run_deluge(
        source,
        deal=deal_id(2),
        user="ava@acme.example",
        org_variables={"invoice_bridge_secret": settings.CRM_BUTTON_SECRET},
        invokeurl=invokeurl,
    )
    assert message.startswith("Accepted") and InvoicePush.objects.filter(deal_id=deal_id(2)).exists()
    with pytest.raises(AssertionError):  # and a wrong secret in the CRM variable is refused
        run_deluge(
            source,
            deal=deal_id(4),
            user="ava@acme.example",
            org_variables={"invoice_bridge_secret": "not-the-secret"},
            invokeurl=invokeurl,
        )


def test_the_setup_screen_is_for_finance_admins_and_shows_no_secret(client, demo_config, settings):
    client.force_login(UserFactory(groups=["reviewer"]))
    assert client.get("/setup/").status_code == 403
    client.force_login(UserFactory(groups=["finance-admin"]))
    page = client.get("/setup/").content.decode()
    assert "invoice_bridge_secret" in page and "Books_Customer_Id" in page and "ZohoBooks.invoices.CREATE" in page
    assert f"{settings.PUBLIC_BASE_URL}/api/books/webhook/60003003/" in page and "X-Webhook-Token" in page
    for secret in (
        settings.CRM_BUTTON_SECRET,
        settings.BOOKS_WEBHOOK_TOKEN,
        settings.ZOHO_CLIENT_SECRET,
        "sandbox-zapikey",
    ):
        assert secret not in page


# The scopes each endpoint's Zoho document names in its `security` block (Books OpenAPI documents: contacts.yml,
# items.yml, taxes.yml, organizations.yml, currency.yml, invoices.yml, credit-notes.yml, customer-payments.yml;
# CRM: ZohoCRM.modules.{module}.{operation}, and ZohoCRM.settings.fields.READ for field metadata).
DOCUMENTED_SCOPES = [
    "ZohoBooks.contacts.CREATE",  # POST /contacts, POST /contacts/{id}/active|inactive
    "ZohoBooks.contacts.READ",  # GET /contacts, GET /contacts/{id}
    "ZohoBooks.creditnotes.READ",  # GET /creditnotes/{id}, GET /creditnotes/{id}/refunds
    "ZohoBooks.customerpayments.READ",  # GET /customerpayments/{id}
    "ZohoBooks.invoices.CREATE",  # POST /invoices, POST /invoices/{id}/status/sent
    "ZohoBooks.invoices.READ",  # GET /invoices, /invoices/{id}, /payments, /creditsapplied
    "ZohoBooks.settings.CREATE",  # POST /items, POST /items/{id}/active|inactive
    "ZohoBooks.settings.READ",  # GET /items, /organizations/{id}, /settings/taxes|taxauthorities|currencies
    "ZohoCRM.modules.accounts.READ",
    "ZohoCRM.modules.accounts.UPDATE",  # Books_Customer_Id
    "ZohoCRM.modules.deals.READ",
    "ZohoCRM.modules.deals.UPDATE",  # Invoice_*, Payment_Status, the amounts
    "ZohoCRM.modules.products.READ",
    "ZohoCRM.modules.products.UPDATE",  # Books_Item_Id
    "ZohoCRM.settings.fields.READ",  # zoho_check
    "ZohoCRM.modules.notes.CREATE",  # a Note on the Deal: a rejected push, a push that gave up
]


def test_the_setup_guide_asks_for_exactly_the_documented_scopes(client, demo_config):
    assert OAUTH_SCOPES == DOCUMENTED_SCOPES
    assert not [s for s in OAUTH_SCOPES if s.startswith("ZohoBooks.items")]  # Books has no items scope family
    client.force_login(UserFactory(groups=["finance-admin"]))
    page = client.get("/setup/").content.decode()
    assert ",".join(DOCUMENTED_SCOPES) in page  # written out in full, ready to paste


def test_the_setup_screen_lists_every_crm_field_and_the_products_subform(client, demo_config):
    client.force_login(UserFactory(groups=["finance-admin"]))
    page = client.get("/setup/").content.decode()
    for field in CRM_FIELDS:
        assert f"<td>{field.module}</td><td><code>{field.api_name}</code></td><td>{escape(field.kind)}</td>" in page
    assert "add a <b>subform</b> to the Deals layout with the field API name <code>Products</code>" in page
    for column, kind in (("Product", "Lookup to Products"), ("Quantity", "Number or Decimal"), ("Tax", "Percent")):
        assert f"<td><code>{column}</code></td><td>{kind}</td>" in page
    assert "Written_Off_Amount" in page and "Written Off" in page


def test_the_button_url_must_be_the_public_https_address(client, demo_config, settings):
    client.force_login(UserFactory(groups=["finance-admin"]))
    settings.PUBLIC_BASE_URL = "http://localhost:8000"
    page = client.get("/setup/").content.decode()
    assert "Not reachable from Zoho:" in page and "not an https:// address" in page
    settings.PUBLIC_BASE_URL = "https://bridge.example.com"
    page = client.get("/setup/").content.decode()
    assert "Not reachable from Zoho" not in page
    assert escape('url: "https://bridge.example.com/api/crm/generate-invoice/"') in page


def test_the_deluge_function_is_a_copyable_monospace_block(client, demo_config):
    client.force_login(UserFactory(groups=["finance-admin"]))
    page = client.get("/setup/").content.decode()
    assert '<button type="button" class="copy" data-copy="deluge-function">' in page
    assert '<pre class="code" id="deluge-function"' in page and "/static/js/copy.js" in page
    css = (settings_base_dir() / "static" / "css" / "app.css").read_text()
    assert "pre.code {" in css and "monospace" in css.split("pre.code {")[1].split("}")[0]


def settings_base_dir():
    from django.conf import settings

    return settings.BASE_DIR


def test_the_integration_reference_lists_every_scope_and_field(settings):
    """docs/integration.md is what an administrator follows alone: it must say what the Setup screen says."""
    from integration.setup_guide import SUBFORM_COLUMNS

    doc = (settings.BASE_DIR / "docs" / "integration.md").read_text()
    assert ",".join(OAUTH_SCOPES) in doc
    for field in CRM_FIELDS:
        assert f"`{field.api_name}`" in doc, field.api_name
    for column in SUBFORM_COLUMNS:
        assert f"| `{column.api_name}` | {column.kind} |" in doc
    assert "ZohoBooks.items" not in doc
