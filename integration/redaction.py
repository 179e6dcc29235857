"""Keep secrets out of logs, exception texts and stored payloads.

Two layers: known secret values from settings are replaced wherever they appear, and well-known
secret-bearing shapes (OAuth tokens, `zapikey=`, credential form fields) are masked by pattern, so a
token we never configured (a fresh access token) is caught too.
"""

from __future__ import annotations

import logging
import re
import traceback
from typing import Any

from django.conf import settings

from integration.jsonbody import MAX_DEPTH  # deeper JSON is refused at the door; deeper here is cut

MASK = "[redacted]"

SECRET_KEYS = frozenset(
    {
        "authorization",
        "x-webhook-token",
        "x-signature",
        "access_token",
        "refresh_token",
        "client_secret",
        "zapikey",
        "password",
        "token",
        "secret",
    }
)

_PATTERNS = [
    re.compile(r"(Zoho-oauthtoken\s+)\S+", re.IGNORECASE),
    re.compile(r"(Bearer\s+)\S+", re.IGNORECASE),
    re.compile(r"((?:zapikey|refresh_token|client_secret|access_token)=)[^&\s\"']+", re.IGNORECASE),
    re.compile(r"(\"(?:access_token|refresh_token|client_secret)\"\s*:\s*\")[^\"]+", re.IGNORECASE),
    # Zoho token shape: 1000.<hex>.<hex>
    re.compile(r"()\b1000\.[0-9a-f]{8,}\.[0-9a-f]{8,}\b"),
]


def _configured_secrets() -> list[str]:
    values = [getattr(settings, name, "") for name in settings.SECRET_SETTINGS]
    # Longest first, so a URL is masked whole before a shorter secret inside it.
    return sorted((v for v in values if isinstance(v, str) and len(v) >= 6), key=len, reverse=True)


def redact_text(text: str) -> str:
    """Mask every configured secret and secret-shaped fragment in `text`."""
    for value in _configured_secrets():
        text = text.replace(value, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


def redact(value: Any, _depth: int = 0) -> Any:
    """Return a copy of a JSON-like value with secret keys masked and secret values removed."""
    if _depth > MAX_DEPTH:
        return "[nested too deeply]"
    if isinstance(value, dict):
        return {
            k: (MASK if isinstance(k, str) and k.lower() in SECRET_KEYS else redact(v, _depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v, _depth + 1) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Rewrite a log record in place with its message (and traceback) masked."""
    try:
        cleaned = redact_text(record.getMessage())
    except Exception:  # a malformed record must still not leak: drop its arguments
        cleaned = redact_text(str(record.msg))
    if record.exc_info and record.exc_info[1] is not None:
        # Formatters render the traceback later; pre-render it redacted instead.
        cleaned += "\n" + redact_text("".join(traceback.format_exception(*record.exc_info)))
        record.exc_info = None
        record.exc_text = None
    record.msg, record.args = cleaned, None
    return record


class RedactingFilter(logging.Filter):
    """Logging filter that rewrites each record's message with secrets masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def install_log_record_factory() -> None:
    """Mask secrets when a log record is made, in this process, whatever handler later writes it:
    Celery's worker handlers, runserver's access log and gunicorn's loggers never see the clear text."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "redacting", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact_record(previous(*args, **kwargs))

    factory.redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
