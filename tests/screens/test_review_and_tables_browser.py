"""What reviewers and finance do in the browser: approve a push waiting for review, fix the tax map for a
blocked deal, and what a user without a role sees. Screenshots of each screen go to bench/results/screens/."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from playwright.sync_api import expect

from integration.models import InvoicePush, TaxRule
from sandbox.books import new_authority, new_tax
from sandbox.demo import US_ORG, deal_id
from tests.conftest import sign
from tests.screens.conftest import log_in, snap

pytestmark = pytest.mark.django_db(transaction=True)


def press(settings, deal: str) -> dict:
    body = json.dumps({"deal_id": deal}).encode()
    resp = Client().post(
        "/api/crm/generate-invoice/",
        body,
        content_type="application/json",
        headers=sign(body, secret=settings.CRM_BUTTON_SECRET),
    )
    return resp.json()


def test_a_reviewer_approves_a_pending_push_and_sees_it_pushed(browser, live_server, sandbox, demo_config, settings):
    reply = press(settings, deal_id(5))  # the UK entity waits for review
    page = browser.new_page()
    log_in(page, live_server.url, "reviewer")
    page.goto(f"{live_server.url}/pushes/{reply['push_id']}/")
    expect(page.get_by_role("heading", name="Waiting for your review")).to_be_visible()
    snap(page, "push-pending-review")
    asked = []
    page.on("dialog", lambda dialog: asked.append(dialog.message))
    page.get_by_role("button", name="Approve and create the invoice").click()
    expect(page.get_by_text("Approved: push")).to_be_visible()
    expect(page.locator(".facts .state")).to_have_text("Pushed")
    assert asked == [f"Approve push #{reply['push_id']}? Its invoice is created in Books now."]
    snap(page, "push-approved")
    assert InvoicePush.objects.get(pk=reply["push_id"]).invoice_number.startswith("INV-")


def test_finance_fixes_the_tax_map_for_a_blocked_deal(browser, live_server, sandbox, demo_config, settings):
    # Books has a Texas authority with its tax; the tax map does not name it yet, so Umbrella's deal is blocked.
    texas = new_authority(sandbox, sandbox.orgs[US_ORG], "TX_CPA", "Texas Comptroller of Public Accounts")
    new_tax(sandbox, sandbox.orgs[US_ORG], "TX State Tax", "6.25", texas)
    blocked = press(settings, deal_id(3))
    assert blocked["status"] == "blocked" and "No tax authority for US/TX in entity US-LLC." in blocked["reasons"]

    page = browser.new_page()
    log_in(page, live_server.url, "finance-admin")
    page.get_by_role("link", name="Legal entities & tax map").click()
    page.select_option("select[name=legal_entity] >> nth=0", "US-LLC")
    page.fill("form.stacked >> nth=0 >> input[name=country]", "United States")
    page.fill("form.stacked >> nth=0 >> input[name=state]", "Texass")
    page.fill("form.stacked >> nth=0 >> input[name=tax_authority]", "TX_CPA")
    page.get_by_role("button", name="Add the rule").click()
    expect(page.get_by_text("State 'Texass' is not a state or region of US.")).to_be_visible()
    snap(page, "tax-map-refused")
    page.fill("form.stacked >> nth=0 >> input[name=state]", "Texas")
    page.get_by_role("button", name="Add the rule").click()
    expect(page.get_by_text("Saved: US/TX (US-LLC) → TX_CPA.")).to_be_visible()
    snap(page, "tax-map")
    assert TaxRule.objects.filter(state="TX", tax_authority="TX_CPA").exists()

    reviewer = browser.new_page()  # a reviewer plans the blocked deal again, now that the map is fixed
    log_in(reviewer, live_server.url, "reviewer", username="rita")
    reviewer.goto(f"{live_server.url}/pushes/{blocked['push_id']}/")
    reviewer.get_by_role("button", name="Plan the deal again").click()
    expect(reviewer.get_by_text("Planned again: push #")).to_be_visible()
    expect(reviewer.locator(".facts .state")).to_have_text("Pushed")
    snap(reviewer, "blocked-planned-again")


def test_a_user_without_a_role_sees_nothing(browser, live_server, demo_config, settings):
    page = browser.new_page()
    log_in(page, live_server.url, None)
    expect(page.get_by_role("heading", name="You have no role yet")).to_be_visible()
    expect(page.get_by_text("US-LLC")).to_have_count(0)
    snap(page, "no-role")


def test_a_reviewer_cannot_edit_the_tax_map(browser, live_server, demo_config, settings):
    page = browser.new_page()
    log_in(page, live_server.url, "reviewer")
    page.goto(f"{live_server.url}/tables/")
    expect(page.get_by_text("BOE_CA")).to_be_visible()
    expect(page.get_by_role("button", name="Add the rule")).to_have_count(0)
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)
    snap(page, "tables-reviewer")


def test_finance_settles_near_duplicate_items_and_the_push_completes(
    browser, live_server, sandbox, demo_config, settings
):
    reply = press(settings, deal_id(8))  # "Initech spares": only look-alike items in Books
    page = browser.new_page()
    log_in(page, live_server.url, "finance-admin")
    page.goto(f"{live_server.url}/pushes/{reply['push_id']}/")
    expect(page.get_by_role("heading", name="A person must decide")).to_be_visible()
    snap(page, "push-needs-decision")
    first = page.locator("form.decision").nth(0)
    first.get_by_label("Books item “Doohickey”, SKU DHK-5OO").check()
    first.get_by_role("button", name="Decide").click()
    expect(page.get_by_text("Settle the remaining choices")).to_be_visible()
    page.locator("form.decision").nth(0).get_by_label("none of these: create a new Books item").check()
    page.locator("form.decision").nth(0).get_by_role("button", name="Decide").click()
    expect(page.get_by_text("is replayed and will create its invoice now")).to_be_visible()
    page.reload()
    expect(page.locator(".facts .state")).to_have_text("Pushed")
    snap(page, "push-decided")


def test_a_bulk_replay_shows_its_progress(browser, live_server, sandbox, demo_config, settings):
    for n in (1, 2):
        sandbox.crm_locked.add(deal_id(n))  # the deals cannot be stamped: the pushes fail
        press(settings, deal_id(n))
    sandbox.crm_locked.clear()
    page = browser.new_page()
    log_in(page, live_server.url, "reviewer")
    page.goto(f"{live_server.url}/?state=failed")
    page.get_by_role("button", name="Replay the 2 failed pushes in this list").click()
    expect(page.get_by_role("heading", name="Bulk replay")).to_be_visible()
    expect(page.get_by_text("2 of 2 — finished")).to_be_visible()
    snap(page, "bulk-replay")
    assert set(InvoicePush.objects.values_list("state", flat=True)) == {"pushed"}


def test_a_large_csv_upload_shows_its_progress_and_outcome(browser, live_server, demo_config, settings, tmp_path):
    rows = "".join(f"E{n:04d},Entity {n},{80000000 + n},false\n" for n in range(700))
    path = tmp_path / "entities.csv"
    path.write_text("code,name,books_org_id,require_review\n" + rows)
    page = browser.new_page()
    log_in(page, live_server.url, "finance-admin")
    page.goto(f"{live_server.url}/tables/")
    page.select_option("select[name=table]", "legal_entities")
    page.set_input_files("input[name=file]", str(path))
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("heading", name="CSV import")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Imported — 700 created, 0 updated, 0 unchanged.")
    snap(page, "csv-import")
