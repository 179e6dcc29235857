"""What both benchmarks do first: a clean database and Redis, with the demo configuration loaded."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def prepare(*, database: str, redis_url: str, env: dict[str, str], keep: bool = False) -> None:
    """Set the environment, create/migrate/flush the database (`keep`: no flush), load the demo tables, flush
    Redis."""
    os.environ.update(env)
    _create_database(database)
    import django
    import redis

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if not keep:
        call_command("flush", interactive=False, verbosity=0)
    call_command("import_legal_entities", str(ROOT / "demo/legal_entities.csv"), verbosity=0)
    call_command("import_tax_map", str(ROOT / "demo/tax_map.csv"), verbosity=0)
    redis.Redis.from_url(redis_url).flushdb()


def prepare_database(database: str, *, redis_db: int = 12, keep: bool = False, **env: str) -> None:
    """`prepare` for a benchmark without processes: the test settings on `database` and Redis db `redis_db`."""
    redis_url = f"redis://127.0.0.1:6379/{redis_db}"
    settings = {"DJANGO_SETTINGS_MODULE": "tests.settings", "LOG_LEVEL": "WARNING", "DATABASE_URL": database}
    prepare(database=database, redis_url=redis_url, env={**settings, "REDIS_URL": redis_url, **env}, keep=keep)


def _create_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def add_stack_arguments(parser, *, port: int, web_port: int) -> None:
    """The options every benchmark with a web app and the sandbox over HTTP takes."""
    parser.add_argument("--port", type=int, default=port, help="the sandbox's port")
    parser.add_argument("--web-port", type=int, default=web_port)
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/bench_bridge")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13")


def sandbox_and_stack(args):
    """A clean database and Redis, the demo sandbox served over HTTP (webhooks kept until flushed), and the
    product's processes ready to start (`tests.stack.Stack`; gunicorn tuning from WEB_* variables)."""
    sandbox_url = f"http://127.0.0.1:{args.port}"
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": args.database,
        "CELERY_BROKER_URL": args.redis,
        "REDIS_URL": args.redis,
        "ZOHO_ACCOUNTS_URL": sandbox_url,
        "ZOHO_API_DOMAIN": sandbox_url,
    }
    prepare(database=args.database, redis_url=args.redis, env=env)
    from integration.setup_guide import OAUTH_SCOPES
    from sandbox import Sandbox, serve
    from tests.stack import Stack

    sandbox = Sandbox(base_url=sandbox_url, demo=True, scopes=OAUTH_SCOPES)
    sandbox.webhook_mode = "manual"
    serve(sandbox, port=args.port, background=True)
    stack = Stack(
        sandbox_url=sandbox_url,
        database_url=args.database,
        redis_url=args.redis,
        web_port=args.web_port,
        extra_env={
            "CELERY_BROKER_URL": args.redis,
            "LOG_LEVEL": "WARNING",
            **{k: v for k, v in os.environ.items() if k.startswith("WEB_")},
        },
    )
    return sandbox, stack


def wait(condition, timeout: float = 120) -> None:
    """Poll until `condition()` is true, or stop the benchmark after `timeout` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        time.sleep(0.2)
