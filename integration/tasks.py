"""Celery tasks: adapters that take ids, call a service, and schedule the retry the service asks for."""

from __future__ import annotations

import time

from celery import shared_task

from integration.services.push import push_execute, push_sweep

EAGER_MAX_SLEEP_SECONDS = 5.0


@shared_task(bind=True)
def push_execute_task(self, push_id: int) -> None:
    """Run one attempt of a push; on a retryable failure, send ourselves again after the backoff.

    Without a broker (tasks run in-process) there is nobody to send to: wait here instead, briefly.
    """
    delay = push_execute(push_id=push_id)
    if delay is None:
        return
    if not self.request.is_eager:
        push_execute_task.apply_async((push_id,), countdown=delay)
        return
    while delay is not None:
        time.sleep(min(delay, EAGER_MAX_SLEEP_SECONDS))
        delay = push_execute(push_id=push_id)


@shared_task
def push_sweep_task() -> int:
    """Every minute (beat): re-queue pushes whose worker vanished and resend due ones."""
    due = push_sweep()
    for push_id in due:
        push_execute_task.delay(push_id)
    return len(due)
