"""Celery tasks: adapters that take ids, call a service, and schedule the retry the service asks for."""

from __future__ import annotations

from celery import shared_task

from integration.services.push import push_execute, push_sweep


@shared_task
def push_execute_task(push_id: int) -> None:
    """Run one attempt of a push; on a retryable failure, send ourselves again after the backoff."""
    delay = push_execute(push_id=push_id)
    if delay is not None:
        push_execute_task.apply_async((push_id,), countdown=delay)


@shared_task
def push_sweep_task() -> int:
    """Every minute (beat): re-queue pushes whose worker vanished and resend due ones."""
    due = push_sweep()
    for push_id in due:
        push_execute_task.delay(push_id)
    return len(due)
