"""Test settings: the real settings module, with the environment a test run needs.

Zoho points at the in-process sandbox's host name; nothing here reaches a network.
"""

import os

# A developer's .env (the demo writes one) must not leak into the tests.
os.environ["ENV_FILE"] = ""

for name, value in {
    "DEBUG": "true",
    "CELERY_BROKER_URL": "",
    "SECURE_SSL_REDIRECT": "false",
    "ZOHO_ACCOUNTS_URL": "http://zoho-sandbox.test",
    "ZOHO_API_DOMAIN": "http://zoho-sandbox.test",
    "ZOHO_CLIENT_ID": "sandbox-client-id",
    "ZOHO_CLIENT_SECRET": "sandbox-client-secret",
    "ZOHO_REFRESH_TOKEN": "sandbox-refresh-token",
    "CRM_BUTTON_SECRET": "test-button-secret",
    "BOOKS_WEBHOOK_TOKEN": "test-webhook-token",
    # Retries in tests wait milliseconds, not minutes.
    "PUSH_RETRY_BASE_SECONDS": "0.01",
    "PUSH_RETRY_MAX_SECONDS": "0.05",
    # Processes started with beat do not audit every organization as they start (tests start audits themselves).
    "AUDIT_EVERY_DAYS": "0",
    "CLIQ_WEBHOOK_URL": "http://zoho-sandbox.test/api/v2/channelsbyname/payments/message?zapikey=sandbox-zapikey",
}.items():
    os.environ.setdefault(name, value)

from config.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
# Request threads (live server, runserver in the e2e stack) close their connection after each request,
# so nothing holds the test database open when pytest drops it.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
