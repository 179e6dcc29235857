"""Generate Invoice across real processes: the web app under runserver, Celery workers on Redis,
PostgreSQL, and the Zoho sandbox over HTTP. Workers get killed with SIGKILL here."""

from __future__ import annotations

import time

import httpx
import pytest

from integration.models import InvoicePush
from integration.normalize import normalize_name, normalize_sku
from integration.services.review import push_approve
from sandbox.demo import AUDIT_ITEM_GROUPS, CA_ORG, IN_ORG, UK_ORG, US_ORG, deal_id
from tests.conftest import at_once
from tests.e2e import press, push_story, settled, wait_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def invoices_for(sandbox, org: str, deal: str) -> list[dict]:
    return [i for i in sandbox.orgs[org].invoices.values() if i["reference_number"] == deal]


def test_the_demo_deals_push_through_a_real_worker_for_all_four_editions(stack, http_sandbox, settings):
    stack.start_worker()
    wanted = {
        1: "pushed",
        2: "pushed",
        4: "pushed",
        5: "pending_review",
        6: "pushed",
        7: "pushed",
        8: "failed",
        12: "pushed",
        14: "pushed",
        15: "pushed",
        3: "blocked",
    }
    replies = {n: press(stack, settings, deal_id(n)) for n in wanted}
    assert replies[3][0] == 422 and replies[5][1]["status"] == "pending_review"
    ids = {n: reply["push_id"] for n, (_, reply) in replies.items()}
    wait_for(lambda: settled(*ids.values()), "every push to settle")
    push_approve(push=InvoicePush.objects.get(pk=ids[5]), user=UserFactory(groups=["reviewer"]))
    wanted[5] = "pushed"
    wait_for(lambda: settled(ids[5]), "the approved UK push")

    states = {n: InvoicePush.objects.get(pk=ids[n]).state for n in wanted}
    assert states == wanted, {n: InvoicePush.objects.get(pk=ids[n]).error for n in wanted}
    org_of = {1: US_ORG, 2: US_ORG, 4: US_ORG, 12: US_ORG, 5: UK_ORG, 6: IN_ORG, 7: IN_ORG, 14: IN_ORG, 15: CA_ORG}
    for n, org in org_of.items():
        [invoice] = invoices_for(http_sandbox, org, deal_id(n))
        assert http_sandbox.crm["Deals"][deal_id(n)]["Invoice_Number"] == invoice["invoice_number"]
        taxes = http_sandbox.orgs[org].taxes
        if org in (US_ORG, CA_ORG):  # editions with authorities: never a blank one
            assert all(ln["tax_id"] == "" or taxes[ln["tax_id"]]["tax_authority_id"] for ln in invoice["line_items"])
        else:  # editions without: never an authority, always a treatment
            assert invoice["tax_authority_id"] == "" and (invoice.get("vat_treatment") or invoice.get("gst_treatment"))
    # No duplicate customers (Initech twice, via two deals) and no duplicate items in any organization, besides
    # the ones the demo seeds for the duplicate audit to find.
    seeded = {name for group in AUDIT_ITEM_GROUPS.values() for name, _ in group}
    for org in http_sandbox.orgs.values():
        names = [normalize_name(c["contact_name"]) for c in org.contacts.values()]
        assert len(names) == len(set(names)), org.name
        skus = [normalize_sku(i["sku"]) for i in org.items.values() if i["sku"] and i["name"] not in seeded]
        assert len(skus) == len(set(skus)), org.name
    assert invoices_for(http_sandbox, US_ORG, deal_id(8)) == [] and invoices_for(http_sandbox, US_ORG, deal_id(3)) == []


def test_twenty_concurrent_presses_make_one_invoice(stack, http_sandbox, settings):
    stack.start_worker()
    results = at_once(20, lambda: press(stack, settings, deal_id(2)))
    assert {status for status, _ in results} <= {200, 202} and len(results) == 20
    assert len({reply["push_id"] for _, reply in results}) == 1
    push_id = results[0][1]["push_id"]
    wait_for(
        lambda: InvoicePush.objects.get(pk=push_id).state == "pushed",
        "the push",
        explain=lambda: push_story(stack, push_id),
    )
    assert len(invoices_for(http_sandbox, US_ORG, deal_id(2))) == 1
    assert InvoicePush.objects.filter(deal_id=deal_id(2)).count() == 1


def test_a_create_whose_response_is_lost_makes_one_invoice(stack, http_sandbox, settings):
    stack.start_worker()
    http_sandbox.add_fault("drop", method="POST", path="/books/v3/invoices")
    _, reply = press(stack, settings, deal_id(2))
    wait_for(lambda: settled(reply["push_id"]), "the push")
    push = InvoicePush.objects.get(pk=reply["push_id"])
    [invoice] = invoices_for(http_sandbox, US_ORG, deal_id(2))
    assert push.state == "pushed" and push.attempts == 2 and push.invoice_id == invoice["invoice_id"]
    assert http_sandbox.crm["Deals"][deal_id(2)]["Invoice_Id"] == invoice["invoice_id"]
    # The second attempt looked the invoice up by reference (once) and created nothing.
    assert len(http_sandbox.calls_to("GET", r"/invoices$")) == 1
    assert len(http_sandbox.calls_to("POST", r"/invoices$")) == 1


def test_a_worker_killed_mid_push_converges_to_one_invoice_and_a_stamped_deal(stack, http_sandbox, settings):
    stack.start_worker("doomed")
    http_sandbox.add_fault("slow", method="POST", path="/books/v3/invoices", seconds=3)
    _, reply = press(stack, settings, deal_id(2))
    push_id = reply["push_id"]

    def creating() -> bool:
        push = InvoicePush.objects.get(pk=push_id)
        return push.step == "invoice" and push.plan.get("invoice_attempted", False)

    wait_for(creating, "the worker to start creating the invoice")
    time.sleep(0.5)  # the create is in flight inside the sandbox
    stack.kill("doomed")
    assert InvoicePush.objects.get(pk=push_id).state == "running"
    wait_for(lambda: len(invoices_for(http_sandbox, US_ORG, deal_id(2))) == 1, "Books to finish the orphaned create")

    # A new worker with the beat sweeper (deadline shortened for the test) picks the push up.
    stack.start_worker(
        "rescuer",
        beat=True,
        env={"PUSH_RUNNING_DEADLINE_SECONDS": "3", "TASK_TIME_LIMIT_SECONDS": "2", "PUSH_SWEEP_INTERVAL_SECONDS": "1"},
    )
    wait_for(lambda: InvoicePush.objects.get(pk=push_id).state == "pushed", "the rescued push", timeout=60)
    push = InvoicePush.objects.get(pk=push_id)
    [invoice] = invoices_for(http_sandbox, US_ORG, deal_id(2))
    assert push.invoice_id == invoice["invoice_id"]
    assert http_sandbox.crm["Deals"][deal_id(2)]["Invoice_Id"] == invoice["invoice_id"]
    assert push.events.filter(action="Sweeper re-queued the push").exists()
    assert push.events.filter(action__startswith="Look up Books invoices with reference number").exists()


def test_a_429_storm_slows_pushes_down_without_failing_them(stack, http_sandbox, settings):
    stack.start_worker()
    http_sandbox.add_fault("rate_limit", path="/books/v3/", count=8, retry_after=1)
    started = time.monotonic()
    ids = [press(stack, settings, deal_id(n))[1]["push_id"] for n in (2, 12)]
    wait_for(lambda: settled(*ids), "both pushes", timeout=90)
    pushes = InvoicePush.objects.filter(pk__in=ids)
    assert {p.state for p in pushes} == {"pushed"}, [p.error for p in pushes]
    assert sum(p.attempts for p in pushes) > 2
    assert len([c for c in http_sandbox.calls if c["status"] == 429]) == 8
    assert time.monotonic() - started > 2  # Retry-After was honoured, not hammered


def test_the_sandbox_crm_button_signs_and_calls_us_like_deluge(stack, http_sandbox, settings):
    stack.start_worker()
    http_sandbox.crm_button_url = f"{stack.web_url}/api/crm/generate-invoice/"
    http_sandbox.crm_button_secret = settings.CRM_BUTTON_SECRET
    with httpx.Client(base_url=http_sandbox.base_url, timeout=40) as crm:
        first = crm.post(f"/__sandbox__/crm/deals/{deal_id(2)}/generate-invoice").json()
        assert first["http_status"] == 202 and first["reply"]["status"] == "queued"
        wait_for(lambda: settled(first["reply"]["push_id"]), "the push")
        again = crm.post(f"/__sandbox__/crm/deals/{deal_id(2)}/generate-invoice").json()
        assert again["http_status"] == 200 and again["reply"]["status"] == "pushed"
        assert "Generate Invoice" in crm.get("/").text
