"""Every state a row can be left in by a lost message or a stopped worker is finished by the sweeper
(integration/services/sweeper.py); the settings that bound it are sane."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from integration.models import BulkReplay, CliqPost, WebhookDelivery
from integration.redaction import redact_text
from integration.services.sweeper import bulk_replays_due, cliq_posts_due, deliveries_due, push_sweep_task
from sandbox.demo import US_ORG
from tests.factories import InvoicePushFactory
from tests.integration.test_settings import manage

pytestmark = pytest.mark.django_db


def aged(model, pk: int, **fields) -> None:
    model.objects.filter(pk=pk).update(**fields)


def test_deliveries_no_worker_has_are_sent_again(settings):
    long_ago = timezone.now() - timedelta(hours=1)
    never = WebhookDelivery.objects.create(organization_id=US_ORG, kind="invoice", entity_id="1")
    aged(WebhookDelivery, never.pk, received_at=long_ago)
    fresh = WebhookDelivery.objects.create(organization_id=US_ORG, kind="invoice", entity_id="2")
    retrying = WebhookDelivery.objects.create(organization_id=US_ORG, kind="invoice", entity_id="3", attempts=2)
    aged(WebhookDelivery, retrying.pk, received_at=long_ago, last_attempt_at=timezone.now())
    stopped = WebhookDelivery.objects.create(organization_id=US_ORG, kind="invoice", entity_id="4", attempts=2)
    aged(WebhookDelivery, stopped.pk, received_at=long_ago, last_attempt_at=long_ago)
    assert sorted(deliveries_due()) == [never.pk, stopped.pk]
    assert deliveries_due() == []  # just resent: left to the queue for a grace period, not resent every sweep
    assert fresh.pk not in deliveries_due()
    aged(WebhookDelivery, never.pk, dispatched_at=long_ago)
    assert deliveries_due() == [never.pk]  # still not picked up a grace period later: sent again


def test_a_cliq_post_whose_worker_stopped_mid_send_is_settled_unconfirmed_and_lost_ones_resent(settings):
    push = InvoicePushFactory(state="pushed", invoice_id="9")
    long_ago = timezone.now() - timedelta(hours=1)

    def post(payment: str, **fields) -> CliqPost:
        row = CliqPost.objects.create(organization_id=US_ORG, payment_id=payment, invoice_id="9", push=push, text="t")
        aged(CliqPost, row.pk, created_at=long_ago, **fields)
        return row

    mid_send = post("1", state="sending", attempts=1, last_attempt_at=long_ago)
    lost = post("2")
    chain_lost = post("3", attempts=2, last_attempt_at=long_ago)
    waiting = post("4", attempts=2, last_attempt_at=timezone.now())
    assert sorted(cliq_posts_due()) == [lost.pk, chain_lost.pk]
    mid_send.refresh_from_db()
    assert mid_send.state == "unconfirmed" and "may already have posted it" in mid_send.error
    assert waiting.pk not in cliq_posts_due()


def test_a_bulk_replay_whose_worker_stopped_carries_on(settings):
    long_ago = timezone.now() - timedelta(hours=1)
    stalled = BulkReplay.objects.create(push_ids=[1, 2])
    aged(BulkReplay, stalled.pk, created_at=long_ago, progress_at=long_ago)
    running = BulkReplay.objects.create(push_ids=[1, 2])
    aged(BulkReplay, running.pk, created_at=long_ago, progress_at=timezone.now())
    done = BulkReplay.objects.create(push_ids=[], finished_at=timezone.now())
    aged(BulkReplay, done.pk, created_at=long_ago)
    assert bulk_replays_due() == [stalled.pk]


def test_the_sweep_task_resends_everything_due(sandbox, demo_config, settings):
    delivery = WebhookDelivery.objects.create(organization_id=US_ORG, kind="invoice", entity_id="460000000001001")
    aged(WebhookDelivery, delivery.pk, received_at=timezone.now() - timedelta(hours=1))
    assert push_sweep_task() >= 1
    delivery.refresh_from_db()
    assert delivery.state != "received"  # processed in-process (no broker here): finished, with a reason


def test_task_time_limits_leave_a_sane_soft_limit():
    code = "from django.conf import settings as s; print(s.CELERY_TASK_TIME_LIMIT, s.CELERY_TASK_SOFT_TIME_LIMIT)"
    out = manage("shell", "-c", code, env={"DEBUG": "true", "TASK_TIME_LIMIT_SECONDS": "60"})
    assert out.stdout.split()[-2:] == ["60", "48"]
    bad = manage("shell", "-c", code, env={"DEBUG": "true", "TASK_SOFT_TIME_LIMIT_SECONDS": "400"})
    assert bad.returncode != 0 and "must be above 0 and below" in bad.stderr


def test_the_database_and_redis_passwords_are_masked():
    code = "from integration.redaction import redact_text as r; print(r('db pg-pass-123 redis rd-pass-456'))"
    env = {
        "DEBUG": "true",
        "DATABASE_URL": "postgres://u:pg-pass-123@127.0.0.1:5432/x",
        "REDIS_URL": "redis://:rd-pass-456@127.0.0.1:6379/0",
    }
    out = manage("shell", "-c", code, env=env)
    assert out.stdout.strip().splitlines()[-1] == "db [redacted] redis [redacted]", out.stderr
    assert redact_text("nothing secret") == "nothing secret"


def test_screens_and_presses_work_while_redis_is_away(client, settings, press, sandbox):
    from sandbox.demo import deal_id
    from tests.conftest import free_port
    from tests.factories import UserFactory

    settings.CACHES = {
        "default": {
            "BACKEND": "integration.cache.ForgivingRedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens here
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    client.force_login(UserFactory(groups=["reviewer", "finance-admin"]))
    for page in ("/", "/tables/", "/deliveries/", "/audits/", "/setup/"):
        assert client.get(page).status_code == 200, page
    status, reply = press(deal_id(1))
    assert status == 202 and reply["status"] == "queued"
