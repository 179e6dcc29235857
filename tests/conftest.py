from __future__ import annotations

import socket

import pytest
from django.core.cache import cache

from integration import ratelimit
from integration.zoho import http
from integration.zoho.auth import forget_cached_tokens
from integration.zoho.sandbox import Sandbox, SandboxTransport, serve


@pytest.fixture
def sandbox(settings):
    """A fresh Zoho sandbox with the demo dataset, mounted in-process for every Zoho client."""
    ratelimit.reset()
    cache.clear()
    sb = Sandbox(demo=True)
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
    sb = Sandbox(base_url=f"http://127.0.0.1:{port}", demo=True)
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
