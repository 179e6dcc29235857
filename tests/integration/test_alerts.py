"""Problems find people: a push that waits for review, needs a decision or gives up posts once to the alerts
channel (CLIQ_ALERTS_URL, not the payments channel), with a link to the push."""

from __future__ import annotations

import pytest

from integration.models import InvoicePush, PushAlert
from sandbox.demo import deal_id

pytestmark = pytest.mark.django_db


@pytest.fixture
def alerts(settings, sandbox):
    settings.CLIQ_ALERTS_URL = f"{sandbox.base_url}/api/v2/channelsbyname/invoicealerts/message?zapikey=sandbox-zapikey"

    def posted() -> list[str]:
        return [m["payload"]["text"] for m in sandbox.cliq_messages if m["channel"] == "invoicealerts"]

    return posted


def test_a_push_waiting_for_review_is_announced_once_with_a_link(press, alerts, settings):
    _, reply = press(deal_id(5))  # UK-LTD requires review
    push = InvoicePush.objects.get(pk=reply["push_id"])
    assert push.state == "pending_review"
    [text] = alerts()
    assert f"“{push.deal_name}” (UK-LTD) is waiting for a reviewer to approve it" in text
    assert f"{settings.PUBLIC_BASE_URL}/pushes/{push.pk}/" in text
    press(deal_id(5))  # pressed again: the same push, no second alert
    assert len(alerts()) == 1 and PushAlert.objects.get().state == "sent"


def test_a_push_that_gives_up_is_announced_with_why(press, alerts, sandbox, settings):
    settings.PUSH_MAX_ATTEMPTS = 1
    sandbox.add_fault("error", method="POST", path="/invoices", count=50)
    _, reply = press(deal_id(2))
    [text] = alerts()
    assert "gave up: Gave up after 1 attempts: Internal error (Zoho code 1000)" in text
    assert f"/pushes/{reply['push_id']}/" in text
    assert "zapikey" not in PushAlert.objects.get().text
    # The payments channel hears nothing of it.
    assert not [m for m in sandbox.cliq_messages if m["channel"] != "invoicealerts"]


def test_without_an_alerts_channel_nothing_is_recorded(press, sandbox, settings):
    settings.CLIQ_ALERTS_URL = ""
    press(deal_id(5))
    assert not PushAlert.objects.exists() and not sandbox.cliq_messages


def test_an_alert_whose_answer_is_lost_is_never_sent_twice(press, alerts, sandbox):
    sandbox.add_fault("drop", method="POST", path="/channelsbyname/invoicealerts/")
    press(deal_id(5))  # waits for review: the alert goes out, its answer is lost
    alert = PushAlert.objects.get()
    assert alert.state == "unconfirmed" and "Not resent" in alert.error and len(alerts()) <= 1
