"""In a real browser: a new push appears on an open dashboard without a reload, and staff sign in with Zoho (the
sandbox plays Zoho's consent screen over HTTP) and land on the no-role page until given a role."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.factories import InvoicePushFactory
from tests.screens.conftest import log_in, snap

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_new_push_appears_on_an_open_dashboard_without_a_reload(browser, live_server):
    InvoicePushFactory(deal_name="Already there", state="blocked")
    page = browser.new_page()
    log_in(page, live_server.url, "reviewer", username="rita")
    expect(page.get_by_text("Already there")).to_be_visible()
    page.evaluate("window.marker = 'not reloaded'")
    InvoicePushFactory(deal_name="Pressed just now", state="blocked")
    expect(page.get_by_role("link", name="Pressed just now", exact=True)).to_be_visible(timeout=15_000)
    assert page.evaluate("window.marker") == "not reloaded"
    rows = page.locator("tbody tr").all_inner_texts()
    assert rows.index(next(r for r in rows if "Pressed just now" in r)) < rows.index(
        next(r for r in rows if "Already there" in r)
    )  # on top
    snap(page, "dashboard-new-push-arrived")


def test_staff_sign_in_with_zoho_and_wait_for_a_role(browser, live_server, http_sandbox, settings):
    settings.PUBLIC_BASE_URL = live_server.url
    settings.SOCIALACCOUNT_PROVIDERS = {
        **settings.SOCIALACCOUNT_PROVIDERS,
        "zoho": {**settings.SOCIALACCOUNT_PROVIDERS["zoho"], "APPS": [{"client_id": "c", "secret": "s"}]},
    }
    directives = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {**directives, "form-action": ["'self'", http_sandbox.base_url]}}
    http_sandbox.signin.register("c", "s", f"{live_server.url}/auth/zoho/login/callback/")
    page = browser.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    snap(page, "login-with-zoho")
    page.get_by_role("button", name="Sign in with Zoho").click()
    expect(page.get_by_role("heading", name="Zoho Accounts (sandbox)")).to_be_visible()
    page.get_by_label("Dev Patel (dev.patel@acme.example)").check()
    page.get_by_role("button", name="Accept").click()
    expect(page.get_by_text("no role yet")).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(email="dev.patel@acme.example")
    assert not user.groups.exists()
