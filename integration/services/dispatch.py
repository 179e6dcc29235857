"""Handing work to a worker: after the current transaction commits (at once when there is none).

The database row is the truth, the message only a nudge: when the broker cannot take the message (Redis is
down), the work stays recorded and the sweeper (sweeper.py) sends it once the broker is back. Sending never
turns a request that has committed its work into an error."""

from __future__ import annotations

import logging

from celery import Task
from django.db import transaction

from integration.redaction import redact_text

logger = logging.getLogger(__name__)


def send(task: Task, *args, **options) -> bool:
    """Send `task(*args)` now; False (logged, never raised) when the broker cannot take it."""
    try:
        if options:
            task.apply_async(args, **options)
        else:
            task.delay(*args)
    except Exception as exc:  # kombu/redis connection errors, and anything else the broker raises
        if task.app.conf.task_always_eager:
            raise  # in-process: this is the work itself failing, not the broker
        logger.warning(
            "The task queue did not take %s%s (%s); the sweeper sends it when the queue is back",
            task.name,
            args,
            redact_text(f"{type(exc).__name__}: {exc}"),
        )
        return False
    return True


def after_commit(task: Task, *args) -> None:
    """Send `task(*args)` once the surrounding transaction has committed, so the worker sees the rows."""
    transaction.on_commit(lambda: send(task, *args))
