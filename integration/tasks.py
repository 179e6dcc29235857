"""The Celery tasks, each defined beside the service it drives and registered here (`celery -A config
worker` discovers this module). Task names are stable: `integration.tasks.<name>`."""

from __future__ import annotations

from audits.runs import audit_due_task, audit_step_task
from integration.services.alerts import push_alert_task
from integration.services.attempt import push_execute_task
from integration.services.bulk import bulk_replay_task
from integration.services.cliq_posts import cliq_post_task
from integration.services.csv_jobs import csv_import_task
from integration.services.reconcile import reconcile_task
from integration.services.sweeper import push_sweep_task
from integration.services.webhook_inbox import webhook_drain_task
from integration.services.webhooks import webhook_process_task

__all__ = [
    "audit_due_task",
    "audit_step_task",
    "bulk_replay_task",
    "cliq_post_task",
    "csv_import_task",
    "push_alert_task",
    "push_execute_task",
    "push_sweep_task",
    "reconcile_task",
    "webhook_drain_task",
    "webhook_process_task",
]
