"""Books answers after our client gave up: the create lands late. Real processes (web app, Celery worker on
Redis, PostgreSQL, the sandbox over HTTP), real client timeouts: still one customer, one item, one invoice."""

from __future__ import annotations

import time

import pytest

from integration.models import BooksCreate, InvoicePush, PushEvent
from sandbox.demo import CA_ORG, US_ORG, deal_id
from tests.e2e import press, settled, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

SLOW = 10  # the sandbox acts this long after the request arrived…
TIMEOUT = 5  # …long after our client stopped waiting


@pytest.fixture
def stack_env():
    return {"ZOHO_READ_TIMEOUT": str(TIMEOUT), "ZOHO_CREATE_SETTLE_SECONDS": "30"}


def test_creates_that_answer_after_the_timeout_make_one_of_each(stack, http_sandbox, settings):
    for path, count in (("/contacts", 2), ("/items", 1), ("/invoices", 2)):
        http_sandbox.add_fault("slow", method="POST", path=path, seconds=SLOW, count=count)
    stack.start_worker()
    # Maple Leaf (Canada): a new customer, a new item and the invoice; Globex (US): a new customer and the invoice.
    ids = [press(stack, settings, deal_id(n))[1]["push_id"] for n in (15, 2)]
    wait_for(lambda: settled(*ids), "both pushes to settle", timeout=240)

    for push_id in ids:
        push = InvoicePush.objects.get(pk=push_id)
        assert push.state == "pushed", push.error
    time.sleep(SLOW + 2)  # any create still inside the sandbox lands before we count
    ca, us = http_sandbox.orgs[CA_ORG], http_sandbox.orgs[US_ORG]
    # each record was sent to Books once: the slow create, never again while it could still land
    for org, path, sent in ((CA_ORG, "contacts", 1), (CA_ORG, "items", 1), (CA_ORG, "invoices", 1)):
        assert len(http_sandbox.calls_to("POST", rf"/{path}$", org=org)) == sent, (org, path)
    assert len(http_sandbox.calls_to("POST", r"/contacts$", org=US_ORG)) == 1
    assert len(http_sandbox.calls_to("POST", r"/invoices$", org=US_ORG)) == 1
    assert [c["contact_name"] for c in ca.contacts.values()] == ["Maple Leaf Kiosks"]
    assert [c["contact_name"] for c in us.contacts.values()].count("Globex Corporation") == 1
    assert len(ca.items) == 1
    for org, deal in ((ca, deal_id(15)), (us, deal_id(2))):
        assert len([i for i in org.invoices.values() if i["reference_number"] == deal]) == 1
    # every create really timed out on our side (else this test proves nothing), and each fence is down
    timed_out = PushEvent.objects.filter(
        push__in=ids, action__startswith="Create the Books", message__contains="did not answer in time"
    )
    assert sorted(e.action for e in timed_out) == [
        "Create the Books customer",
        "Create the Books customer",
        "Create the Books invoice",
        "Create the Books invoice",
    ]
    assert PushEvent.objects.filter(action__startswith="Create Books item", message__contains="in time").count() == 1
    assert list(BooksCreate.objects.values_list("kind", "uncertain")) == []
