from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from integration.models import InvoicePush
from tests.factories import InvoicePushFactory, LegalEntityFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_the_dashboard_needs_a_login(client):
    resp = client.get(reverse("integration:dashboard"))
    assert resp.status_code == 302 and resp["Location"].startswith(reverse("login"))


def test_a_reviewer_sees_pushes_and_the_configuration_tables(client):
    client.force_login(UserFactory(groups=["reviewer"]))
    LegalEntityFactory(code="US-LLC", name="Acme Widgets LLC")
    InvoicePushFactory(
        deal_name="Initech rollout", state=InvoicePush.State.BLOCKED, reasons=["No tax authority for US/TX"]
    )
    html = client.get(reverse("integration:dashboard")).content.decode()
    assert "Initech rollout" in html and "No tax authority for US/TX" in html
    assert 'src="/static/vendor/htmx-2.min.js"' in html
    assert "Acme Widgets LLC" in client.get(reverse("integration:tables")).content.decode()


def test_htmx_requests_get_only_the_table(client):
    client.force_login(UserFactory(groups=["reviewer"]))
    InvoicePushFactory(deal_name="Queued one", state=InvoicePush.State.QUEUED)
    InvoicePushFactory(deal_name="Failed one", state=InvoicePush.State.FAILED)
    resp = client.get(reverse("integration:dashboard"), {"state": "failed"}, headers={"HX-Request": "true"})
    html = resp.content.decode()
    assert html.lstrip().startswith('<div id="push-table">') and "<html" not in html
    assert "Failed one" in html and "Queued one" not in html


def test_a_revoked_zoho_token_shows_on_the_dashboard(client, sandbox):
    from integration.zoho.auth import TokenManager
    from integration.zoho.errors import ZohoTokenRevoked

    sandbox.revoke_refresh_token("sandbox-refresh-token")
    with pytest.raises(ZohoTokenRevoked):
        TokenManager.from_settings().get()
    client.force_login(UserFactory(groups=["reviewer"]))
    assert "Zoho rejected the refresh token" in client.get(reverse("integration:dashboard")).content.decode()


def test_a_reviewer_approves_or_rejects_a_push_on_its_page(client, press, sandbox, django_capture_on_commit_callbacks):
    from sandbox.demo import UK_ORG, deal_id

    _, reply = press(deal_id(5))  # the UK entity needs review
    url = f"/pushes/{reply['push_id']}/"
    client.force_login(UserFactory())  # no role at all: no page, no action
    assert client.get(url).status_code == 403 and client.post(url + "approve/").status_code == 403
    client.force_login(UserFactory(groups=["reviewer"]))
    page = client.get(url).content.decode()
    assert "Approve and create the invoice" in page and "Reject" in page
    assert client.get(url + "approve/").status_code == 405
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(url + "approve/", follow=True)
    assert "Approved: push" in done.content.decode()
    assert InvoicePush.objects.get(pk=reply["push_id"]).state == "pushed"
    assert len([i for i in sandbox.orgs[UK_ORG].invoices.values() if i["reference_number"] == deal_id(5)]) == 1
    again = client.post(url + "reject/", {"reason": "too late"}, follow=True).content.decode()
    assert "is pushed, not pending review" in again  # nothing changes


def test_a_reviewer_replays_a_failed_push_from_its_page(client, press, sandbox, django_capture_on_commit_callbacks):
    from sandbox.demo import deal_id

    sandbox.crm_locked.add(deal_id(2))  # the invoice is created but the deal cannot be stamped: failed
    _, reply = press(deal_id(2))
    push = InvoicePush.objects.get(pk=reply["push_id"])
    assert push.state == "failed"
    url = f"/pushes/{push.pk}/"
    client.force_login(UserFactory(groups=["reviewer"]))
    assert "Replay this push" in client.get(url).content.decode()
    sandbox.crm_locked.clear()
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(url + "replay/", follow=True).content.decode()
    assert "Replayed: push" in page
    push.refresh_from_db()
    assert push.state == "pushed" and sandbox.crm["Deals"][deal_id(2)]["Invoice_Id"] == push.invoice_id
    assert "is pushed, not failed" in client.post(url + "replay/", follow=True).content.decode()


def test_finance_settles_near_duplicates_on_the_push_page_and_the_push_completes(
    client, press, sandbox, django_capture_on_commit_callbacks
):
    from sandbox.demo import US_ORG, deal_id

    _, reply = press(deal_id(8))  # "Initech spares": DHK-500 and THG-600 have only look-alikes in Books
    push = InvoicePush.objects.get(pk=reply["push_id"])
    assert push.state == "failed"
    assert [(d["kind"], d["sku"], d["allow_new"]) for d in push.plan["decisions"]] == [
        ("item", "DHK-500", True),
        ("item", "THG-600", True),
    ]
    url = f"/pushes/{push.pk}/"
    client.force_login(UserFactory(groups=["reviewer"]))
    assert "A finance administrator must decide" in client.get(url).content.decode()
    assert client.post(url + "decide/", {"kind": "item", "subject": "x", "choice": "new"}).status_code == 403

    client.force_login(UserFactory(groups=["finance-admin"]))
    page = client.get(url).content.decode()
    assert 'Product “Doohickey” (CRM SKU <span class="sku">DHK-500</span>) is…' in page
    assert "none of these: create a new Books item" in page
    # The option shows where Books' SKU differs, and names it: the font draws DHK-5OO and DHK-500 alike.
    assert 'DHK-5<mark class="diff" title="Latin capital letter O">O</mark>' in page
    assert "Latin capital letter O where the other has digit zero (2 times)" in page
    assert 'title="Cyrillic capital letter te">Т</mark>' in page  # a Cyrillic letter is named here too
    doohickey = push.plan["decisions"][0]
    first = client.post(
        url + "decide/",
        {"kind": "item", "subject": doohickey["product_id"], "choice": doohickey["candidates"][0]["id"]},
        follow=True,
    ).content.decode()
    assert "Settle the remaining choices" in first
    thingamajig = push.plan["decisions"][1]
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(
            url + "decide/", {"kind": "item", "subject": thingamajig["product_id"], "choice": "new"}, follow=True
        ).content.decode()
    assert f"push #{push.pk} is replayed and will create its invoice now" in done
    push.refresh_from_db()
    assert (push.state == "pushed" and "decisions" not in push.plan) or push.plan["decisions"] == []
    [invoice] = [i for i in sandbox.orgs[US_ORG].invoices.values() if i["reference_number"] == deal_id(8)]
    assert invoice["line_items"][0]["item_id"] == doohickey["candidates"][0]["id"]
    bad = client.post(url + "decide/", {"kind": "item", "subject": "x", "choice": "../1"}, follow=True)
    assert "Pick one of the choices" in bad.content.decode()


def test_the_home_numbers_search_filters_and_pages(client, django_assert_max_num_queries):
    from integration.selectors import PAGE_SIZE

    us, uk = LegalEntityFactory(code="US-LLC"), LegalEntityFactory(code="UK-LTD")
    for n in range(PAGE_SIZE + 5):
        InvoicePushFactory(deal_name=f"Deal {n}", legal_entity=us, state="blocked")
    InvoicePushFactory(deal_name="Globex annual order", legal_entity=uk, state="pending_review")
    decided = InvoicePushFactory(deal_name="Initech spares", legal_entity=us, state="failed")
    decided.plan = {"decisions": [{"kind": "item", "product_id": "1", "candidates": []}]}
    decided.save()
    client.force_login(UserFactory(groups=["reviewer"]))
    client.get(reverse("integration:dashboard"))  # the banners are cached for a few seconds: count steady state
    with django_assert_max_num_queries(10):
        page = client.get(reverse("integration:dashboard")).content.decode()
    assert "<b>1</b> waiting for review" in page and "<b>1</b> needing a decision" in page
    assert "US-LLC: <b>0</b> of 1,000 Books calls today, 1,000 left" in page  # the day's Books budget, per entity
    assert "Older pushes →" in page and "Deal 0<" not in page  # the first page holds the newest 50
    newest = list(InvoicePush.objects.order_by("-id"))
    last_shown = newest[PAGE_SIZE - 1]  # the last row of the first page: the older page starts after it
    older = client.get(reverse("integration:dashboard"), {"before": last_shown.pk}).content.decode()
    assert "Deal 0<" in older and f"{newest[PAGE_SIZE].deal_name}<" in older
    assert f"/pushes/{last_shown.pk}/" not in older  # never shown twice
    found = client.get(reverse("integration:dashboard"), {"q": "globex"}).content.decode()
    assert "Globex annual order" in found and "Deal 1<" not in found
    only_uk = client.get(reverse("integration:dashboard"), {"entity": "UK-LTD"}).content.decode()
    assert "Globex annual order" in only_uk and "Initech spares" not in only_uk
    decisions = client.get(reverse("integration:dashboard"), {"decision": "on"}).content.decode()
    assert "Initech spares" in decisions and "Globex annual order" not in decisions


def test_the_dashboard_shows_each_entitys_books_calls_today(client):
    from integration.ledger import Work, count, working_on

    entity = LegalEntityFactory(code="UK-LTD", books_daily_cap=5000)
    for work, calls in ((Work.PUSH, 3), (Work.AUDIT, 2)):
        with working_on(work):
            for _ in range(calls):
                count(entity.books_org_id)
    client.force_login(UserFactory(groups=["reviewer"]))
    page = client.get(reverse("integration:dashboard")).content.decode()
    assert "UK-LTD: <b>5</b> of 5,000 Books calls today, 4,995 left" in page
    assert "(duplicate audits 2, pushes 3)" in page


def test_rows_in_flight_poll_until_nothing_moves(client):
    push = InvoicePushFactory(state="queued")
    client.force_login(UserFactory(groups=["reviewer"]))
    moving = client.get(reverse("integration:dashboard"), headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="every 3s"' in moving
    InvoicePush.objects.filter(pk=push.pk).update(state="blocked")
    still = client.get(reverse("integration:dashboard"), headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="every 3s"' not in still  # nothing in flight: the poll stops (new pushes still arrive)


def bulk_form_of(client, page: str) -> str:
    """The bulk action's form, as htmx loads it into the dashboard (the page names the address to load)."""
    import html
    import re

    url = re.search(r'<div id="bulk-form" hx-get="([^"]+)"', page)
    assert url, "the dashboard offers no bulk action here"
    return client.get(html.unescape(url.group(1)), headers={"HX-Request": "true"}).content.decode()


def rendered_form(page: str, action: str) -> dict[str, str]:
    """The fields of the form posting to `action`, exactly as the page renders them."""
    from html.parser import HTMLParser

    fields: dict[str, str] = {}

    class Form(HTMLParser):
        inside = False

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if tag == "form":
                self.inside = attrs.get("action") == action
            elif tag == "input" and self.inside and attrs.get("name"):
                fields[attrs["name"]] = attrs.get("value") or ""

        def handle_endtag(self, tag):
            if tag == "form":
                self.inside = False

    Form().feed(page)
    assert fields, f"no form posting to {action}"
    return fields


def test_a_reviewer_replays_exactly_the_failed_pushes_of_the_filtered_list(
    client, press, sandbox, django_capture_on_commit_callbacks
):
    from sandbox.demo import deal_id

    for n in (1, 2, 4, 6):
        sandbox.crm_locked.add(deal_id(n))  # invoices created, deals cannot be stamped: failed
    pushed = {n: press(deal_id(n))[1]["push_id"] for n in (1, 2, 4, 6)}
    assert set(InvoicePush.objects.filter(pk__in=pushed.values()).values_list("state", flat=True)) == {"failed"}
    InvoicePush.objects.filter(pk=pushed[4]).update(created_at=timezone.now() - timedelta(days=3))  # out of range
    sandbox.crm_locked.clear()
    sandbox.crm_locked.add(deal_id(2))  # this one fails again
    client.force_login(UserFactory(groups=["reviewer"]))
    today = timezone.now().date().isoformat()
    page = client.get(f"/?state=failed&entity=US-LLC&since={today}").content.decode()
    bulk = bulk_form_of(client, page)
    assert "Replay the 2 failed pushes in this list" in bulk and "Replay the 2 failed pushes in this list?" in bulk
    form = rendered_form(bulk, "/pushes/replay-failed/")
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post("/pushes/replay-failed/", form)
    assert started.status_code == 302 and started["Location"].startswith("/bulk-replays/")
    page = client.get(started["Location"]).content.decode()
    assert '<progress max="2" value="2">' in page and "2 of 2 — finished" in page and "hx-trigger" not in page
    states = dict(InvoicePush.objects.filter(pk__in=pushed.values()).values_list("pk", "state"))
    assert states == {pushed[1]: "pushed", pushed[2]: "failed", pushed[4]: "failed", pushed[6]: "failed"}
    assert "<td>replayed</td><td>Failed — " in page  # replayed, and failed again: shown as it is
    partial = client.get(started["Location"], headers={"HX-Request": "true"}).content.decode()
    assert partial.lstrip().startswith('<div id="progress"')
    client.force_login(UserFactory())
    assert client.post("/pushes/replay-failed/", form).status_code == 403


def test_bulk_approval_leaves_a_reviewers_own_requests_to_another(
    client, press, sandbox, django_capture_on_commit_callbacks
):
    from sandbox.demo import deal_id

    rita = UserFactory(username="rita", email="rita@acme.example", groups=["reviewer"])
    mine = press(deal_id(5), user="rita@acme.example")[1]["push_id"]
    InvoicePush.objects.filter(pk=mine).update(state="failed")  # let a second UK push exist for the deal below
    theirs = InvoicePushFactory(deal_id="5725767000000499999", state="pending_review", requested_by="ava@x.example")
    InvoicePush.objects.filter(pk=mine).update(state="pending_review")
    client.force_login(rita)
    page = bulk_form_of(client, client.get("/?state=pending_review").content.decode())
    assert "Approve the 2 pushes waiting for review in this list" in page
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post("/pushes/replay-failed/", rendered_form(page, "/pushes/replay-failed/"))
    page = client.get(started["Location"]).content.decode()
    assert "not approved: You requested push" in page
    assert InvoicePush.objects.get(pk=mine).state == "pending_review"
    assert InvoicePush.objects.get(pk=theirs.pk).state != "pending_review"


def test_a_bulk_replay_carries_on_where_a_stopped_worker_left_it(press, sandbox):
    from integration.models import BulkReplay
    from integration.services.bulk import bulk_replay_run
    from sandbox.demo import deal_id

    sandbox.crm_locked.update({deal_id(1), deal_id(2)})
    ids = [press(deal_id(n))[1]["push_id"] for n in (1, 2)]
    sandbox.crm_locked.clear()
    bulk = BulkReplay.objects.create(push_ids=ids, outcomes=[{"push_id": ids[0], "deal": "x", "outcome": "replayed"}])
    bulk_replay_run(bulk_id=bulk.pk)
    bulk.refresh_from_db()
    assert [o["push_id"] for o in bulk.outcomes] == ids and bulk.finished_at is not None
    assert InvoicePush.objects.get(pk=ids[0]).state == "failed"  # the first was marked done: not touched again


def test_the_push_page_shows_the_plan_as_an_invoice_and_what_a_replay_would_see(client, press, sandbox):
    from sandbox.demo import deal_id

    sandbox.crm_locked.add(deal_id(2))  # fails at the stamp: the plan is complete
    _, reply = press(deal_id(2))
    client.force_login(UserFactory(groups=["reviewer"]))
    url = f"/pushes/{reply['push_id']}/"
    page = client.get(url).content.decode()
    # Books created the invoice (the stamp failed after): its own totals, each line's tax rounded half up.
    assert "The invoice (totals as Books created it)" in page and "To <b>Globex Corporation</b>" in page
    assert 'NY Sales Tax (8.875 %): <span class="num">$93.19</span>' in page and "<b>$1,250.98</b>" in page
    assert "Tax authority NYS_DTF." in page and "Compare with today" in page
    same = client.get(url + "compare/").content.decode()
    assert "Nothing changed since the push was planned" in same
    sandbox.crm["Deals"][deal_id(2)]["Products"][0]["Quantity"] = 5
    sandbox.crm["Accounts"]["5725767000000200002"]["Billing_State"] = "TX"
    changed = client.get(url + "compare/").content.decode()
    assert "With today's data the deal would be blocked" in changed and "No tax authority for US/TX" in changed
    sandbox.crm["Accounts"]["5725767000000200002"]["Billing_State"] = "NY"
    changed = client.get(url + "compare/").content.decode()
    assert "Gadget: quantity 3 → 5" in changed


def test_the_push_page_says_what_a_problem_means_and_what_happens_next(client, press, sandbox, settings, monkeypatch):
    from integration.services import retry
    from sandbox.demo import deal_id

    settings.PUSH_RETRY_BASE_SECONDS = settings.PUSH_RETRY_MAX_SECONDS = 60
    monkeypatch.setattr(retry, "EAGER_RETRY_BUDGET_SECONDS", 0)  # no in-process retry: the push waits queued
    sandbox.add_fault("error", method="POST", path="/invoices")
    _, reply = press(deal_id(2))
    push = InvoicePush.objects.get(pk=reply["push_id"])
    assert push.state == "queued"
    client.force_login(UserFactory(groups=["reviewer"]))
    page = client.get(f"/pushes/{push.pk}/").content.decode()
    assert "Books had an internal error on its side; it usually passes." in page
    assert f"It is tried again by itself at {push.next_attempt_at:%H:%M:%S} UTC (attempt 2)." in page


def test_repeated_blocked_presses_show_as_one_row_and_payment_and_date_filters(client):
    from datetime import date

    from integration.models import InvoiceSync

    for _ in range(4):
        InvoicePushFactory(deal_id="5725767000000400003", deal_name="Umbrella Texas depot", state="blocked")
    paid = InvoicePushFactory(deal_name="Paid deal", state="pushed", invoice_id="4601", invoice_number="INV-00001")
    InvoiceSync.objects.create(
        organization_id=paid.organization_id, invoice_id="4601", push=paid, payment_status="Paid"
    )
    client.force_login(UserFactory(groups=["reviewer"]))
    page = client.get(reverse("integration:dashboard")).content.decode()
    assert page.count(">Umbrella Texas depot</a>") == 1 and "(pressed 4 times)" in page
    # The Blocked chip counts the rows its list shows (one per deal), not the four presses.
    assert 'Blocked <span class="count">1</span>' in page
    only_paid = client.get(reverse("integration:dashboard"), {"payment": "Paid"}).content.decode()
    assert "Paid deal" in only_paid and "Umbrella" not in only_paid
    today = date.today().isoformat()
    assert (
        "Paid deal" in client.get(reverse("integration:dashboard"), {"since": today, "until": today}).content.decode()
    )
    assert "Paid deal" not in client.get(reverse("integration:dashboard"), {"until": "2000-01-01"}).content.decode()


def test_the_payment_filter_offers_every_payment_status_written_off_included(client):
    from integration.models import InvoiceSync

    for n, status in enumerate(("Paid", "Written Off")):
        push = InvoicePushFactory(deal_name=f"{status} deal", state="pushed", invoice_id=f"470{n}")
        InvoiceSync.objects.create(
            organization_id=push.organization_id, invoice_id=push.invoice_id, push=push, payment_status=status
        )
    client.force_login(UserFactory(groups=["reviewer"]))
    page = client.get(reverse("integration:dashboard"), {"payment": "Written Off"}).content.decode()
    assert '<option value="Written Off" selected>' in page.replace("  ", " ")
    assert "Written Off deal" in page and "Paid deal" not in page


def test_the_customer_search_finds_pushes_by_any_part_of_the_customers_name(client):
    """On PostgreSQL the search looks among the distinct customer names (kept by a trigger on every write of a
    push's customer name), then takes the pushes by exact name."""
    from integration.models import CustomerName

    InvoicePushFactory(deal_name="Spares", customer_name="Initech, LLC")
    renamed = InvoicePushFactory(deal_name="Rollout", customer_name="Globex Corporation")
    InvoicePush.objects.filter(pk=renamed.pk).update(customer_name="Globex Holdings")  # the Account was renamed
    assert set(CustomerName.objects.values_list("name", flat=True)) >= {"Initech, LLC", "Globex Holdings"}
    client.force_login(UserFactory(groups=["reviewer"]))
    found = client.get(reverse("integration:dashboard"), {"q": "nitech"}).content.decode()
    assert "Spares<" in found and "Rollout<" not in found
    holdings = client.get(reverse("integration:dashboard"), {"q": "holdings"}).content.decode()
    assert "Rollout<" in holdings and "Spares<" not in holdings


def test_an_empty_list_says_which_filter_emptied_it(client):
    client.force_login(UserFactory(groups=["reviewer"]))
    nothing = client.get(reverse("integration:dashboard")).content.decode()
    assert "No pushes yet. They appear when someone clicks" in nothing
    InvoicePushFactory(deal_name="Initech spares", state="pushed", invoice_id="460000000000001")
    searched = client.get(reverse("integration:dashboard"), {"q": "globex"}).content.decode()
    assert "No push matches search “globex”." in searched and "Show every push" in searched
    assert "No pushes yet" not in searched
    failed = client.get(reverse("integration:dashboard"), {"state": "failed", "entity": "US-LLC"}).content.decode()
    assert "No push matches state failed" in failed


def test_an_open_list_gets_new_pushes_without_a_reload(client):
    old = InvoicePushFactory(deal_name="Older deal", state="blocked")
    client.force_login(UserFactory(groups=["reviewer"]))
    page = client.get("/?entity=").content.decode()
    assert f'hx-get="/pushes/news/?entity=&amp;after={old.pk}"' in page and 'hx-trigger="every 5s"' in page
    assert client.get("/pushes/news/").status_code == 400  # the poll always says what it has
    nothing = client.get(f"/pushes/news/?after={old.pk}").content.decode()
    assert "<tr>" not in nothing and f"after={old.pk}" in nothing  # nothing new: the poller as it was
    new = InvoicePushFactory(deal_name="Fresh deal", state="queued")
    news = client.get(f"/pushes/news/?after={old.pk}").content.decode()
    assert '<tbody class="news">' in news and "Fresh deal" in news and "Older deal" not in news
    assert f"after={new.pk}" in news  # the next poll asks for what came after it
    filtered = client.get(f"/pushes/news/?after={old.pk}&state=blocked").content.decode()
    assert "Fresh deal" not in filtered  # the list's filters hold for what arrives
    paged = client.get(f"/?before={new.pk}").content.decode()
    assert "/pushes/news/" not in paged  # an older page does not grow at the top
