from __future__ import annotations

import socket

import pytest

from integration.zoho import http
from integration.zoho.auth import forget_cached_tokens
from integration.zoho.sandbox import Sandbox, SandboxTransport, serve


@pytest.fixture
def sandbox(settings):
    """A fresh Zoho sandbox with the demo dataset, mounted in-process for every Zoho client."""
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
