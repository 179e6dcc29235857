from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone

from integration.models import ZohoAccessToken
from integration.zoho.auth import TokenManager, current_fatal_error, forget_cached_tokens
from integration.zoho.books import BooksClient
from integration.zoho.errors import ZohoAuthError, ZohoRateLimited, ZohoTokenRevoked
from tests.conftest import at_once, test_database_url

US_ORG = "60001001"


def oauth_calls(sandbox) -> int:
    return len(sandbox.calls_to("POST", r"^/oauth/v2/token$"))


@pytest.mark.django_db
def test_one_token_serves_many_calls(sandbox):
    books = BooksClient()
    for _ in range(5):
        books.taxes(US_ORG)
    assert sandbox.token_refreshes == 1
    assert sandbox.oauth_query_credentials == 0  # credentials went in the body, never the URL


@pytest.mark.django_db(transaction=True)
def test_concurrent_threads_refresh_once(sandbox):
    tokens = at_once(20, lambda: TokenManager.from_settings().get())
    assert len(tokens) == 20 and len(set(tokens)) == 1
    assert sandbox.token_refreshes == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_processes_share_one_refresh(http_sandbox, settings):
    """Separate OS processes (like Celery workers) start together and still refresh once."""
    url = test_database_url()
    script = (
        "import django, time, sys; django.setup();"
        "from integration.zoho.auth import TokenManager;"
        "start = float(sys.argv[1]);"
        "time.sleep(max(0, start - time.time()));"
        "print(TokenManager.from_settings().get())"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": url,
        "ZOHO_ACCOUNTS_URL": http_sandbox.base_url,
        "ZOHO_API_DOMAIN": http_sandbox.base_url,
    }
    import time

    start = str(time.time() + 4)  # let every interpreter finish importing Django first
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, start],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=settings.BASE_DIR,
        )
        for _ in range(6)
    ]
    outputs = [p.communicate(timeout=60) for p in procs]
    tokens = {out.strip().splitlines()[-1] for out, _ in outputs if out.strip()}
    assert all(p.returncode == 0 for p in procs), [err for _, err in outputs]
    assert len(tokens) == 1
    assert http_sandbox.token_refreshes == 1


@pytest.mark.django_db
def test_an_expired_token_is_refreshed_once_and_the_call_retried(sandbox):
    books = BooksClient()
    books.organization_get(US_ORG)
    sandbox.clock.advance(3601)  # Zoho's clock: the token is dead, ours has not noticed
    assert books.organization_get(US_ORG)  # 401 code 57 → refresh → retry succeeds
    assert sandbox.token_refreshes == 2
    assert [c["status"] for c in sandbox.calls_to("GET", "/organizations/")] == [200, 401, 200]


@pytest.mark.django_db
def test_a_token_near_expiry_is_refreshed_before_use(sandbox):
    now = timezone.now()
    clock = [now]
    tokens = TokenManager.from_settings(clock=lambda: clock[0])
    first = tokens.get()
    clock[0] = now + timedelta(minutes=56)  # inside the five-minute margin
    second = tokens.get()
    assert first != second and sandbox.token_refreshes == 2


@pytest.mark.django_db
def test_a_revoked_refresh_token_is_fatal_visible_and_not_retried(sandbox, settings):
    sandbox.revoke_refresh_token("sandbox-refresh-token")
    with pytest.raises(ZohoTokenRevoked) as excinfo:
        BooksClient().taxes(US_ORG)
    assert not excinfo.value.retryable
    assert "invalid_code" in str(excinfo.value) and "ZOHO_REFRESH_TOKEN" in str(excinfo.value)
    assert settings.ZOHO_REFRESH_TOKEN not in str(excinfo.value)
    assert "invalid_code" in current_fatal_error()
    calls = oauth_calls(sandbox)
    forget_cached_tokens()
    with pytest.raises(ZohoTokenRevoked):
        TokenManager.from_settings().get()
    assert oauth_calls(sandbox) == calls  # the dead token is not hammered
    settings.ZOHO_REFRESH_TOKEN = "a-new-refresh-token"  # new credentials start afresh
    assert current_fatal_error() == ""


@pytest.mark.django_db
def test_wrong_client_credentials_are_an_auth_error(sandbox, settings):
    settings.ZOHO_CLIENT_SECRET = "wrong"
    with pytest.raises(ZohoAuthError, match="invalid_client") as excinfo:
        TokenManager.from_settings().get()
    assert "wrong" not in str(excinfo.value)


@pytest.mark.django_db
def test_a_throttled_refresh_is_retryable_with_a_wait(sandbox):
    sandbox.refresh_limit = 2
    now = timezone.now()
    clock = [now]
    tokens = TokenManager.from_settings(clock=lambda: clock[0])
    for minutes in (0, 56):
        clock[0] = now + timedelta(minutes=minutes)
        tokens.get()
    clock[0] = now + timedelta(minutes=112)
    with pytest.raises(ZohoRateLimited) as excinfo:
        tokens.get()
    assert excinfo.value.retryable and excinfo.value.retry_after == 60
    row = ZohoAccessToken.objects.get()
    assert "throttling" in row.last_error and row.fatal_error == ""


def test_missing_credentials_are_reported_plainly(settings):
    settings.ZOHO_CLIENT_ID = ""
    with pytest.raises(ZohoAuthError, match="ZOHO_CLIENT_ID"):
        TokenManager.from_settings()


@pytest.mark.django_db(transaction=True)
def test_a_process_that_read_the_row_before_another_refreshed_takes_that_token(sandbox):
    """Process B reads the token row (stale), and is slow; process A refreshes and frees the claim meanwhile. B must
    not claim the free row and refresh a second time: it takes A's token. (Seen once as a second refresh among six
    processes on a busy machine.) Each actor goes straight to the shared row, as separate processes do."""
    import threading
    import time

    from django.db import connection, connections

    TokenManager.from_settings().get()
    ZohoAccessToken.objects.update(expires_at=None)  # stale for everyone
    forget_cached_tokens()
    read_stale, token_reads, tokens = threading.Event(), [], {}

    def slow_after_reading_the_row(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.startswith("SELECT") and 'FROM "integration_zohoaccesstoken"' in sql:
            token_reads.append(sql)
            if len(token_reads) == 2:  # the loop's read of the row (the first is get_or_create's)
                read_stale.set()
                time.sleep(1.0)
        return result

    def slow_b() -> None:
        try:
            with connection.execute_wrapper(slow_after_reading_the_row):
                tokens["b"] = TokenManager.from_settings()._load_or_refresh()[0]
        finally:
            connections.close_all()

    def a() -> None:
        read_stale.wait(10)
        try:
            tokens["a"] = TokenManager.from_settings()._load_or_refresh()[0]
        finally:
            connections.close_all()

    actors = [threading.Thread(target=slow_b), threading.Thread(target=a)]
    for actor in actors:
        actor.start()
    for actor in actors:
        actor.join(timeout=30)
    assert tokens["a"] == tokens["b"]
    assert sandbox.token_refreshes == 2  # the first token, and A's refresh: not B's
