"""The production install, as an operator runs it: a virtualenv made from requirements.txt alone (no dev
requirements; scripts/test builds it in .venv-prod), `scripts/serve` starting gunicorn, a Celery worker and
Celery beat on PostgreSQL and Redis with DEBUG off, and the CRM button pressed through the sandbox over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest
import redis
from django.core.management import call_command

from sandbox.demo import US_ORG, deal_id
from tests.conftest import at_once, free_port, test_database_url

ROOT = Path(__file__).resolve().parents[2]
PROD_PYTHON = Path(os.environ.get("PROD_PYTHON", ROOT / ".venv-prod" / "bin" / "python"))
BROKER = os.environ.get("TEST_PROD_BROKER_URL", "redis://127.0.0.1:6379/13")

pytestmark = pytest.mark.django_db(transaction=True)


def wait_until(condition, what: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = condition()
        except httpx.HTTPError:
            result = None
        if result:
            return result
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_runtime_requirements_alone_run_web_worker_and_beat(http_sandbox, settings):
    assert PROD_PYTHON.exists(), "scripts/test builds .venv-prod from requirements.txt before pytest runs"
    installed = subprocess.run(
        [PROD_PYTHON, "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True, check=True
    ).stdout.lower()
    assert "pytest" not in installed  # nothing from the dev requirements can hide a missing runtime package

    # The tables as an operator loads them, into the database the process set uses.
    call_command("import_legal_entities", str(ROOT / "demo" / "legal_entities.csv"), verbosity=0)
    call_command("import_tax_map", str(ROOT / "demo" / "tax_map.csv"), verbosity=0)
    redis.Redis.from_url(BROKER).flushdb()
    port = free_port()
    web = f"http://127.0.0.1:{port}"
    http_sandbox.webhook_url = f"{web}/api/books/webhook/{{organization_id}}/"
    http_sandbox.webhook_token = settings.BOOKS_WEBHOOK_TOKEN
    http_sandbox.crm_button_url = f"{web}/api/crm/generate-invoice/"
    http_sandbox.crm_button_secret = settings.CRM_BUTTON_SECRET
    work = Path(tempfile.mkdtemp(prefix="bridge-prod-"))
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "ENV_FILE": "",
        "PYTHON": str(PROD_PYTHON),
        "DEBUG": "false",
        "SECRET_KEY": "k3#p9@q4$w8%e3^r6&t1*y5(u0)i-o=p+a[s]d{f}g|h;j:k-prod-smoke",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": test_database_url(),
        "CELERY_BROKER_URL": BROKER,
        "CELERY_BEAT_SCHEDULE_FILENAME": str(work / "beat"),
        "STATIC_ROOT": str(work / "static"),
        "WEB_BIND": f"127.0.0.1:{port}",
        "WEB_WORKERS": "2",
        "PUBLIC_BASE_URL": web,
        "ZOHO_ACCOUNTS_URL": http_sandbox.base_url,
        "ZOHO_API_DOMAIN": http_sandbox.base_url,
        "ZOHO_CLIENT_ID": settings.ZOHO_CLIENT_ID,
        "ZOHO_CLIENT_SECRET": settings.ZOHO_CLIENT_SECRET,
        "ZOHO_REFRESH_TOKEN": settings.ZOHO_REFRESH_TOKEN,
        "CRM_BUTTON_SECRET": settings.CRM_BUTTON_SECRET,
        "BOOKS_WEBHOOK_TOKEN": settings.BOOKS_WEBHOOK_TOKEN,
        "CLIQ_WEBHOOK_URL": settings.CLIQ_WEBHOOK_URL,
    }
    log = (work / "serve.log").open("w")
    proc = subprocess.Popen(
        [str(ROOT / "scripts" / "serve")],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        health = wait_until(lambda: httpx.get(f"{web}/healthz", timeout=5), "gunicorn to answer", timeout=90)
        assert health.status_code == 200, health.text
        body = health.json()
        assert isinstance(body.pop("books_calls_today"), dict) and isinstance(body.pop("reconciliation"), dict)
        assert body | {"zoho_token": "?"} == {
            "status": "ok",
            "database": "ok",
            "broker": "ok",
            "zoho_token": "?",
            "books_paused": [],
        }
        assert settings.ZOHO_CLIENT_SECRET not in health.text
        static = httpx.get(f"{web}/static/vendor/htmx-2.min.js", timeout=5)
        assert static.status_code == 200 and "htmx" in static.text  # served with DEBUG off

        deal = deal_id(2)
        replies = at_once(5, lambda: http_sandbox.crm_button_press(deal, "ava@acme.example"))
        assert {r.status for r in replies} == {200}  # the sandbox relayed each press
        assert {r.body["http_status"] for r in replies} <= {200, 202}, replies[0].body
        invoice_number = wait_until(
            lambda: http_sandbox.crm["Deals"][deal].get("Invoice_Number"), "the deal to be stamped", timeout=90
        )
        invoices = [i for i in http_sandbox.orgs[US_ORG].invoices.values() if i["reference_number"] == deal]
        assert [i["invoice_number"] for i in invoices] == [invoice_number]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError("the process set did not stop within 40 s of SIGTERM") from None
    output = (work / "serve.log").read_text()
    for name in ("web.1", "worker.1", "beat.1"):
        assert f"{name} started" in output, output[-3000:]
    assert "celery@" in output and "beat: Starting" in output and "Listening at" in output
    assert "Traceback" not in output, output[-5000:]
    for secret in (settings.ZOHO_REFRESH_TOKEN, settings.ZOHO_CLIENT_SECRET, "sandbox-zapikey"):
        assert secret not in output  # web and worker logs are masked
