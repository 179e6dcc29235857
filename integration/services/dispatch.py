"""Handing work to a worker: after the current transaction commits (at once when there is none)."""

from __future__ import annotations

from celery import Task
from django.db import transaction


def after_commit(task: Task, *args) -> None:
    """Send `task(*args)` once the surrounding transaction has committed, so the worker sees the rows."""
    transaction.on_commit(lambda: task.delay(*args))
