from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from integration import ratelimit
from integration.zoho.errors import HoldBack
from tests.conftest import test_database_url

pytestmark = pytest.mark.django_db

REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_limiter(settings):
    settings.REDIS_URL = REDIS
    ratelimit.reset()
    yield
    ratelimit.reset()


@pytest.mark.django_db(transaction=True)
def test_the_limit_is_shared_by_every_process(redis_limiter, settings):
    settings.BOOKS_RATE_LIMIT_PER_MINUTE = 12
    script = (
        "import django; django.setup();"
        "from integration.ratelimit import books_acquire;"
        "from integration.zoho.errors import HoldBack\n"
        "got = 0\n"
        "for _ in range(10):\n"
        "    try:\n"
        "        books_acquire('60001001', max_wait=0); got += 1\n"
        "    except HoldBack:\n"
        "        pass\n"
        "print(got)"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": test_database_url(),
        "REDIS_URL": REDIS,
        "BOOKS_RATE_LIMIT_PER_MINUTE": "12",
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script], env=env, cwd=settings.BASE_DIR, stdout=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    granted = [int(p.communicate(timeout=60)[0].strip().splitlines()[-1]) for p in procs]
    assert sum(granted) == 12  # thirty attempts from three processes, twelve slots in the window
    with pytest.raises(HoldBack):
        ratelimit.books_acquire("60001001", max_wait=0)
    ratelimit.books_acquire("60002002", max_wait=0)  # other organizations have their own window


def test_a_caller_waits_for_a_slot_when_allowed(redis_limiter, settings):
    settings.BOOKS_RATE_LIMIT_PER_MINUTE = 2
    settings.BOOKS_RATE_LIMIT_WINDOW_SECONDS = 0.5
    started = time.monotonic()
    waits = [ratelimit.books_acquire("org", max_wait=5) for _ in range(5)]
    assert waits[:2] == [0.0, 0.0] and waits[2] > 0 and waits[4] > 0  # slots free two at a time
    assert time.monotonic() - started >= 1.0  # five calls at two per half second


def test_deferral_says_how_long_to_wait(redis_limiter, settings):
    settings.BOOKS_RATE_LIMIT_PER_MINUTE = 1
    ratelimit.books_acquire("org", max_wait=0)
    with pytest.raises(HoldBack) as excinfo:
        ratelimit.books_acquire("org", max_wait=0)
    assert 60 < excinfo.value.retry_after <= 61 and excinfo.value.retryable  # 60 s plus the latency guard
    assert "the limit of 1 Books calls per minute for organization org" in str(excinfo.value)


def test_without_redis_the_window_is_in_process(settings):
    settings.REDIS_URL = ""
    settings.BOOKS_RATE_LIMIT_PER_MINUTE = 3
    ratelimit.reset()
    for _ in range(3):
        ratelimit.books_acquire("org", max_wait=0)
    with pytest.raises(HoldBack):
        ratelimit.books_acquire("org", max_wait=0)


@pytest.fixture(params=["redis", "database"])
def window(request, settings):
    settings.REDIS_URL = REDIS if request.param == "redis" else ""
    ratelimit.reset()
    yield ratelimit._window()
    ratelimit.reset()


def test_a_waiting_push_takes_the_next_free_slot_before_an_audit_page(window):
    limit, span = 1, 0.6
    assert window.try_acquire("org", limit, span, priority=2, waiter="audit-1") == 0  # an audit page fills the window
    assert window.try_acquire("org", limit, span, priority=0, waiter="push") > 0  # a push now waits for the slot
    time.sleep(span + 0.05)  # the slot is free again
    assert window.try_acquire("org", limit, span, priority=2, waiter="audit-2") > 0  # the audit page asked first...
    assert window.try_acquire("org", limit, span, priority=1, waiter="reconcile") > 0  # ...and so did reconciliation
    assert window.try_acquire("org", limit, span, priority=0, waiter="push") == 0  # but the push gets the slot
    time.sleep(span + 0.05)
    assert window.try_acquire("org", limit, span, priority=2, waiter="audit-2") > 0  # reconciliation waits, ahead
    assert window.try_acquire("org", limit, span, priority=1, waiter="reconcile") == 0
    time.sleep(span + 0.05)
    assert window.try_acquire("org", limit, span, priority=2, waiter="audit-2") == 0  # last, and served


def test_a_waiter_that_stops_asking_no_longer_holds_others_back(window):
    assert window.try_acquire("org", 1, 0.3, priority=2, waiter="audit") == 0
    assert window.try_acquire("org", 1, 0.3, priority=0, waiter="push") > 0
    window.forget("org", priority=0, waiter="push")  # the push held back; it retries later
    time.sleep(0.35)
    assert window.try_acquire("org", 1, 0.3, priority=2, waiter="audit") == 0


def test_books_acquire_serves_pushes_before_audits(redis_limiter, settings):
    """Through the public door: an audit page that has waited longer still goes after a push waiting with it."""
    import threading

    from integration.ledger import Work, working_on

    settings.BOOKS_RATE_LIMIT_PER_MINUTE = 1
    settings.BOOKS_RATE_LIMIT_WINDOW_SECONDS = 0.6
    served: list[str] = []

    def take(work: str) -> None:
        with working_on(work):
            ratelimit.books_acquire("org", max_wait=10)
        served.append(work)

    ratelimit.books_acquire("org", max_wait=0)
    audits = [threading.Thread(target=take, args=(Work.AUDIT,)) for _ in range(3)]
    for thread in audits:
        thread.start()
    time.sleep(0.2)  # the audit pages are waiting first
    push = threading.Thread(target=take, args=(Work.PUSH,))
    push.start()
    for thread in [*audits, push]:
        thread.join(timeout=30)
    assert served[0] == Work.PUSH and served.count(Work.AUDIT) == 3
