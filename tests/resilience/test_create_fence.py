"""The fence around Books creates (integration/services/fence.py), in-process against the sandbox and with two
actors on PostgreSQL."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from integration.models import BooksCreate, InvoicePush
from integration.services.attempt import push_execute
from integration.services.fence import create_once
from integration.services.press import push_request
from integration.services.sweeper import push_sweep
from integration.zoho.errors import HoldBack, ZohoRetryable
from sandbox.demo import US_ORG, deal_id
from tests.conftest import at_once

pytestmark = pytest.mark.django_db(transaction=True)


def invoices(sandbox, deal: str) -> list[dict]:
    return [i for i in sandbox.orgs[US_ORG].invoices.values() if i["reference_number"] == deal]


def run_until_not_queued(push: InvoicePush) -> InvoicePush:
    for _ in range(20):
        InvoicePush.objects.filter(pk=push.pk).update(next_attempt_at=None)
        push_execute(push_id=push.pk)
        push.refresh_from_db()
        if push.state != "queued":
            break
    return push


def test_an_unanswered_invoice_create_is_not_sent_again_until_it_has_had_time_to_land(sandbox, demo_config, settings):
    settings.ZOHO_CREATE_SETTLE_SECONDS = 1.5
    sandbox.add_fault("timeout", method="POST", path="/invoices")  # Books never saw it: it will not land
    push = run_until_not_queued(push_request(deal_id=deal_id(2)))  # in-process tasks: retries wait inline

    assert push.state == "pushed", push.error
    assert len(invoices(sandbox, deal_id(2))) == 1 and not BooksCreate.objects.exists()
    creates = list(push.events.filter(action="Create the Books invoice").order_by("pk"))
    assert [e.outcome for e in creates] == ["error", "ok"] and "may or may not have acted" in creates[0].message
    assert (creates[1].at - creates[0].at).total_seconds() >= 1.5  # not before it could land
    waits = push.events.filter(message__contains="may still land")
    assert waits.exists() and push.attempts == 2  # waiting spent no attempt
    looks = push.events.filter(action__startswith="Look up Books invoices", at__lt=creates[1].at)
    assert looks.count() >= 2  # looked for it meanwhile, and once more just before creating


def test_a_create_whose_answer_was_dropped_is_adopted_at_once(sandbox, demo_config, settings):
    settings.ZOHO_CREATE_SETTLE_SECONDS = 600  # adopting must not wait for the settle time
    sandbox.add_fault("drop", method="POST", path="/invoices")  # Books created it; the answer was lost
    push = run_until_not_queued(push_request(deal_id=deal_id(2)))
    assert push.state == "pushed", push.error
    assert [i["invoice_id"] for i in invoices(sandbox, deal_id(2))] == [push.invoice_id]
    assert not BooksCreate.objects.exists()


def test_two_actors_claiming_one_create_make_it_once(sandbox, demo_config):
    made = []

    def actor():
        try:
            look, make = (lambda _: made[:1] or None), (lambda: made.append(1) or {})
            return create_once("item", US_ORG, "ab100", label="item", look=look, make=make)
        except HoldBack as exc:
            return str(exc)

    outcomes = at_once(2, actor)
    assert len(made) == 1
    # the loser waited, or (if the winner had finished) looked afresh first: never a second create outside
    assert sum(isinstance(o, tuple) for o in outcomes) in (1, 2)


def test_a_create_in_flight_holds_off_a_second_actor_and_an_unanswered_one_expires(sandbox, demo_config, settings):
    settings.ZOHO_CREATE_SETTLE_SECONDS = 0.5
    second = []

    def make_while_another_tries() -> dict:
        with pytest.raises(HoldBack, match="right now"):
            create_once("item", US_ORG, "ab100", label="item", look=lambda _: None, make=lambda: second.append(1))
        raise ZohoRetryable("no answer", maybe_acted=True)

    with pytest.raises(ZohoRetryable):
        create_once("item", US_ORG, "ab100", label="item", look=lambda _: None, make=make_while_another_tries)
    looked = []
    with pytest.raises(HoldBack, match="may still land"):
        create_once("item", US_ORG, "ab100", label="item", look=looked.append, make=lambda: second.append(1))
    time.sleep(0.6)
    made = create_once("item", US_ORG, "ab100", label="item", look=looked.append, make=lambda: {"item_id": "1"})
    assert made == ({"item_id": "1"}, True) and second == [] and looked == [True, True]
    assert not BooksCreate.objects.exists()


def test_the_sweeper_forgets_fences_that_expired_long_ago(sandbox, demo_config):
    now = timezone.now()
    BooksCreate.objects.create(
        organization_id=US_ORG,
        kind="item",
        key="old",
        token="00000000-0000-0000-0000-000000000001",
        settle_until=now - timedelta(hours=2),
    )
    BooksCreate.objects.create(
        organization_id=US_ORG,
        kind="item",
        key="recent",
        token="00000000-0000-0000-0000-000000000002",
        settle_until=now - timedelta(minutes=5),
    )
    push_sweep()
    assert list(BooksCreate.objects.values_list("key", flat=True)) == ["recent"]
