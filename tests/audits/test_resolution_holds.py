"""Finance's decisions on duplicate groups hold (audits/resolution.py): a decision is claimed before Books is
written, so two at once cannot both act; a refusal half-way puts back what was done, and what cannot be put back
is kept on the group; an answer lost on the way is re-read before anything is said; undo leaves alone a record
that newer links use. Two actors run on PostgreSQL; Books is the sandbox with its fault switches."""

from __future__ import annotations

import threading
import time

import pytest

from audits.models import DuplicateFlag, FlagEvent
from audits.resolution import DecisionError, flag_dismiss, flag_put_back, flag_resolve, flag_undo
from integration.models import ItemLink
from sandbox.demo import US_ORG, product_id
from tests.audits.test_audit_run import audit, flag_of, member_id
from tests.conftest import at_once
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def group(sandbox, demo_config):
    audit("--org", "US-LLC")
    flag = flag_of("Hinge Bracket")
    return flag, member_id(flag, "Hinge Bracket"), member_id(flag, "Hinge Bracket (old)")


def test_a_dismiss_landing_while_a_resolve_writes_to_books_is_refused(sandbox, group):
    flag, keep, drop = group
    ItemLink.objects.create(organization_id=US_ORG, crm_product_id=product_id(1), books_item_id=drop)
    sandbox.add_fault("slow", method="POST", path="/inactive", seconds=1.5)
    outcome = {}

    def resolve():
        try:
            outcome["resolve"] = flag_resolve(flag_id=flag.pk, survivor_id=keep, user=UserFactory(username="ann"))
        finally:
            from django.db import connection

            connection.close()

    worker = threading.Thread(target=resolve)
    worker.start()
    deadline = time.monotonic() + 10
    while DuplicateFlag.objects.get(pk=flag.pk).state != "resolving":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    with pytest.raises(DecisionError, match="ann is deciding about this group right now"):
        flag_dismiss(flag_id=flag.pk, user=UserFactory(username="bob"))
    with pytest.raises(DecisionError, match="deciding about this group right now"):
        flag_undo(flag_id=flag.pk, user=UserFactory(username="cy"))
    worker.join(20)
    flag.refresh_from_db()
    assert flag.state == "resolved" and flag.survivor_id == keep
    assert sandbox.orgs[US_ORG].items[drop]["status"] == "inactive"
    assert ItemLink.objects.get(crm_product_id=product_id(1)).books_item_id == keep  # the links moved
    assert not FlagEvent.objects.filter(flag=flag, action="dismissed").exists()


def test_two_decisions_at_once_one_wins_and_the_other_is_told(sandbox, group):
    flag, keep, drop = group

    def decide(n: int):
        try:
            if n % 2:
                return flag_dismiss(flag_id=flag.pk, user=UserFactory(username=f"u{n}")).state
            return flag_resolve(flag_id=flag.pk, survivor_id=keep, user=UserFactory(username=f"u{n}")).state
        except DecisionError as exc:
            return f"refused: {exc}"

    outcomes = at_once(4, lambda: decide(next(counter)))
    winners = [o for o in outcomes if not o.startswith("refused")]
    assert len(winners) == 1, outcomes
    flag.refresh_from_db()
    assert flag.state == winners[0]
    inactive = sandbox.orgs[US_ORG].items[drop]["status"] == "inactive"
    assert inactive == (flag.state == "resolved")  # Books changed only if the resolve won


counter = iter(range(1000))


def test_a_refusal_half_way_puts_back_what_was_done(sandbox, group):
    flag, keep, drop = group
    items = sandbox.orgs[US_ORG].items
    items[keep]["status"] = "inactive"  # resolving must reactivate it first, then deactivate the other
    sandbox.add_fault("error", method="POST", path=f"/items/{drop}/inactive", message="Item is in use")
    with pytest.raises(DecisionError, match="Nothing was changed: everything was put back"):
        flag_resolve(flag_id=flag.pk, survivor_id=keep, user=UserFactory())
    assert (items[keep]["status"], items[drop]["status"]) == ("inactive", "active")  # put back
    flag.refresh_from_db()
    assert flag.state == "open" and flag.operation == {}
    assert FlagEvent.objects.filter(flag=flag, action="refused").exists()


def test_what_cannot_be_put_back_is_kept_on_the_group_with_a_way_to_finish(sandbox, group, client):
    flag, keep, drop = group
    items = sandbox.orgs[US_ORG].items
    items[keep]["status"] = "inactive"
    sandbox.add_fault("error", method="POST", path="/inactive", count=2, message="Item is in use")  # both refused
    with pytest.raises(DecisionError, match="needs attention"):
        flag_resolve(flag_id=flag.pk, survivor_id=keep, user=UserFactory())
    flag.refresh_from_db()
    assert flag.state == "stuck" and items[keep]["status"] == "active"  # what Books left
    assert flag.operation["stuck"] == [
        {"books_id": keep, "should_be": "inactive", "label": "“Hinge Bracket” (SKU HB-1000)"}
    ]
    admin = UserFactory(groups=["finance-admin"])
    client.force_login(admin)
    page = client.get("/audits/?state=stuck").content.decode()
    assert "Books then refused to put back" in page and "Put the records back" in page and "Try again" in page
    flag_put_back(flag_id=flag.pk, user=admin)
    flag.refresh_from_db()
    assert flag.state == "open" and (items[keep]["status"], items[drop]["status"]) == ("inactive", "active")


def test_a_lost_answer_is_re_read_before_anything_is_said(sandbox, group):
    flag, keep, drop = group
    sandbox.add_fault("drop", method="POST", path="/inactive")  # Books did it; the answer was lost
    flag = flag_resolve(flag_id=flag.pk, survivor_id=keep, user=UserFactory())
    assert flag.state == "resolved" and sandbox.orgs[US_ORG].items[drop]["status"] == "inactive"


def test_undo_leaves_alone_a_record_newer_links_use_and_says_so(sandbox, group):
    flag, keep, drop = group
    items = sandbox.orgs[US_ORG].items
    items[keep]["status"] = "inactive"
    flag = flag_resolve(flag_id=flag.pk, survivor_id=keep, user=UserFactory())
    assert items[keep]["status"] == "active"
    ItemLink.objects.create(organization_id=US_ORG, crm_product_id=product_id(2), books_item_id=keep)  # since then
    flag = flag_undo(flag_id=flag.pk, user=UserFactory())
    assert flag.state == "open" and flag.kept_active == ["“Hinge Bracket” (SKU HB-1000)"]
    assert (items[keep]["status"], items[drop]["status"]) == ("active", "active")
    assert "kept active because newer links or pushes use it" in FlagEvent.objects.filter(flag=flag).last().message


def test_undo_puts_back_only_what_the_resolution_left_as_it_was(sandbox, group):
    flag, keep, drop = group
    items = sandbox.orgs[US_ORG].items
    items[keep]["status"] = "inactive"
    flag = flag_resolve(flag_id=flag.pk, survivor_id=keep, user=UserFactory())
    items[drop]["status"] = "active"  # someone reactivated it in Books since
    writes = len(sandbox.calls_to("POST", r"/(in)?active$"))
    flag_undo(flag_id=flag.pk, user=UserFactory())
    assert items[keep]["status"] == "inactive" and items[drop]["status"] == "active"
    assert len(sandbox.calls_to("POST", r"/(in)?active$")) == writes + 1  # only the survivor went back


# --- merges hold: a push never adopts, links or reactivates a record finance merged away ----------------------
def test_a_product_with_the_merged_away_sku_is_linked_to_the_kept_item(sandbox, demo_config, press):
    from integration.models import InvoicePush
    from sandbox.demo import deal_id

    audit("--org", "US-LLC")
    flag = flag_of("Service Plan")
    keep, drop = member_id(flag, "Service Plan"), member_id(flag, "Service-Plan")
    flag_resolve(flag_id=flag.pk, survivor_id=keep, user=UserFactory())
    sandbox.crm["Products"][product_id(4)]["Product_Code"] = "SVC-12M"  # the SKU of the item merged away
    _, reply = press(deal_id(2))
    push = InvoicePush.objects.get(pk=reply["push_id"])
    assert push.state == "pushed", push.error
    assert ItemLink.objects.get(organization_id=US_ORG, crm_product_id=product_id(4)).books_item_id == keep
    assert sandbox.orgs[US_ORG].items[drop]["status"] == "inactive"
    assert sandbox.calls_to("POST", rf"/items/{drop}/active$") == []


def test_an_account_pointing_at_a_merged_away_customer_uses_the_kept_one(sandbox, demo_config, press):
    from integration.models import CustomerLink, InvoicePush
    from sandbox.demo import account_id, deal_id

    audit("--org", "US-LLC")
    flag = next(f for f in DuplicateFlag.objects.filter(kind="customer") if "Vandelay Industries" in str(f.members))
    keep, drop = member_id(flag, "Vandelay Industries"), member_id(flag, "Vandelay Industries, Inc.")
    flag_resolve(flag_id=flag.pk, survivor_id=keep, user=UserFactory())
    sandbox.crm["Accounts"][account_id(2)]["Books_Customer_Id"] = drop
    _, reply = press(deal_id(2))
    push = InvoicePush.objects.get(pk=reply["push_id"])
    assert push.state == "pushed", push.error
    assert push.plan["customer_id"] == keep
    assert CustomerLink.objects.get(crm_account_id=account_id(2)).books_contact_id == keep
    assert sandbox.orgs[US_ORG].contacts[drop]["status"] == "inactive"
    assert sandbox.calls_to("POST", rf"/contacts/{drop}/active$") == []
