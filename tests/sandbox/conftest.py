"""Fixtures for the sandbox's own tests: a demo sandbox reached through plain httpx (no project client code)."""

from __future__ import annotations

import httpx
import pytest

from sandbox import Sandbox, SandboxTransport

US = "60001001"


@pytest.fixture
def sb():
    sandbox = Sandbox(demo=True)
    sandbox.webhook_mode = "manual"
    return sandbox


@pytest.fixture
def client(sb):
    return httpx.Client(transport=SandboxTransport(sb), base_url=sb.base_url)


def token(client) -> str:
    body = client.post(
        "/oauth/v2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": "sandbox-client-id",
            "client_secret": "sandbox-client-secret",
            "refresh_token": "sandbox-refresh-token",
        },
    ).json()
    return body["access_token"]


@pytest.fixture
def api(client):
    client.headers["Authorization"] = f"Zoho-oauthtoken {token(client)}"
    return client


def books(api, method, path, org=US, **kwargs):
    return api.request(
        method, f"/books/v3{path}", params={"organization_id": org, **kwargs.pop("params", {})}, **kwargs
    )
