"""Invoice Bridge settings, read from the environment (see CONTRACT.md §1 and .env.example).

Runnable defaults exist only for development (`DEBUG=true`): SQLite, eager Celery tasks, a throwaway
SECRET_KEY. With DEBUG off the process refuses to start without a real SECRET_KEY and ALLOWED_HOSTS.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from integration.zoho.weblinks import web_hosts

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# Optional; real environment variables win. The demo writes one; the test suite sets ENV_FILE="" to ignore it.
ENV_FILE = os.environ.get("ENV_FILE", str(BASE_DIR / ".env"))
if ENV_FILE:
    environ.Env.read_env(ENV_FILE)

DEBUG = env.bool("DEBUG", default=False)

_DEV_SECRET_KEY = "django-insecure-dev-only-never-in-production"
SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET_KEY if DEBUG else "")
if not DEBUG and (len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure") or len(set(SECRET_KEY)) < 5):
    raise ImproperlyConfigured("SECRET_KEY must be set to a real secret (50+ random characters) when DEBUG is off.")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off.")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "simple_history",
    "axes",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.zoho",
    "integration",
    "audits",
]

MIDDLEWARE = [
    # First: a load balancer's probe needs no host check, no HTTPS redirect and no session.
    "integration.middleware.health_check",
    "integration.middleware.refuse_unstorable",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "csp.middleware.CSPMiddleware",
    "integration.middleware.no_store",
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "integration.context_processors.zoho_status",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock at BEGIN, so `atomic()` blocks serialise instead of failing
    # with "database is locked" halfway through; WAL lets readers carry on meanwhile.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL;",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Shared store: cache, Books rate limiter, creation locks ----------------------------------
# Every process must see the same rate-limit window and creation locks, so there is no per-process
# store: Redis when configured, otherwise the database (the `bridge_cache` table and `BooksCallWindow`).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
REDIS_URL = env.str("REDIS_URL", default=CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else "")
if REDIS_URL:
    # Redis being away is a cache miss (integration/cache.py), and a short one: no request waits on it.
    CACHES = {
        "default": {
            "BACKEND": "integration.cache.ForgivingRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "bridge_cache"}}

# --- Celery ---------------------------------------------------------------------------------
# No broker configured: run tasks eagerly in-process (the contract's zero-setup default, for management
# commands and the simplest setups). The in-memory transport is named only so that nothing ever tries a
# broker on localhost. `filesystem://` is the embedded broker the demo uses when no Redis is reachable:
# messages are files under CELERY_FILESYSTEM_DIR, shared by every process on the machine.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_BROKER_URL = CELERY_BROKER_URL or "memory://"
CELERY_FILESYSTEM_DIR = env.path("CELERY_FILESYSTEM_DIR", default=BASE_DIR / "var" / "broker")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True  # a task killed mid-run is redelivered, not lost
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1  # long Zoho calls: do not hoard messages
# A task is told to stop at the soft limit and killed at the hard one (prefork; the threads pool has no hard limit).
CELERY_TASK_TIME_LIMIT = env.int("TASK_TIME_LIMIT_SECONDS", default=300)
# The soft limit leaves the task a fifth of the hard limit (at most a minute) to record where it stopped.
CELERY_TASK_SOFT_TIME_LIMIT = env.int(
    "TASK_SOFT_TIME_LIMIT_SECONDS", default=CELERY_TASK_TIME_LIMIT - max(1, min(60, CELERY_TASK_TIME_LIMIT // 5))
)
if not 0 < CELERY_TASK_SOFT_TIME_LIMIT < CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured(
        f"TASK_SOFT_TIME_LIMIT_SECONDS ({CELERY_TASK_SOFT_TIME_LIMIT}) must be above 0 and below "
        f"TASK_TIME_LIMIT_SECONDS ({CELERY_TASK_TIME_LIMIT})."
    )
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A request that hands work to the queue while Redis is down must not hang: try briefly, then leave the work to
# the sweeper (integration/services/dispatch.py).
CELERY_BROKER_CONNECTION_TIMEOUT = 4
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 3, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
# Longer than the longest task plus its retries' countdowns, so acks_late never double-runs a live task.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue, _control = Path(CELERY_FILESYSTEM_DIR) / "queue", Path(CELERY_FILESYSTEM_DIR) / "control"
    _queue.mkdir(parents=True, exist_ok=True)
    _control.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue),
        "data_folder_out": str(_queue),
        "control_folder": str(_control),
    }
CELERY_TIMEZONE = "UTC"
# Keep Django's logging (and its secret-masking filter) in the worker instead of Celery's own handlers.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = env.str("CELERY_BEAT_SCHEDULE_FILENAME", default=str(BASE_DIR / "var" / "beat"))
PUSH_SWEEP_INTERVAL_SECONDS = env.float("PUSH_SWEEP_INTERVAL_SECONDS", default=60.0)
# Work recorded this long ago without a worker on it (its message was lost, or the queue was down) is sent again.
SWEEP_GRACE_SECONDS = env.float("SWEEP_GRACE_SECONDS", default=60.0)
RECONCILE_INTERVAL_SECONDS = env.float("RECONCILE_INTERVAL_SECONDS", default=300.0)
# Books' modification times count whole seconds: an invoice listed with the time we last applied is skipped (no
# call) only if we read it at least this long after that time, clock differences included.
RECONCILE_SAME_SECOND_MARGIN_SECONDS = env.float("RECONCILE_SAME_SECOND_MARGIN_SECONDS", default=5.0)
# Duplicate audits: every organization is audited when none finished within AUDIT_EVERY_DAYS (0: only on demand);
# beat looks hourly. A worker works on a run for AUDIT_SLICE_SECONDS at a time (below the task time limit);
# a run without progress for AUDIT_STALE_SECONDS lost its worker and is carried on by the next look.
AUDIT_EVERY_DAYS = env.int("AUDIT_EVERY_DAYS", default=91)
AUDIT_SLICE_SECONDS = env.float("AUDIT_SLICE_SECONDS", default=120.0)
AUDIT_STALE_SECONDS = env.float("AUDIT_STALE_SECONDS", default=300.0)
AUDIT_READ_RETRIES = env.int("AUDIT_READ_RETRIES", default=3)
# Audits never use more than this share of an organization's daily Books cap (its legal entity's): they pause and
# carry on the next (UTC) day, so pushes and webhook syncs always keep the rest.
AUDIT_DAILY_SHARE = env.float("AUDIT_DAILY_SHARE", default=0.25)
CELERY_BEAT_SCHEDULE = {
    "push-sweep": {"task": "integration.tasks.push_sweep_task", "schedule": PUSH_SWEEP_INTERVAL_SECONDS},
    "reconcile": {"task": "integration.tasks.reconcile_task", "schedule": RECONCILE_INTERVAL_SECONDS},
    "audits-due": {"task": "integration.tasks.audit_due_task", "schedule": 3600.0},
}

# --- Zoho and the other contract variables (CONTRACT.md §1) ---------------------------------
ZOHO_ACCOUNTS_URL = env.str("ZOHO_ACCOUNTS_URL", default="https://accounts.zoho.com").rstrip("/")
ZOHO_API_DOMAIN = env.str("ZOHO_API_DOMAIN", default="https://www.zohoapis.com").rstrip("/")
ZOHO_CRM_API_VERSION = env.str("ZOHO_CRM_API_VERSION", default="v8")
ZOHO_CLIENT_ID = env.str("ZOHO_CLIENT_ID", default="")
ZOHO_CLIENT_SECRET = env.str("ZOHO_CLIENT_SECRET", default="")
ZOHO_REFRESH_TOKEN = env.str("ZOHO_REFRESH_TOKEN", default="")
CRM_BUTTON_SECRET = env.str("CRM_BUTTON_SECRET", default="")
BOOKS_WEBHOOK_TOKEN = env.str("BOOKS_WEBHOOK_TOKEN", default="")
CLIQ_WEBHOOK_URL = env.str("CLIQ_WEBHOOK_URL", default="")
# A second Cliq channel for problems (a push waiting for review, needing a decision, or giving up): unset, none.
CLIQ_ALERTS_URL = env.str("CLIQ_ALERTS_URL", default="")
BOOKS_RATE_LIMIT_PER_MINUTE = env.int("BOOKS_RATE_LIMIT_PER_MINUTE", default=90)
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://localhost:8000").rstrip("/")
# Links into CRM's and Books' own screens: derived from the data centre of ZOHO_ACCOUNTS_URL unless set.
_CRM_WEB, _BOOKS_WEB = web_hosts(ZOHO_ACCOUNTS_URL)
ZOHO_CRM_WEB_URL = env.str("ZOHO_CRM_WEB_URL", default=_CRM_WEB).rstrip("/")
ZOHO_BOOKS_WEB_URL = env.str("ZOHO_BOOKS_WEB_URL", default=_BOOKS_WEB).rstrip("/")
# The limit's window (Books counts per minute); shorter only in tests and benchmarks.
BOOKS_RATE_LIMIT_WINDOW_SECONDS = env.float("BOOKS_RATE_LIMIT_WINDOW_SECONDS", default=60.0)
# A worker waits at most this long for a free Books slot before handing the push back for a later retry.
BOOKS_RATE_LIMIT_MAX_WAIT = env.float("BOOKS_RATE_LIMIT_MAX_WAIT", default=20.0)
# Push retries: exponential backoff with jitter from the base, capped, for this many attempts in all.
PUSH_MAX_ATTEMPTS = env.int("PUSH_MAX_ATTEMPTS", default=8)
# Four eyes: whoever requested a push that needs review cannot approve it. On only for a team of one.
REVIEW_ALLOW_SELF_APPROVAL = env.bool("REVIEW_ALLOW_SELF_APPROVAL", default=False)
PUSH_RETRY_BASE_SECONDS = env.float("PUSH_RETRY_BASE_SECONDS", default=5.0)
PUSH_RETRY_MAX_SECONDS = env.float("PUSH_RETRY_MAX_SECONDS", default=600.0)
# A push "running" for longer than this lost its worker (it must exceed CELERY_TASK_TIME_LIMIT).
PUSH_RUNNING_DEADLINE_SECONDS = env.int("PUSH_RUNNING_DEADLINE_SECONDS", default=360)
if PUSH_RUNNING_DEADLINE_SECONDS <= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured(
        f"PUSH_RUNNING_DEADLINE_SECONDS ({PUSH_RUNNING_DEADLINE_SECONDS}) must be longer than the task's hard "
        f"time limit ({CELERY_TASK_TIME_LIMIT} s), or the sweeper would take pushes from live workers."
    )
# A Books create (invoice, customer, item) whose answer never came may still land: for this long after it, every
# attempt looks for the record and adopts it, and none creates it again (integration/services/fence.py).
ZOHO_CREATE_SETTLE_SECONDS = env.float("ZOHO_CREATE_SETTLE_SECONDS", default=300.0)
# Seconds of connect / read timeout for every Zoho call (the CRM button's Deluge caller gives up at 40 s).
ZOHO_CONNECT_TIMEOUT = env.float("ZOHO_CONNECT_TIMEOUT", default=5.0)
ZOHO_READ_TIMEOUT = env.float("ZOHO_READ_TIMEOUT", default=30.0)

# Values that must never reach a log line, an exception text or a stored payload.
# The database's and Redis' passwords, from their URLs, are masked like the rest.
DATABASE_PASSWORD = str(DATABASES["default"].get("PASSWORD") or "")
REDIS_PASSWORD = urlsplit(REDIS_URL).password or ""
BROKER_PASSWORD = urlsplit(CELERY_BROKER_URL).password or ""
SECRET_SETTINGS = (
    "DATABASE_PASSWORD",
    "REDIS_PASSWORD",
    "BROKER_PASSWORD",
    "SECRET_KEY",
    "ZOHO_CLIENT_SECRET",
    "ZOHO_REFRESH_TOKEN",
    "CRM_BUTTON_SECRET",
    "BOOKS_WEBHOOK_TOKEN",
    "CLIQ_WEBHOOK_URL",
    "CLIQ_ALERTS_URL",
    "ZOHO_SIGNIN_CLIENT_SECRET",
)

# --- Security -------------------------------------------------------------------------------
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[PUBLIC_BASE_URL])
X_FRAME_OPTIONS = "DENY"

# Brute-force protection (django-axes): five wrong passwords for one username from one address lock that
# pair out for 15 minutes, the right password included. Attempts live in the database (all processes).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",  # Sign in with Zoho
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The client address behind the TLS proxy: the proxies gunicorn trusts for X-Forwarded-* (integration/signin.py).
TRUSTED_PROXIES = env.list("FORWARDED_ALLOW_IPS", default=["127.0.0.1"])
AXES_CLIENT_IP_CALLABLE = "integration.signin.client_ip"
# Besides the per-address lockout: an address failing this often (any usernames) is refused, and a username failing
# this often across addresses is refused where it has never signed in (integration/signin.py).
LOGIN_FAILURES_PER_ADDRESS = env.int("LOGIN_FAILURES_PER_ADDRESS", default=20)
LOGIN_FAILURES_PER_USER = env.int("LOGIN_FAILURES_PER_USER", default=10)
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

# Content-Security-Policy (django-csp): everything is served from here; no inline script or style.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        # Sign in with Zoho posts here, then goes on to Zoho's consent screen (form-action covers that redirect).
        "form-action": [SELF, ZOHO_ACCOUNTS_URL],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "object-src": [NONE],
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "integration:dashboard"
LOGOUT_REDIRECT_URL = "login"

# Sign in with Zoho (django-allauth's Zoho provider, integration/zoho_signin): a Zoho API client of the
# "server-based application" kind whose redirect URI is {PUBLIC_BASE_URL}/auth/zoho/login/callback/. Unset: only
# passwords. A person's first sign-in makes a user with no role; a finance administrator gives one.
ZOHO_SIGNIN_CLIENT_ID = env.str("ZOHO_SIGNIN_CLIENT_ID", default="")
ZOHO_SIGNIN_CLIENT_SECRET = env.str("ZOHO_SIGNIN_CLIENT_SECRET", default="")
SOCIALACCOUNT_PROVIDERS = {
    "zoho": {
        "provider_class": "integration.zoho_signin.provider.ZohoDataCentreProvider",
        "APPS": [{"client_id": ZOHO_SIGNIN_CLIENT_ID, "secret": ZOHO_SIGNIN_CLIENT_SECRET}]
        if ZOHO_SIGNIN_CLIENT_ID
        else [],
        "SCOPE": ["aaaserver.profile.READ"],
    }
}
SOCIALACCOUNT_AUTO_SIGNUP = True  # no extra form: the user is made from the Zoho profile, without a role
SOCIALACCOUNT_LOGIN_ON_GET = False  # starting a sign-in takes a POST (CSRF-protected), from our login page
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False  # never joins an existing password user by an unverified email
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_UNIQUE_EMAIL = False  # a Zoho user whose email a password user has gets a user of its own, with no role
ACCOUNT_LOGIN_METHODS = {"username"}
SOCIALACCOUNT_STORE_TOKENS = False  # only who signed in is kept, never Zoho's tokens

LANGUAGE_CODE = "en-us"
# How amounts read on screens (Babel locale): separators, decimals and the currency symbol.
MONEY_LOCALE = env.str("MONEY_LOCALE", default="en_US")
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Logging --------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# Secrets are masked when a log record is made (integration.redaction installs a record factory in
# every process that loads Django: web, worker, beat, commands), so no handler can bypass it; the
# handler filter is a second layer for records made before that.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "integration.redaction.RedactingFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # runserver's access log has its own handler in Django's defaults: route it through ours.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # httpx/httpcore log every request URL at INFO/DEBUG; Cliq URLs carry their key in the query.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "django.db.backends": {"level": "WARNING"},
    },
}
