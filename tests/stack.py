"""The whole product as separate processes, for end-to-end tests and benchmarks: the Zoho sandbox over
HTTP (in this process, so tests can look at its state), the Django app under `runserver`, and real Celery
workers on Redis, all on one PostgreSQL database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import redis

ROOT = Path(__file__).resolve().parent.parent
BROKER_URL = os.environ.get("TEST_BROKER_URL", "redis://127.0.0.1:6379/14")


def worker_command(name: str, *, concurrency: int, loglevel: str, pool: str = "threads") -> list[str]:
    """A Celery worker (threads pool unless told; production's default is prefork), without the chatter
    a short-lived test worker does not need."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "-P",
        pool,
        "-c",
        str(concurrency),
        "-l",
        loglevel,
        "-n",
        f"{name}@%h",
        "--without-heartbeat",
        "--without-gossip",
        "--without-mingle",
    ]


class Stack:
    def __init__(
        self, *, sandbox_url: str, database_url: str, redis_url: str, web_port: int, extra_env: dict | None = None
    ):
        self.web_url = f"http://127.0.0.1:{web_port}"
        self.web_port = web_port
        self.env = {
            **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH")},
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": BROKER_URL,
            "REDIS_URL": redis_url,
            "ZOHO_ACCOUNTS_URL": sandbox_url,
            "ZOHO_API_DOMAIN": sandbox_url,
            "CLIQ_WEBHOOK_URL": f"{sandbox_url}/api/v2/channelsbyname/payments/message?zapikey=sandbox-zapikey",
            "PUBLIC_BASE_URL": self.web_url,
            "PUSH_RETRY_BASE_SECONDS": "0.2",
            "PUSH_RETRY_MAX_SECONDS": "2",
            "PUSH_MAX_ATTEMPTS": "12",
            **(extra_env or {}),
        }
        self.logs = Path(tempfile.mkdtemp(prefix="bridge-stack-"))
        self.procs: dict[str, subprocess.Popen] = {}
        redis.Redis.from_url(BROKER_URL).flushdb()

    def _start(self, name: str, args: list[str], env: dict | None = None) -> subprocess.Popen:
        log = (self.logs / f"{name}.log").open("w")
        proc = subprocess.Popen(
            args,
            cwd=ROOT,
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def start_web(self, server: str = "runserver") -> None:
        """The web app under Django's `runserver`, or under gunicorn as production runs it."""
        if server == "gunicorn":
            args = [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py", "config.wsgi"]
            self._start("web", args, {"WEB_BIND": f"127.0.0.1:{self.web_port}"})
        else:
            self._start("web", [sys.executable, "manage.py", "runserver", f"127.0.0.1:{self.web_port}", "--noreload"])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.web_url}/accounts/login/", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError("web server did not start:\n" + self.log("web"))

    def start_worker(
        self, name: str = "worker", *, beat: bool = False, concurrency: int = 4, env: dict | None = None
    ) -> None:
        args = worker_command(name, concurrency=concurrency, loglevel="INFO")
        if beat:
            args += ["-B", "-s", str(self.logs / f"{name}-beat-schedule")]
        self._start(name, args, env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if " ready." in self.log(name):
                return
            if self.procs[name].poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"{name} did not start:\n" + self.log(name))

    def kill(self, name: str) -> None:
        """SIGKILL the process and its children: no cleanup, no acknowledgement, like a lost machine."""
        os.killpg(self.procs[name].pid, signal.SIGKILL)
        self.procs[name].wait(10)

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
