"""Finance runs a duplicate audit in the browser: the progress bar moves while a real worker reads Books (over
HTTP, slowed so there is something to watch), the findings appear when it finishes, one group is resolved and
another dismissed. Screenshots go to bench/results/screens/."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from audits.models import DuplicateFlag
from sandbox.demo import US_ORG
from tests.screens.conftest import log_in, opened, snap

pytestmark = pytest.mark.django_db(transaction=True)


def test_finance_runs_an_audit_watches_its_progress_and_settles_two_groups(browser, stack, http_sandbox):
    stack.start_worker()
    http_sandbox.add_fault("slow", method="GET", path="/items", seconds=2, count=2)  # two pages: 4 s to watch
    page = browser.new_page()
    log_in(page, stack.web_url, "finance-admin", username="fiona")

    page.get_by_role("link", name="Duplicates").click()
    expect(page.get_by_text("never audited").first).to_be_visible()
    page.select_option("select[name=entity] >> nth=0", "US-LLC")
    page.get_by_role("button", name="Run an audit now").click()
    expect(page.get_by_text("Audit started for US-LLC")).to_be_visible()
    bar = page.get_by_role("progressbar", name="Audit of US-LLC")
    expect(bar).to_be_visible()
    snap(page, "audit-running")
    first = bar.get_attribute("value")
    expect(bar).not_to_have_attribute("value", first, timeout=15_000)  # it moves by itself, page by page
    assert int(bar.get_attribute("value")) > int(first)

    # When the run finishes the page reloads by itself with what was found.
    group = page.locator(".flag", has_text="Hinge Bracket (old)")
    expect(group).to_be_visible(timeout=30_000)
    expect(page.get_by_role("progressbar")).to_have_count(0)
    snap(page, "audit-findings")
    opened(group).get_by_label("keep “Hinge Bracket”").check()
    group.get_by_role("button", name="Keep the chosen one, mark the others inactive").click()
    expect(page.get_by_text("Resolved group #")).to_be_visible()
    expect(page.locator(".flag", has_text="Hinge Bracket (old)")).to_have_count(0)  # no longer open

    other = page.locator(".flag", has_text="Pendant Publishing")
    opened(other).get_by_role("button", name="Not duplicates").click()
    expect(page.get_by_text("dismissed as not duplicates")).to_be_visible()
    snap(page, "audit-settled")

    items = {i["name"]: i["status"] for i in http_sandbox.orgs[US_ORG].items.values()}
    assert (items["Hinge Bracket"], items["Hinge Bracket (old)"]) == ("active", "inactive")
    decided = dict(DuplicateFlag.objects.exclude(state="open").values_list("state", "decided_by__username"))
    assert decided == {"resolved": "fiona", "dismissed": "fiona"}

    page.select_option("select[name=state]", "resolved")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_text("Resolved by fiona")).to_be_visible()
    snap(page, "audit-resolved")


def test_a_group_books_left_half_done_says_so_and_finance_puts_it_back(browser, live_server, sandbox, demo_config):
    from django.core.management import call_command

    keep = next(i["item_id"] for i in sandbox.orgs[US_ORG].items.values() if i["name"] == "Hinge Bracket")
    sandbox.orgs[US_ORG].items[keep]["status"] = "inactive"  # resolving must reactivate it first
    call_command("audit_duplicates", "--org", "US-LLC", stdout=__import__("io").StringIO())
    flag = next(f for f in DuplicateFlag.objects.filter(state="open") if "Hinge Bracket (old)" in str(f.members))
    sandbox.add_fault("error", method="POST", path="/inactive", count=2, message="Item is in use")
    page = browser.new_page()
    log_in(page, live_server.url, "finance-admin", username="fiona")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/audits/?state=open#group-{flag.pk}")
    group = page.locator(f"#group-{flag.pk}")
    opened(group).get_by_label("keep “Hinge Bracket”").check()
    group.get_by_role("button", name="Keep the chosen one, mark the others inactive").click()
    expect(page.get_by_text("the group needs attention")).to_be_visible()
    page.goto(f"{live_server.url}/audits/?state=stuck")
    group = page.locator(f"#group-{flag.pk}")
    expect(group.get_by_role("alert")).to_contain_text("Books then refused to put back “Hinge Bracket”")
    expect(group.locator("tr", has_text="Books status").locator("td")).to_have_text(["active", "active"])  # Books now
    snap(page, "audit-needs-attention")
    group.get_by_role("button", name="Put the records back").click()
    expect(page.get_by_text(f"Put back: group #{flag.pk}")).to_be_visible()
    assert DuplicateFlag.objects.get(pk=flag.pk).state == "open"
    assert sandbox.orgs[US_ORG].items[keep]["status"] == "inactive"
