"""The retry policy, in one place for pushes, webhook deliveries and Cliq posts: exponential backoff with
jitter; waiting for our own pacing (`HoldBack`) never spends an attempt; without a broker (tasks run
in-process) retries wait inside the caller, within a budget the CRM button's 40 s timeout allows."""

from __future__ import annotations

import random
import time

from django.conf import settings

from integration.services.dispatch import send
from integration.zoho.errors import HoldBack, ZohoError

EAGER_MAX_SLEEP_SECONDS = 5.0
# In-process retries run inside an HTTP request (the CRM button's caller gives up at 40 s).
EAGER_RETRY_BUDGET_SECONDS = 15.0
EAGER_MAX_ATTEMPTS = 3
EAGER_MAX_DEFERRALS = 20
WEBHOOK_MAX_ATTEMPTS = 8
# Longer waits (Books' daily cap) are not sent as countdowns: a broker may redeliver a message held
# that long. The push stays queued with its time on the row, and the sweeper sends it when it is due.
MAX_COUNTDOWN_SECONDS = 600.0


def retry_delay(attempt: int, retry_after: float | None) -> float:
    """Exponential backoff with jitter, at least what Zoho asked for."""
    base = settings.PUSH_RETRY_BASE_SECONDS * (2 ** max(0, attempt - 1))
    delay = min(settings.PUSH_RETRY_MAX_SECONDS, base) * random.uniform(0.5, 1.0)
    return max(delay, retry_after or 0.0)


def retry_later(task, args: tuple, exc: ZohoError, attempt: int, deferrals: int) -> bool:
    """Schedule another try of a webhook-side task after a retryable Zoho error; False when out of tries.

    Waiting for our own limiter or for Books' daily cap (`HoldBack`) is not a failed attempt."""
    deferred = isinstance(exc, HoldBack)
    if task.request.is_eager:
        if (deferred and deferrals >= EAGER_MAX_DEFERRALS) or (not deferred and attempt >= EAGER_MAX_ATTEMPTS):
            return False
    elif not deferred and attempt >= WEBHOOK_MAX_ATTEMPTS:
        return False
    if not exc.retryable:
        return False
    delay = (exc.retry_after or 1.0) if deferred else retry_delay(attempt, getattr(exc, "retry_after", None))
    kwargs = {"attempt": attempt if deferred else attempt + 1, "deferrals": deferrals + (1 if deferred else 0)}
    if task.request.is_eager:
        time.sleep(min(delay, EAGER_MAX_SLEEP_SECONDS))
        task.apply(args, kwargs=kwargs)
    else:
        send(task, *args, kwargs=kwargs, countdown=min(delay, MAX_COUNTDOWN_SECONDS))
    return True
