"""Zoho Cliq channel messages through the incoming-webhook URL (the whole URL is a secret)."""

from __future__ import annotations

import httpx
from django.conf import settings

from integration.zoho.errors import ZohoRateLimited, ZohoRejected, ZohoRetryable, json_body, retry_after_seconds
from integration.zoho.http import dumps, send, shared_http_client


class CliqClient:
    def __init__(self, *, url: str | None = None, http: httpx.Client | None = None):
        self._url = url if url is not None else settings.CLIQ_WEBHOOK_URL
        self.http = http or shared_http_client()

    @property
    def enabled(self) -> bool:
        return bool(self._url)

    def message_post(self, *, text: str, card: dict | None = None) -> None:
        """POST /api/v2/channelsbyname/{channel}/message?zapikey=… — 2xx (204) is success."""
        payload: dict = {"text": text}
        if card:
            payload["card"] = card
        request = self.http.build_request(
            "POST", self._url, content=dumps(payload), headers={"Content-Type": "application/json"}
        )
        # `send` names only the path in its errors: the key is in the query string.
        response = send(self.http, request, service="Zoho Cliq")
        if response.is_success:
            return
        body = json_body(response)
        message = str(body.get("message") or f"Cliq answered HTTP {response.status_code}")
        if response.status_code == 429:
            raise ZohoRateLimited(message, status=429, retry_after=retry_after_seconds(response))
        if response.status_code >= 500:
            raise ZohoRetryable(message, status=response.status_code)
        raise ZohoRejected(message, code=body.get("code"), status=response.status_code)
