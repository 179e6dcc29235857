"""The Setup screen in the browser: a finance administrator runs "Check everything" (an htmx request, read-only
against Zoho), sees what is wrong in plain words, fixes it in Zoho and checks again, and copies the CRM button's
function. Screenshots go to bench/results/screens/."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from integration.setup_guide import OAUTH_SCOPES
from tests.screens.conftest import log_in, snap

pytestmark = pytest.mark.django_db(transaction=True)


def test_check_everything_names_a_missing_field_then_passes_once_it_is_back(
    browser, live_server, sandbox, demo_config, settings
):
    settings.PUBLIC_BASE_URL = "https://bridge.example.com"
    sandbox.crm_field_change("Accounts", "Legal_Entity", None)  # the administrator has not created it yet
    page = browser.new_page()
    log_in(page, live_server.url, "finance-admin")
    page.get_by_role("link", name="Setup").click()
    expect(page.get_by_role("heading", name="Check everything")).to_be_visible()
    expect(page.locator("#check-results")).to_be_empty()
    url = page.url

    page.get_by_role("button", name="Check everything").click()
    results = page.locator("#check-results")
    expect(results.get_by_text("1 problem")).to_be_visible()
    expect(results.locator("li.error")).to_have_count(1)
    expect(results.locator("li.error")).to_contain_text("Accounts Legal_Entity is missing: add it (Pick List")
    assert page.url == url  # htmx swapped the results in place
    snap(page, "setup-check-problem")

    sandbox.crm_field_change("Accounts", "Legal_Entity", {"data_type": "picklist"})  # created in CRM now
    page.get_by_role("button", name="Check everything").click()
    expect(results.get_by_text("No problem found.")).to_be_visible()
    expect(results.locator("li.error")).to_have_count(0)
    expect(page.locator("#live table")).to_contain_text("America/Toronto")  # the status table is read again too
    expect(page.get_by_text("Zoho connection: connected")).to_be_visible()
    snap(page, "setup-check-passed")
    writes = [c for c in sandbox.calls if c["method"] in ("POST", "PUT", "DELETE") and c["product"] != "oauth"]
    assert writes == []


def test_the_copy_buttons_put_the_deluge_function_and_the_scopes_on_the_clipboard(
    browser, live_server, sandbox, demo_config
):
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    log_in(page, live_server.url, "finance-admin")
    page.goto(f"{live_server.url}/setup/")
    function = page.locator("#deluge-function").text_content()
    page.get_by_role("button", name="Copy the function").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == function
    assert "deal_id" in function
    page.get_by_role("button", name="Copy the scopes").click()
    expect(page.locator("button[data-copy=oauth-scopes]")).to_have_text("Copied")  # written: the promise resolved
    assert page.evaluate("navigator.clipboard.readText()") == ",".join(OAUTH_SCOPES)  # what Zoho's console takes
    snap(page, "setup")
    context.close()
