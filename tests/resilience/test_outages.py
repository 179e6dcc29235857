"""Outages of what we depend on, for real: a Redis the test starts itself is stopped while the CRM button is
pressed and Books webhooks arrive, then started again; the database is made unreachable under the machine
endpoints. Nothing is lost, nothing is left half done, and every answer keeps the JSON contract."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile

import httpx
import pytest
import redis
from django.db import connection

from integration.models import InvoicePush, WebhookDelivery
from sandbox.demo import US_ORG, deal_id
from tests.conftest import free_port, sign
from tests.e2e import press, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


class PrivateRedis:
    """A redis-server of our own on a free port, to stop and start at will (the shared one stays up)."""

    def __init__(self):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="bridge-redis-")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.dir,
            stdout=subprocess.DEVNULL,
        )
        wait_for(self.up, "the private Redis to start", timeout=20)

    def up(self) -> bool:
        try:
            return redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping()
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def private_redis():
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()
    shutil.rmtree(server.dir, ignore_errors=True)


@pytest.fixture
def stack_env(private_redis):
    return {
        "CELERY_BROKER_URL": private_redis.url,
        "REDIS_URL": private_redis.url,
        "PUSH_SWEEP_INTERVAL_SECONDS": "2",
        "SWEEP_GRACE_SECONDS": "2",
    }


def webhook(stack, settings, invoice_id: str) -> httpx.Response:
    return httpx.post(
        f"{stack.web_url}/api/books/webhook/{US_ORG}/",
        json={"invoice": {"invoice_id": invoice_id}},
        headers={"X-Webhook-Token": settings.BOOKS_WEBHOOK_TOKEN},
        timeout=30,
    )


def test_a_redis_outage_loses_nothing_and_everything_finishes_when_it_returns(
    stack, http_sandbox, settings, private_redis
):
    stack.start_worker(beat=True)
    _, first = press(stack, settings, deal_id(1))
    wait_for(lambda: InvoicePush.objects.get(pk=first["push_id"]).state == "pushed", "the first push", timeout=90)
    invoice_id = InvoicePush.objects.get(pk=first["push_id"]).invoice_id

    private_redis.stop()
    during = [press(stack, settings, deal_id(n)) for n in (2, 4)]
    assert [status for status, _ in during] == [202, 202], during  # accepted: recorded, sent when Redis is back
    hooks = [webhook(stack, settings, invoice_id) for _ in range(3)]
    assert [h.status_code for h in hooks] == [200, 200, 200] and all("message" in h.json() for h in hooks)
    login = httpx.get(f"{stack.web_url}/accounts/login/", timeout=30)
    assert login.status_code == 200  # screens work uncached
    assert WebhookDelivery.objects.filter(state="received").count() == 3  # kept, waiting for a worker

    private_redis.start()
    ids = [reply["push_id"] for _, reply in during]
    wait_for(
        lambda: (
            not InvoicePush.objects.filter(pk__in=ids, state__in=["queued", "running"]).exists()
            and not WebhookDelivery.objects.filter(state="received").exists()
        ),
        "every push and delivery to finish after Redis came back",
        timeout=180,
    )
    assert list(InvoicePush.objects.filter(pk__in=ids).values_list("state", flat=True)) == ["pushed", "pushed"]
    assert set(WebhookDelivery.objects.values_list("state", flat=True)) == {"processed"}
    for n in (1, 2, 4):
        found = [i for i in http_sandbox.orgs[US_ORG].invoices.values() if i["reference_number"] == deal_id(n)]
        assert len(found) == 1
    assert http_sandbox.crm["Deals"][deal_id(1)]["Payment_Status"] == "Unpaid"


def test_the_machine_endpoints_answer_json_503_while_the_database_is_unreachable(client, settings):
    dead = free_port()  # nothing listens here
    saved = connection.settings_dict["PORT"]
    body = json.dumps({"deal_id": deal_id(1)}).encode()
    try:
        connection.close()
        connection.settings_dict["PORT"] = dead
        press_reply = client.post(
            "/api/crm/generate-invoice/",
            body,
            content_type="application/json",
            headers=sign(body, secret=settings.CRM_BUTTON_SECRET),
        )
        hook = client.post(
            f"/api/books/webhook/{US_ORG}/",
            {"invoice": {"invoice_id": "1"}},
            content_type="application/json",
            headers={"X-Webhook-Token": settings.BOOKS_WEBHOOK_TOKEN},
        )
    finally:
        connection.close()
        connection.settings_dict["PORT"] = saved
    for resp in (press_reply, hook):
        assert resp.status_code == 503 and resp["Content-Type"] == "application/json"
        assert "cannot reach its database" in resp.json()["message"]
