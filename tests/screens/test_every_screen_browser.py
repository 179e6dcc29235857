"""Every screen in real Chromium at 1280 px and at 390 px (a phone): axe-core finds no accessibility violation, no
page is wider than the screen, the first Tab lands on the skip link, and a screenshot of each is saved under
bench/results/screens/ (the README shows them). The data comes from the product's own flows against the
sandbox: deals pressed, an invoice paid, a duplicate audit, a webhook delivery that failed."""

from __future__ import annotations

import io

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from audits.models import DuplicateFlag
from integration.models import BulkReplay, CsvImport, InvoicePush, TaxRule, WebhookDelivery
from sandbox.demo import US_ORG, deal_id
from tests.factories import UserFactory
from tests.screens.conftest import snap

pytestmark = pytest.mark.django_db(transaction=True)

AXE = Axe()
# The first few elements sticking out of the screen (outside the tables' own scrolling regions), to say which.
WIDER_THAN_THE_SCREEN = """[...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > innerWidth + 1 && (!e.closest('.scroll') || e.matches('.scroll')))
  .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + e.textContent.slice(0, 40))"""
WIDTHS = (1280, 390)


def check(page, name: str) -> None:
    """The screen as it is now, at both widths: no axe-core violation, nothing wider than the viewport, the skip
    link first; screenshots `{name}-1280.png` and `{name}-390.png`."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_load_state("networkidle")
        results = AXE.run(page)
        assert results.violations_count == 0, f"{name} at {width} px:\n{results.generate_report()}"
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        wide = page.evaluate(WIDER_THAN_THE_SCREEN)
        assert overflow <= 0, f"{name} at {width} px is {overflow} px wider than the screen: {wide}"
        snap(page, f"{name}-{width}")
    page.set_viewport_size({"width": 1280, "height": 900})


@pytest.fixture
def product(press, hooks, sandbox, demo_config):
    """What a morning looks like: ten deals pressed (pushed, blocked, waiting for review, needing a decision),
    one invoice paid in Books and its webhook applied, a failed delivery, a duplicate audit, a CSV import."""
    for n in (1, 2, 4, 16, 6, 14, 15, 5, 8, 3):
        press(deal_id(n))
    paid = InvoicePush.objects.get(deal_id=deal_id(1))
    sandbox.books_demo_action(US_ORG, paid.invoice_id, "pay", {})
    hooks.flush_webhooks()
    WebhookDelivery.objects.create(
        organization_id=US_ORG, kind="invoice", entity_id=paid.invoice_id, state="failed", note="Books was down"
    )
    call_command("audit_duplicates", "--org", "US-LLC", stdout=io.StringIO(), stderr=io.StringIO())
    CsvImport.objects.create(table="tax_map", filename="tax_map.csv", content="", rows=6, state="done")
    failed = InvoicePush.objects.filter(state="failed").first()
    BulkReplay.objects.create(
        push_ids=[failed.pk],
        outcomes=[{"push_id": failed.pk, "deal": failed.deal_name, "outcome": "replayed"}],
        finished_at=timezone.now(),
    )
    return {state: InvoicePush.objects.filter(state=state).first() for state in InvoicePush.State.values}


def log_in(page, base: str, username: str, role: str | None) -> None:
    UserFactory(username=username, password="pw-for-tests", groups=[role] if role else [])
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{base}/accounts/login/")
    check(page, "login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "pw-for-tests")
    page.get_by_role("button", name="Log in").click()


def test_every_screen_reads_well_at_1280_and_390_px_with_no_accessibility_violation(browser, live_server, product):
    page = browser.new_page()
    base = live_server.url
    log_in(page, base, "fiona", "finance-admin")
    expect(page.get_by_role("heading", name="Invoice pushes")).to_be_visible()
    page.keyboard.press("Tab")  # the first Tab lands on the skip link, which takes the focus to the content
    assert page.evaluate("document.activeElement.outerHTML").startswith('<a class="skip-link"')
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "content"
    # Money reads like money: a currency symbol, separators, right-aligned tabular figures.
    amount = page.locator("#push-rows td.num").first
    assert amount.evaluate("e => getComputedStyle(e).textAlign") == "right"
    assert "tabular-nums" in amount.evaluate("e => getComputedStyle(e).fontVariantNumeric")
    # Problems find people: the failed delivery is on the strip, with where to fix it.
    strip = page.get_by_role("region", name="Needs attention")
    expect(strip).to_contain_text("1 webhook delivery from Books failed.")
    expect(strip.get_by_role("link", name="See and retry them")).to_have_attribute("href", "/deliveries/?state=failed")
    check(page, "dashboard")

    pushed, pending, failed = product["pushed"], product["pending_review"], product["failed"]
    screens = {
        "push-paid": f"/pushes/{InvoicePush.objects.get(deal_id=deal_id(1)).pk}/",
        "push-pushed": f"/pushes/{pushed.pk}/",
        "push-pending-review": f"/pushes/{pending.pk}/",
        "push-needs-decision": f"/pushes/{failed.pk}/",
        "push-blocked": f"/pushes/{product['blocked'].pk}/",
        "push-compare": f"/pushes/{failed.pk}/compare/",
        "deliveries": "/deliveries/",
        "activity": "/activity/",
        "tables": "/tables/?legal_entity=US-LLC&country=US&state=New+York",
        "tax-rule-edit": f"/tables/tax-rules/{TaxRule.objects.order_by('pk').first().pk}/",
        "entity-edit": "/tables/entities/US-LLC/edit/",
        "entity-add": "/tables/entities/add/",
        "csv-import": f"/tables/imports/{CsvImport.objects.get().pk}/",
        "duplicates": "/audits/",
        "setup": "/setup/",
        "people": "/people/",
        "bulk-replay": f"/bulk-replays/{BulkReplay.objects.get().pk}/",
        "not-found": "/no-such-page/",
    }
    for name, url in screens.items():
        page.goto(base + url)
        check(page, name)

    # The tax map offers Books' own authorities, and the tester names the tax each rate gets.
    page.goto(base + screens["tables"])
    assert page.locator('#books-authorities option[value="NYS_DTF"]').count() == 1
    expect(page.get_by_role("table", name="The tax each rate gets")).to_contain_text("8.875 %")

    # Replacing the tax map from a CSV: the preview first (what is added, changed, removed), then applied as shown.
    page.goto(base + "/tables/")
    page.select_option("select[name=table]", "tax_map")
    page.set_input_files(
        "input[name=file]",
        files=[{"name": "tax_map.csv", "mimeType": "text/csv", "buffer": REPLACEMENT.encode()}],
    )
    page.get_by_label("Replace the whole table").check()
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("heading", name="Replace the tax map with this file?")).to_be_visible()
    check(page, "csv-replace-preview")
    page.get_by_role("button", name="Apply: make the table this file").click()
    expect(page.get_by_text("The table is now the file")).to_be_visible()
    assert TaxRule.objects.count() == 2

    # The paid push names its payment by number and its mode in words, and links to CRM and Books.
    page.goto(base + screens["push-paid"])
    expect(page.get_by_role("link", name="in CRM").first).to_have_attribute("href", f"{product_crm(live_server)}")
    payments = page.locator("table", has_text="Mode")
    expect(payments).to_contain_text("Bank transfer")
    # A near-duplicate option marks and names the letter O where CRM's SKU has zeros.
    page.goto(base + screens["push-needs-decision"])
    expect(page.locator("mark.diff").first).to_be_visible()
    # Long duplicate groups are collapsed after the first three.
    page.goto(base + "/audits/")
    groups = page.locator("details.flag")
    assert groups.count() == DuplicateFlag.objects.filter(state="open").count() > 3
    assert groups.nth(3).get_attribute("open") is None


REPLACEMENT = "legal_entity,country,state,tax_authority,tax_treatment\nUS-LLC,US,CA,BOE_CA,\nUK-LTD,GB,,,uk\n"


def product_crm(live_server) -> str:
    from django.conf import settings

    return f"{settings.ZOHO_CRM_WEB_URL}/crm/tab/Potentials/{deal_id(1)}"


def test_a_user_without_a_role_sees_a_page_that_says_so_at_both_widths(browser, live_server, db):
    page = browser.new_page()
    log_in(page, live_server.url, "newcomer", None)
    expect(page.get_by_text("no role yet")).to_be_visible()
    check(page, "no-role")


def test_focus_moves_to_the_result_after_an_htmx_action(browser, live_server, product):
    page = browser.new_page()
    log_in(page, live_server.url, "rita", "reviewer")
    page.get_by_role("navigation", name="Filter by state").get_by_role("link", name="Failed").click()
    expect(page.locator("#push-table")).to_be_focused()
    assert page.url.endswith("?state=failed")
