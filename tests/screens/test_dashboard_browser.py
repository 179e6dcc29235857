"""The screens in a real browser: Debian's Chromium driven by Playwright against a live server."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from integration.models import InvoicePush, InvoiceSync
from tests.factories import InvoicePushFactory, LegalEntityFactory, UserFactory
from tests.screens.conftest import snap

pytestmark = pytest.mark.django_db(transaction=True)


def log_in(page, live_server) -> None:
    UserFactory(username="fin", password="pw-for-tests", groups=["finance-admin"])
    page.goto(f"{live_server.url}/")
    page.fill("input[name=username]", "fin")
    page.fill("input[name=password]", "pw-for-tests")
    page.click("button[type=submit]")
    expect(page.get_by_role("heading", name="Invoice pushes")).to_be_visible()


def test_the_state_filter_swaps_the_table_in_place(browser, live_server):
    entity = LegalEntityFactory(code="US-LLC")
    InvoicePushFactory(
        deal_name="Blocked deal",
        legal_entity=entity,
        state=InvoicePush.State.BLOCKED,
        reasons=["No tax authority for US/TX in entity US-LLC."],
    )
    InvoicePushFactory(
        deal_name="Failed deal",
        legal_entity=entity,
        state=InvoicePush.State.FAILED,
        error="Product “Doohickey” (SKU DHK-500) has no exact match",
    )
    page = browser.new_page()
    log_in(page, live_server)
    expect(page.get_by_text("No tax authority for US/TX in entity US-LLC.")).to_be_visible()
    page.evaluate("window.marker = 'same page'")  # survives only if htmx swaps instead of navigating
    page.get_by_role("link", name="Failed 1").click()
    expect(page.get_by_text("Blocked deal")).to_be_hidden()
    expect(page.get_by_text("Failed deal")).to_be_visible()
    assert page.evaluate("window.marker") == "same page"
    assert page.url.endswith("?state=failed")
    snap(page, "dashboard-failed")


def test_the_push_page_shows_money_read_only(browser, live_server):
    push = InvoicePushFactory(
        deal_name="Globex annual order",
        state=InvoicePush.State.PUSHED,
        invoice_id="4601",
        invoice_number="INV-00002",
        invoice_url="https://books.example/inv/4601",
    )
    InvoiceSync.objects.create(
        organization_id=push.organization_id,
        invoice_id="4601",
        push=push,
        payment_status="Paid",
        credited_amount="120.00",
        refunded_amount="45.00",
        payments=[{"payment_id": "77", "amount": "1250.98", "date": "2026-11-25", "mode": "banktransfer"}],
        creditnotes=[
            {
                "creditnote_id": "88",
                "number": "CN-00001",
                "status": "closed",
                "total": "120.00",
                "refunded": "45.00",
                "date": "2026-11-25",
            }
        ],
    )
    page = browser.new_page()
    log_in(page, live_server)
    page.get_by_role("link", name=str(push.pk), exact=True).click()
    expect(page.get_by_role("heading", name=f"Push #{push.pk}: Globex annual order")).to_be_visible()
    expect(page.get_by_text("CN-00001")).to_be_visible()
    expect(page.get_by_text("1,250.98")).to_be_visible()  # an amount as money, in its decimals
    money = page.get_by_role("region", name="Money (from Books, read-only)")
    expect(money.get_by_text("CN-00001")).to_be_visible()
    # Credit notes and refunds originate in Books: nothing in this section creates or edits money.
    expect(money.locator("form, button, input, select, textarea, [hx-post], [hx-put], [hx-delete]")).to_have_count(0)
