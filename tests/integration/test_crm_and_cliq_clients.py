from __future__ import annotations

import pytest

from integration.zoho.cliq import CliqClient
from integration.zoho.crm import CrmClient
from integration.zoho.errors import ZohoRateLimited, ZohoRejected, ZohoRetryable

pytestmark = pytest.mark.django_db
DEAL = "5725767000000400001"


@pytest.fixture
def crm(sandbox):
    return CrmClient()


def test_it_reads_a_deal_with_its_lines_and_lookups(crm):
    deal = crm.record_get("Deals", DEAL)
    assert deal["Stage"] == "Closed Won"
    assert deal["Account_Name"] == {"id": "5725767000000200001", "name": "Initech, LLC"}
    assert [row["Product"]["name"] for row in deal["Products"]] == ["Widget Pro", "Sprocket"]


def test_a_missing_record_is_none(crm):
    assert crm.record_get("Deals", "1234") is None


def test_it_reads_many_records_in_chunks_of_100(crm, sandbox):
    ids = [f"57257670000003{n:05d}" for n in range(1, 151)]
    products = crm.records_get("Products", ids)
    assert len(products) == 9
    assert len(sandbox.calls_to("GET", r"/Products$")) == 2


def test_it_updates_a_deal(crm, sandbox):
    details = crm.record_update(
        "Deals",
        DEAL,
        {"Invoice_Id": "46001", "Invoice_Number": "INV-00001", "Invoice_URL": "https://books.example/inv/46001"},
    )
    assert details["id"] == DEAL
    assert sandbox.crm["Deals"][DEAL]["Invoice_Number"] == "INV-00001"


def test_per_record_errors_come_back_with_their_code(crm, sandbox):
    sandbox.crm_locked.add(DEAL)
    with pytest.raises(ZohoRejected) as excinfo:
        crm.record_update("Deals", DEAL, {"Payment_Status": "Paid"})
    assert excinfo.value.code == "RECORD_LOCKED"
    sandbox.crm_locked.clear()
    with pytest.raises(ZohoRejected) as excinfo:
        crm.record_update("Deals", DEAL, {"Credited_Amount": "a lot"})
    assert excinfo.value.code == "INVALID_DATA" and "Credited_Amount" in excinfo.value.message


def test_crm_rate_limits_and_errors_are_retryable(crm, sandbox):
    sandbox.add_fault("rate_limit", path="/crm/", retry_after=7)
    with pytest.raises(ZohoRateLimited) as excinfo:
        crm.record_get("Deals", DEAL)
    assert excinfo.value.retry_after == 7
    sandbox.add_fault("error", path="/crm/")
    with pytest.raises(ZohoRetryable):
        crm.record_get("Deals", DEAL)


def test_an_expired_token_is_refreshed_for_crm_too(crm, sandbox):
    crm.record_get("Deals", DEAL)
    sandbox.clock.advance(4000)
    assert crm.record_get("Deals", DEAL)["id"] == DEAL
    assert sandbox.token_refreshes == 2


def test_the_crm_api_version_is_configurable(sandbox, settings):
    settings.ZOHO_CRM_API_VERSION = "v2"
    assert CrmClient().record_get("Deals", DEAL)["id"] == DEAL
    assert sandbox.calls_to("GET", r"^/crm/v2/Deals/")


def test_cliq_posts_a_message(sandbox):
    CliqClient().message_post(text="*Paid* INV-00001", card={"title": "Payment received", "theme": "modern-inline"})
    assert sandbox.cliq_messages[0]["channel"] == "payments"
    assert sandbox.cliq_messages[0]["payload"]["card"]["title"] == "Payment received"


def test_cliq_errors_never_show_the_key(sandbox, settings):
    with pytest.raises(ZohoRejected) as excinfo:
        CliqClient(url=settings.CLIQ_WEBHOOK_URL.replace("sandbox-zapikey", "wrong-key")).message_post(text="hi")
    assert "wrong-key" not in str(excinfo.value) and excinfo.value.status == 401
    sandbox.add_fault("error", path="/api/v2/")
    with pytest.raises(ZohoRetryable) as excinfo:
        CliqClient().message_post(text="hi")
    assert "sandbox-zapikey" not in str(excinfo.value)


def test_cliq_is_off_without_a_url():
    assert not CliqClient(url="").enabled
