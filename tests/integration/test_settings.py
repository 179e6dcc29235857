from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest
from django.conf import settings

from integration.redaction import RedactingFilter, redact

PROD_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "x7!k2#p9@q4$w8%e3^r6&t1*y5(u0)i-o=p+a[s]d{f}g|h;j:k",
    "ALLOWED_HOSTS": "bridge.example.com",
    "DATABASE_URL": "sqlite:////tmp/invoice-bridge-check.sqlite3",
    "PUBLIC_BASE_URL": "https://bridge.example.com",
}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    # A clean environment: the test run's own defaults (tests/settings.py) must not leak in.
    base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "PYTHONPATH") if k in os.environ}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        env={**base, "ENV_FILE": "", **env},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=settings.BASE_DIR,
    )


def test_production_refuses_to_start_without_a_real_secret_key():
    result = manage("check", env={**PROD_ENV, "SECRET_KEY": ""})
    assert result.returncode != 0
    assert "SECRET_KEY must be set to a real secret" in result.stderr
    result = manage("check", env={**PROD_ENV, "SECRET_KEY": "django-insecure-" + "a" * 50})
    assert result.returncode != 0


def test_production_settings_pass_the_deploy_check():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PROD_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_tasks_run_eagerly_without_a_broker_and_on_redis_with_one():
    code = "from django.conf import settings as s; print(s.CELERY_TASK_ALWAYS_EAGER, s.CACHES['default']['BACKEND'])"
    eager = manage("shell", "-c", code, env={"DEBUG": "true", "CELERY_BROKER_URL": "", "REDIS_URL": ""})
    # The rate-limit window lives in a store every process shares, never in one process' memory.
    assert eager.stdout.split()[-2:] == ["True", "django.core.cache.backends.db.DatabaseCache"]
    embedded = manage("shell", "-c", code, env={"DEBUG": "true", "CELERY_BROKER_URL": "filesystem://", "REDIS_URL": ""})
    assert embedded.stdout.split()[-2:] == ["False", "django.core.cache.backends.db.DatabaseCache"]
    queued = manage("shell", "-c", code, env={"DEBUG": "true", "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0"})
    assert queued.stdout.split()[-2:] == ["False", "integration.cache.ForgivingRedisCache"]


def test_celery_reliability_settings():
    assert settings.CELERY_TASK_ACKS_LATE and settings.CELERY_TASK_REJECT_ON_WORKER_LOST
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
    assert settings.CELERY_TASK_SOFT_TIME_LIMIT < settings.CELERY_TASK_TIME_LIMIT


def test_logs_never_show_secrets(settings):
    settings.ZOHO_REFRESH_TOKEN = "1000.refreshsecret.abcdef"
    record = logging.LogRecord(
        "x",
        logging.INFO,
        __file__,
        1,
        "POST %s with refresh_token=%s, header Zoho-oauthtoken 1000.0123456789abcdef.0123456789abcdef",
        (settings.CLIQ_WEBHOOK_URL, "1000.refreshsecret.abcdef"),
        None,
    )
    RedactingFilter().filter(record)
    text = record.getMessage()
    assert "sandbox-zapikey" not in text and "refreshsecret" not in text and "0123456789abcdef" not in text


def test_tracebacks_are_redacted_too(settings):
    try:
        raise ValueError(f"failed calling {settings.CLIQ_WEBHOOK_URL}")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", (), sys.exc_info())
    RedactingFilter().filter(record)
    assert "sandbox-zapikey" not in record.getMessage() and "ValueError" in record.getMessage()


def test_stored_payloads_are_redacted():
    cleaned = redact({"headers": {"Authorization": "Zoho-oauthtoken abc", "X-Webhook-Token": "t"}, "n": 1, "l": ["a"]})
    assert cleaned == {"headers": {"Authorization": "[redacted]", "X-Webhook-Token": "[redacted]"}, "n": 1, "l": ["a"]}


@pytest.mark.parametrize("name", ["httpx", "httpcore"])
def test_http_libraries_do_not_log_urls_at_info(name):
    assert logging.getLogger(name).getEffectiveLevel() >= logging.WARNING
