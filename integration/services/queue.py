"""Handing work to a worker: after the current transaction commits (at once when there is none)."""

from __future__ import annotations

from django.db import transaction


def enqueue(task_name: str, *args) -> None:
    """Send `integration.tasks.<task_name>(*args)` once the surrounding transaction has committed."""
    from integration import tasks  # tasks import the services: resolve late

    task = getattr(tasks, task_name)
    transaction.on_commit(lambda: task.delay(*args))
