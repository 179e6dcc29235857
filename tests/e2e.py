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


def wait_for(
    condition: Callable[[], bool], what: str, timeout: float = 60, explain: Callable[[], str] | None = None
) -> None:
    """Wait until `condition` holds; on timeout, fail saying what was awaited and, with `explain`, where things
    stood (so a failure under load can be read, not guessed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}" + (f"\n{explain()}" if explain else ""))


def push_story(stack, push_id: int) -> str:
    """A push's state and timeline, and the end of the web and worker logs: what a timed-out wait reports."""
    push = InvoicePush.objects.get(pk=push_id)
    events = "\n".join(f"  {e.at:%H:%M:%S.%f} {e.step} {e.action}: {e.message}" for e in push.events.order_by("at"))
    logs = "\n".join(f"--- {name} ---\n{stack.log(name)[-3000:]}" for name in ("web", "worker"))
    return (
        f"push {push_id}: {push.state} at {push.step}, attempts {push.attempts}, error {push.error!r}\n{events}\n{logs}"
    )


def settled(*push_ids: int) -> bool:
    return not InvoicePush.objects.filter(pk__in=push_ids, state__in=["queued", "running"]).exists()
