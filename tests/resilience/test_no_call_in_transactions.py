"""No call to Zoho is ever made inside a database transaction (where row locks would be held for as long as Zoho
takes): every call the product makes — pushes in every edition, decisions, reviews and notes, webhooks, Cliq,
reconciliation, audits and their resolutions — is watched at the transport, and one made inside `atomic()` fails."""

from __future__ import annotations

import httpx
import pytest
from django.db import connection

from integration.zoho import http
from sandbox import SandboxTransport
from tests.contract.test_zoho_documents import _everything

pytestmark = pytest.mark.django_db(transaction=True)


class InTransaction(httpx.BaseTransport):
    """Pass every request through, noting those sent while this thread's connection is inside a transaction."""

    def __init__(self, inner: httpx.BaseTransport):
        self.inner = inner
        self.sent: list[str] = []
        self.inside: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        what = f"{request.method} {request.url.path}"
        self.sent.append(what)
        if connection.in_atomic_block:
            self.inside.append(what)
        return self.inner.handle_request(request)


def test_no_zoho_call_is_made_inside_a_database_transaction(
    sandbox, demo_config, press, hooks, django_capture_on_commit_callbacks
):
    guard = InTransaction(SandboxTransport(sandbox))
    previous = http.set_transport(guard)
    try:
        _everything(sandbox, hooks, press, django_capture_on_commit_callbacks)
    finally:
        http.set_transport(previous)
    assert len(guard.sent) > 100  # the whole product ran
    assert guard.inside == []
