"""Gunicorn settings for the web app (`gunicorn -c config/gunicorn.py config.wsgi`).

Threads rather than processes: requests mostly wait on the database and the broker, and each thread keeps
its own persistent database connection (CONN_MAX_AGE), so a request does not pay for a new connection.
"""

from __future__ import annotations

import multiprocessing
import os

bind = os.environ.get("WEB_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_WORKERS", max(2, multiprocessing.cpu_count())))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", 8))
# The CRM button's caller gives up at 40 s; a request never needs longer than that.
timeout = int(os.environ.get("WEB_TIMEOUT", 45))
graceful_timeout = 20
keepalive = 5
accesslog = "-"
errorlog = "-"
# Behind the TLS proxy: trust its X-Forwarded-* headers (the proxy is the only way in).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
