from __future__ import annotations

import json
import socket

import pytest
from django.core.cache import cache

from config.celery import app as celery_app
from integration import ratelimit
from integration.setup_guide import OAUTH_SCOPES
from integration.zoho import http
from integration.zoho.auth import forget_cached_tokens
from sandbox import Sandbox, SandboxTransport, serve
from tests.stack import BROKER_URL, Stack


@pytest.fixture
def sandbox(settings):
    """A fresh Zoho sandbox with the demo dataset, mounted in-process for every Zoho client."""
    ratelimit.reset()
    cache.clear()
    sb = Sandbox(demo=True, scopes=OAUTH_SCOPES)  # exactly what the setup guide asks the administrator to grant
    sb.webhook_mode = "manual"
    previous = http.set_transport(SandboxTransport(sb))
    settings.ZOHO_ACCOUNTS_URL = settings.ZOHO_API_DOMAIN = sb.base_url
    forget_cached_tokens()
    yield sb
    http.set_transport(previous)
    forget_cached_tokens()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def http_sandbox(settings):
    """A fresh demo sandbox served over real HTTP on a free loopback port; clients use the network."""
    ratelimit.reset()
    cache.clear()
    port = free_port()
    sb = Sandbox(base_url=f"http://127.0.0.1:{port}", demo=True, scopes=OAUTH_SCOPES)
    sb.webhook_mode = "manual"
    server = serve(sb, port=port, background=True)
    settings.ZOHO_ACCOUNTS_URL = settings.ZOHO_API_DOMAIN = sb.base_url
    settings.CLIQ_WEBHOOK_URL = f"{sb.base_url}/api/v2/channelsbyname/payments/message?zapikey=sandbox-zapikey"
    previous = http.set_transport(None)
    forget_cached_tokens()
    yield sb
    server.shutdown()
    server.server_close()
    http.set_transport(previous)
    forget_cached_tokens()


def sign(body: bytes, *, secret: str, timestamp_ms: int | None = None) -> dict[str, str]:
    """The headers the CRM's Deluge function sends (CONTRACT.md §2)."""
    import hashlib
    import hmac
    import time

    ts = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
    return {
        "X-Timestamp": ts,
        "X-Signature": hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest(),
    }


@pytest.fixture
def demo_config(db):
    """The demo legal entities and tax map, loaded through the real import service."""
    from integration.services.config_tables import legal_entities_import, tax_map_import

    with open("demo/legal_entities.csv", encoding="utf-8") as fh:
        legal_entities_import(file=fh)
    with open("demo/tax_map.csv", encoding="utf-8") as fh:
        tax_map_import(file=fh)


def test_database_url() -> str:
    """The URL of the database pytest-django created, for processes we start ourselves."""
    from django.db import connection

    db = connection.settings_dict
    return f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


test_database_url.__test__ = False  # a helper, not a test


@pytest.fixture
def press(client, settings, sandbox, demo_config, django_capture_on_commit_callbacks):
    def _press(deal: str, user: str = "ava@acme.example", *, raw: bytes | None = None, headers: dict | None = None):
        body = raw if raw is not None else json.dumps({"deal_id": deal, "user": user}).encode()
        signed = headers if headers is not None else sign(body, secret=settings.CRM_BUTTON_SECRET)
        with django_capture_on_commit_callbacks(execute=True):
            resp = client.post("/api/crm/generate-invoice/", body, content_type="application/json", headers=signed)
        return resp.status_code, resp.json()

    return _press


@pytest.fixture
def stack_env() -> dict:
    """Environment for every process of `stack` (a test module overrides this fixture to change settings)."""
    return {}


@pytest.fixture
def stack(http_sandbox, demo_config, settings, stack_env):
    redis_url = settings.REDIS_URL or "redis://127.0.0.1:6379/15"
    stack = Stack(
        sandbox_url=http_sandbox.base_url,
        database_url=test_database_url(),
        redis_url=redis_url,
        web_port=free_port(),
        extra_env=stack_env,
    )
    # This process sends tasks too (a reviewer's approval): through the same broker as the web app.
    saved = celery_app.conf.task_always_eager, celery_app.conf.broker_url
    celery_app.conf.task_always_eager, celery_app.conf.broker_url = False, BROKER_URL
    reset_celery_connections()
    stack.start_web()
    yield stack
    stack.stop()
    celery_app.conf.task_always_eager, celery_app.conf.broker_url = saved
    reset_celery_connections()


def reset_celery_connections() -> None:
    """Drop cached broker connections and producers so the next send uses the current broker_url.
    (Not closed: even eager tasks borrow a producer, and a closed pool cannot lend one.)"""
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


def at_once(n: int, fn) -> list:
    """Run `fn` in `n` threads released together by a barrier; return what each returned.
    Each thread closes its own database connection when done."""
    import threading

    from django.db import connection

    barrier, results, lock = threading.Barrier(n), [], threading.Lock()

    def run() -> None:
        barrier.wait()
        try:
            result = fn()
            with lock:
                results.append(result)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.fixture(scope="session", autouse=True)
def _no_stray_database_sessions(django_db_setup, django_db_blocker):
    """Before the test database is dropped, end sessions left by processes and threads we started
    (a SIGKILLed worker, server threads) so the drop cannot fail."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture
def hooks(client, settings, sandbox, django_capture_on_commit_callbacks):
    """The sandbox's webhooks, delivered to our endpoint through the test client when flushed."""
    sandbox.webhook_url = "http://testserver/api/books/webhook/{organization_id}/"
    sandbox.webhook_token = settings.BOOKS_WEBHOOK_TOKEN

    def send(url: str, headers: dict, body: bytes) -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                url.removeprefix("http://testserver"),
                body,
                content_type="application/json",
                headers={"X-Webhook-Token": headers["X-Webhook-Token"]},
            ).status_code

    sandbox.webhook_sender = send
    return sandbox


def books_api(sandbox, org: str = "60001001"):
    """Books as a person working in it sees it (credit notes, refunds and write-offs originate there): calls on a
    connection of their own, with full access."""
    import httpx

    from sandbox import SandboxTransport
    from sandbox.state import FULL_ACCESS

    sandbox.refresh_tokens["books-user-refresh-token"] = {
        "client_id": "sandbox-client-id",
        "revoked": False,
        "scopes": list(FULL_ACCESS),
    }
    http = httpx.Client(transport=SandboxTransport(sandbox), base_url=sandbox.base_url)
    form = {
        "grant_type": "refresh_token",
        "client_id": "sandbox-client-id",
        "client_secret": "sandbox-client-secret",
        "refresh_token": "books-user-refresh-token",
    }
    http.headers["Authorization"] = "Zoho-oauthtoken " + http.post("/oauth/v2/token", data=form).json()["access_token"]

    def call(method, path, body=None, query=None):
        params = {"organization_id": org, **(query or {})}
        resp = http.request(method, f"/books/v3{path}", params=params, json=body)
        assert resp.status_code in (200, 201), resp.text
        return resp.json()

    return call
