"""The production surface: every endpoint answers JSON with a message, the health check, login
brute-force protection, security headers, secret masking in every process's logs, the beat schedule
and the settings that refuse a broken configuration."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from integration.models import InvoicePush, WebhookDelivery, ZohoAccessToken
from integration.zoho.auth import TokenManager, current_fatal_error, forget_cached_tokens
from integration.zoho.errors import ZohoAuthError, ZohoRateLimited
from sandbox.demo import US_ORG, deal_id
from tests.conftest import sign
from tests.factories import UserFactory
from tests.integration.test_settings import manage

pytestmark = pytest.mark.django_db
BUTTON = "/api/crm/generate-invoice/"
WEBHOOK = f"/api/books/webhook/{US_ORG}/"


# --- every refusal is a clear 4xx in JSON ------------------------------------------------------------
@pytest.mark.parametrize("timestamp", ["1" * 5000, "١٧٠٠٠٠٠٠٠٠٠٠٠", "+1700000000000", " 1700000000000", "1e12", ""])
def test_a_malformed_timestamp_is_a_401_before_anything_else(client, settings, timestamp):
    body = json.dumps({"deal_id": deal_id(2)}).encode()
    headers = {"X-Timestamp": timestamp, "X-Signature": sign(body, secret=settings.CRM_BUTTON_SECRET)["X-Signature"]}
    resp = client.post(BUTTON, body, content_type="application/json", headers=headers)
    assert resp.status_code == 401 and resp.json()["message"]
    assert not InvoicePush.objects.exists()


def test_deeply_nested_json_is_a_400(client, settings):
    body = ('{"deal_id": "1", "x": ' + "[" * 100_000 + "]" * 100_000 + "}").encode()
    resp = client.post(
        BUTTON, body, content_type="application/json", headers=sign(body, secret=settings.CRM_BUTTON_SECRET)
    )
    assert resp.status_code == 400 and "JSON" in resp.json()["message"]
    nested = ('{"invoice": ' + '{"a": ' * 200 + "1" + "}" * 200 + "}").encode()
    resp = client.post(
        WEBHOOK, nested, content_type="application/json", headers={"X-Webhook-Token": settings.BOOKS_WEBHOOK_TOKEN}
    )
    assert resp.status_code == 400 and "nested" in resp.json()["message"]
    assert not WebhookDelivery.objects.exists()


@pytest.mark.parametrize("url", [BUTTON, WEBHOOK])
def test_wrong_method_oversized_body_and_unknown_paths_answer_json(client, settings, url):
    resp = client.get(url)
    assert resp.status_code == 405 and resp["Allow"] == "POST" and "Use POST" in resp.json()["message"]
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    big = json.dumps({"deal_id": "1", "pad": "x" * 5000}).encode()
    resp = client.post(url, big, content_type="application/json", headers={"X-Webhook-Token": "t"})
    assert resp.status_code == 413 and resp.json()["message"] == "The body is too large."
    resp = client.post("/api/crm/nothing-here/", b"{}", content_type="application/json")
    assert resp.status_code == 404 and resp["Content-Type"] == "application/json" and resp.json()["message"]


# --- health check --------------------------------------------------------------------------------
def test_healthz_reports_database_broker_and_token_without_secrets(client, settings, sandbox):
    resp = client.get("/healthz", HTTP_HOST="10.0.0.7")  # a load balancer probes by address
    assert resp.status_code == 200 and resp["Cache-Control"] == "no-store"
    report = resp.json()
    assert report["database"] == "ok" and report["zoho_token"] == "not-yet-refreshed"
    assert report["broker"].startswith("none")  # the test run has no broker: tasks run in-process
    sandbox.revoke_refresh_token("sandbox-refresh-token")
    with pytest.raises(ZohoAuthError):
        TokenManager.from_settings().get()
    report = client.get("/healthz").json()
    assert report["zoho_token"] == "refused" and report["status"] == "ok"  # reported, not failing
    for secret in (settings.ZOHO_CLIENT_SECRET, settings.ZOHO_REFRESH_TOKEN, settings.SECRET_KEY):
        assert secret not in json.dumps(report)


# --- the dashboard's defences -----------------------------------------------------------------------
def test_repeated_wrong_passwords_lock_the_login(client):
    UserFactory(username="fiona", password="right-password-123")
    statuses = [
        client.post("/accounts/login/", {"username": "fiona", "password": "wrong"}).status_code for _ in range(6)
    ]
    assert statuses == [200, 200, 200, 200, 429, 429]  # the form again, with an error; then locked
    resp = client.post("/accounts/login/", {"username": "fiona", "password": "right-password-123"})
    assert resp.status_code == 429 and "logging in is paused for" in resp.content.decode()
    assert "_auth_user_id" not in client.session
    other = client.post("/accounts/login/", {"username": "someone", "password": "x"})
    assert other.status_code == 200  # one user's lockout is not everyone's


def test_dashboard_pages_carry_csp_and_are_never_cached(client):
    client.force_login(UserFactory(groups=["reviewer"]))
    resp = client.get("/")
    assert resp.status_code == 200 and resp["Cache-Control"] == "no-store"
    csp = resp["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp


# --- Zoho credentials ---------------------------------------------------------------------------------
def test_fixing_the_client_secret_or_accounts_url_clears_invalid_client(sandbox, settings):
    good = settings.ZOHO_CLIENT_SECRET
    settings.ZOHO_CLIENT_SECRET = "wrong"
    with pytest.raises(ZohoAuthError, match="invalid_client"):
        TokenManager.from_settings().get()
    assert "invalid_client" in current_fatal_error()
    settings.ZOHO_CLIENT_SECRET = good  # the operator fixes the secret
    assert current_fatal_error() == ""
    forget_cached_tokens()
    assert TokenManager.from_settings().get()

    settings.ZOHO_CLIENT_SECRET = "wrong"
    forget_cached_tokens()
    with pytest.raises(ZohoAuthError):
        TokenManager.from_settings().get()
    settings.ZOHO_CLIENT_SECRET = good
    settings.ZOHO_ACCOUNTS_URL = sandbox.base_url + "/"  # …or points at another accounts server
    assert current_fatal_error() == ""


def test_a_throttled_refresh_holds_back_every_process(sandbox):
    sandbox.refresh_limit = 0  # Zoho: "too many requests" for every refresh
    with pytest.raises(ZohoRateLimited):
        TokenManager.from_settings().get()
    calls = len(sandbox.calls_to("POST", r"^/oauth/v2/token$"))
    for _ in range(3):  # other processes (nothing memoised) within the wait
        forget_cached_tokens()
        with pytest.raises(ZohoRateLimited, match="next try"):
            TokenManager.from_settings().get()
    assert len(sandbox.calls_to("POST", r"^/oauth/v2/token$")) == calls  # Zoho was not asked again
    sandbox.refresh_limit = 10
    ZohoAccessToken.objects.update(retry_not_before=timezone.now() - timedelta(seconds=1))
    forget_cached_tokens()
    assert TokenManager.from_settings().get()


# --- secrets never reach a log, whichever process writes it -----------------------------------------
def test_the_worker_and_the_access_log_mask_secrets():
    secret = "1000.0123456789abcdef0123456789abcdef.fedcba9876543210fedcba9876543210"
    script = (
        "import logging, django; django.setup()\n"
        "from config.celery import app\n"
        "app.log.setup(loglevel='INFO')  # what `celery worker` does to the root logger\n"
        "from django.conf import settings\n"
        "logging.getLogger('celery.worker').warning('token %s cliq %s', sys.argv[1], settings.CLIQ_WEBHOOK_URL)\n"
        "logging.getLogger('django.server').info('\"GET /?refresh_token=%s HTTP/1.1\" 200', sys.argv[1])\n"
        "logging.getLogger('integration').error('secret in the message itself: ' + sys.argv[1])\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    result = subprocess.run(
        [sys.executable, "-c", "import sys\n" + script, secret],
        capture_output=True,
        text=True,
        env=env,
        cwd=django_settings.BASE_DIR,
        timeout=60,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "secret in the message itself" in output and "GET /?refresh_token=" in output
    assert secret not in output and "sandbox-zapikey" not in output


def test_the_redacting_record_factory_masks_every_handler(settings):
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(self.format(record))

    logger = logging.getLogger("some.library")
    handler = Keep()
    logger.addHandler(handler)
    try:
        logger.warning("posting to %s", settings.CLIQ_WEBHOOK_URL)
    finally:
        logger.removeHandler(handler)
    assert records and "sandbox-zapikey" not in records[0]


# --- the schedule and the configuration -----------------------------------------------------------------
def test_beat_runs_reconciliation_and_the_sweeper():
    schedule = django_settings.CELERY_BEAT_SCHEDULE
    assert schedule["reconcile"] == {
        "task": "integration.tasks.reconcile_task",
        "schedule": django_settings.RECONCILE_INTERVAL_SECONDS,
    }
    assert schedule["push-sweep"]["task"] == "integration.tasks.push_sweep_task"
    from config.celery import app

    app.loader.import_default_modules()
    assert {"integration.tasks.reconcile_task", "integration.tasks.push_sweep_task"} <= set(app.tasks)


def test_one_organization_failing_does_not_stop_reconciliation_of_the_others(sandbox, demo_config):
    from integration.models import LegalEntity
    from integration.services.reconcile import reconcile_all

    LegalEntity.objects.create(code="GHOST", name="Ghost GmbH", books_org_id="60009999")  # Books: unknown org
    results = {r["organization_id"]: r for r in reconcile_all() if r["organization_id"]}
    assert set(results) == {US_ORG, "60002002", "60003003", "60004004", "60009999"}
    assert results["60009999"]["failed"] and sum(1 for r in results.values() if not r["failed"]) == 4


def test_settings_refuse_a_deadline_within_the_task_time_limit():
    result = manage("check", env={"DEBUG": "true", "PUSH_RUNNING_DEADLINE_SECONDS": "300"})
    assert result.returncode != 0
    assert "PUSH_RUNNING_DEADLINE_SECONDS (300) must be longer than the task's hard time limit (300 s)" in result.stderr
    assert (
        manage(
            "check", env={"DEBUG": "true", "TASK_TIME_LIMIT_SECONDS": "100", "PUSH_RUNNING_DEADLINE_SECONDS": "120"}
        ).returncode
        == 0
    )


def test_demo_setup_loads_the_tables_and_the_logins():
    from django.core.management import call_command

    from integration.models import LegalEntity, TaxRule

    with pytest.raises(Exception, match="only with DEBUG on"):
        call_command("demo_setup", verbosity=0)
    with django_settings_debug():
        call_command("demo_setup", verbosity=0)
        call_command("demo_setup", verbosity=0)  # twice is the same as once
    assert set(LegalEntity.objects.values_list("code", flat=True)) == {"US-LLC", "UK-LTD", "IN-PVT", "CA-INC"}
    assert TaxRule.objects.count() == 6
    from django.contrib.auth import get_user_model

    users = get_user_model().objects
    assert users.get(username="finance").groups.filter(name="finance-admin").exists()
    assert users.get(username="reviewer").groups.filter(name="reviewer").exists()
    assert users.get(username="admin").is_superuser


def django_settings_debug():
    from django.test import override_settings

    return override_settings(DEBUG=True)


def test_the_zoho_sandbox_command_serves_the_demo_over_http(settings):
    import socket
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "zoho_sandbox", "--port", str(port)],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                summary = httpx.get(f"http://127.0.0.1:{port}/__sandbox__/", timeout=2).json()
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline and proc.poll() is None, "the sandbox did not start"
                time.sleep(0.2)
        assert set(summary["organizations"]) == {US_ORG, "60002002", "60003003", "60004004"}
        assert summary["crm"]["Deals"] == 16
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text
        assert "Generate Invoice" in page and "Lose webhooks" in page
        form = {
            "grant_type": "refresh_token",
            "client_id": settings.ZOHO_CLIENT_ID,
            "client_secret": settings.ZOHO_CLIENT_SECRET,
            "refresh_token": settings.ZOHO_REFRESH_TOKEN,
        }
        token = httpx.post(f"http://127.0.0.1:{port}/oauth/v2/token", data=form, timeout=5).json()
        assert token["access_token"].startswith("1000.")  # it takes the configured credentials
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_zoho_sandbox_command_refuses_to_run_without_debug_unless_told():
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="--even-without-debug"):
        call_command("zoho_sandbox", "--port", "1")  # pytest runs with DEBUG off


@pytest.mark.django_db(transaction=True)
def test_demo_activity_gives_the_dashboard_something_to_show(live_server, http_sandbox, demo_config, settings):
    import io

    from django.core.management import call_command
    from django.test import override_settings

    from integration.models import InvoicePush
    from sandbox.demo import deal_id

    http_sandbox.crm_button_url = f"{live_server.url}/api/crm/generate-invoice/"
    http_sandbox.crm_button_secret = settings.CRM_BUTTON_SECRET
    out = io.StringIO()
    with override_settings(DEBUG=True, PUBLIC_BASE_URL=live_server.url):
        call_command("demo_activity", "--sandbox", http_sandbox.base_url, stdout=out)
    states = set(InvoicePush.objects.values_list("state", flat=True))
    assert {"pushed", "pending_review", "failed", "blocked"} <= states
    assert "paid one invoice, wrote another off after a part payment" in out.getvalue()
    # What the demo shows of a real account's first day: an invoice in EUR, one written off, and a customer
    # Books knew by its company name only.
    books = {i["reference_number"]: i for i in http_sandbox.orgs["60001001"].invoices.values()}
    assert books[deal_id(16)]["currency_code"] == "EUR" and books[deal_id(2)]["write_off_amount"] > 0
    hooli = InvoicePush.objects.get(deal_id=deal_id(4))
    assert http_sandbox.orgs["60001001"].contacts[hooli.plan["customer_id"]]["contact_name"] == "Gavin Belson"
    from audits.models import AuditRun, DuplicateFlag

    assert AuditRun.objects.filter(state="done").count() == 4  # the Duplicates screen has findings to show
    assert DuplicateFlag.objects.filter(state="open").exists()
