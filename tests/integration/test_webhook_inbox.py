"""The acknowledgement's outbox: one insert per delivery, one drain message for a burst, each delivery handed to
a worker exactly once even with two drains at the same moment (PostgreSQL)."""

from __future__ import annotations

import threading

import pytest
from django.core.cache import cache
from django.db import connections

from config.celery import app as celery_app
from integration.models import WebhookDelivery
from integration.services.webhook_inbox import DRAIN_ASKED, ask_for_drain, webhook_drain
from tests.factories import LegalEntityFactory


@pytest.fixture
def queued(settings):
    """Tasks go to the (in-memory) queue instead of running here: what a drain sends is only counted."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    celery_app.conf.task_always_eager = False
    cache.delete(DRAIN_ASKED)
    yield
    celery_app.conf.task_always_eager = True
    cache.delete(DRAIN_ASKED)


@pytest.mark.django_db
def test_a_burst_of_deliveries_asks_for_one_drain_until_the_drain_starts(queued):
    assert ask_for_drain() is True  # the first delivery of a burst sends the drain message
    assert [ask_for_drain() for _ in range(20)] == [False] * 20  # the rest share it
    assert webhook_drain() == 0  # the drain starts: it clears the request before it looks
    assert ask_for_drain() is True  # a delivery stored after its look asks again


@pytest.mark.django_db(transaction=True)
def test_two_drains_at_once_hand_each_delivery_to_a_worker_once(queued):
    entity = LegalEntityFactory()
    WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(organization_id=entity.books_org_id, kind="payment", entity_id=str(n)) for n in range(1200)]
    )
    sent: list[int] = []
    start = threading.Barrier(2)

    def drain() -> None:
        try:
            start.wait()
            sent.append(webhook_drain())
        finally:
            connections.close_all()

    actors = [threading.Thread(target=drain) for _ in range(2)]
    for actor in actors:
        actor.start()
    for actor in actors:
        actor.join(timeout=120)
    assert sum(sent) == 1200  # never one delivery twice, none left out
    assert not WebhookDelivery.objects.filter(dispatched_at__isnull=True).exists()
