"""What both benchmarks do first: a clean database and Redis, with the demo configuration loaded."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def prepare(*, database: str, redis_url: str, env: dict[str, str]) -> None:
    """Set the environment, create/migrate/flush the database, load the demo tables, flush Redis."""
    os.environ.update(env)
    _create_database(database)
    import django
    import redis

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    call_command("import_legal_entities", str(ROOT / "demo/legal_entities.csv"), verbosity=0)
    call_command("import_tax_map", str(ROOT / "demo/tax_map.csv"), verbosity=0)
    redis.Redis.from_url(redis_url).flushdb()


def _create_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
