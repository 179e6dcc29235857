"""What the end-to-end tests share: pressing the button over HTTP against a `Stack`, and waiting for pushes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx

from integration.models import InvoicePush
from tests.conftest import sign


def press(stack, settings, deal: str, user: str = "ava@acme.example") -> tuple[int, dict]:
    body = json.dumps({"deal_id": deal, "user": user}).encode()
    headers = {**sign(body, secret=settings.CRM_BUTTON_SECRET), "Content-Type": "application/json"}
    resp = httpx.post(f"{stack.web_url}/api/crm/generate-invoice/", content=body, headers=headers, timeout=40)
    return resp.status_code, resp.json()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def settled(*push_ids: int) -> bool:
    return not InvoicePush.objects.filter(pk__in=push_ids, state__in=["queued", "running"]).exists()
