"""Zoho CRM client (v2–v8 share these shapes): records by id, several by ids, updates."""

from __future__ import annotations

import re
from typing import Any

import httpx
from django.conf import settings

from integration.zoho import scopes
from integration.zoho.auth import TokenManager
from integration.zoho.errors import (
    ZohoAuthError,
    ZohoBadId,
    ZohoRateLimited,
    ZohoRejected,
    ZohoRetryable,
    json_body,
    retry_after_seconds,
)
from integration.zoho.http import ZohoApiClient

MAX_IDS = 100
TOKEN_CODES = {"INVALID_TOKEN", "AUTHENTICATION_FAILURE", "OAUTH_SCOPE_MISMATCH"}
SCOPE_CODE = "OAUTH_SCOPE_MISMATCH"  # CRM names a missing scope outright: no refresh can help
CRM_ID = re.compile(r"^[0-9]{1,30}$")


def crm_id(value: Any, module: str) -> str:
    """A CRM record id (digits), or `ZohoBadId`: ids read from CRM records go into URL paths and `ids=` lists."""
    text = str(value if value is not None else "").strip()
    if not CRM_ID.match(text):
        raise ZohoBadId(f"CRM gave a {module} record id {text[:40]!r}, which is not a CRM record id (digits)")
    return text


def crm_result(response: httpx.Response) -> dict:
    """CRM's body, {} for 204 (no records), or the mapped error."""
    if response.status_code == 204:
        return {}
    body = json_body(response)
    status = response.status_code
    code = body.get("code")
    message = str(body.get("message") or f"CRM answered HTTP {status}")
    if status == 429:
        raise ZohoRateLimited(message, code=code, status=status, retry_after=retry_after_seconds(response))
    if status >= 500:
        raise ZohoRetryable(message, code=code, status=status)
    if status == 401 or code in TOKEN_CODES:
        raise ZohoAuthError(message, code=code, status=status)
    if status == 400 and isinstance(body.get("data"), list):
        return body  # per-record errors: `record_result` names the record's own code
    if status >= 400 or body.get("status") == "error":
        details = body.get("details") or {}
        if details:
            message = f"{message} {details}"
        raise ZohoRejected(message, code=code, status=status)
    return body


def record_result(result: dict) -> dict:
    """One row of a CRM write's `data[]`; per-record errors come back with HTTP 200."""
    if result.get("status") != "success":
        code = result.get("code")
        message = str(result.get("message") or "CRM refused the record")
        if result.get("details"):
            message = f"{message} {result['details']}"
        raise ZohoRejected(message, code=code)
    return result.get("details") or {}


class CrmClient(ZohoApiClient):
    service = "Zoho CRM"

    def default_tokens(self) -> TokenManager:
        return TokenManager.from_settings()

    def default_base_url(self) -> str:
        return f"{settings.ZOHO_API_DOMAIN}/crm/{settings.ZOHO_CRM_API_VERSION}"

    def is_token_error(self, response: httpx.Response) -> bool:
        return json_body(response).get("code") in TOKEN_CODES or response.status_code == 401

    def is_scope_error(self, response: httpx.Response) -> bool:
        return json_body(response).get("code") == SCOPE_CODE

    def record_get(self, module: str, record_id: str) -> dict | None:
        """GET /{module}/{id} — None when there is no such record."""
        path = f"/{module}/{crm_id(record_id, module)}"
        data = crm_result(self.call("GET", path, scope=scopes.crm_module(module, "READ"))).get("data") or []
        return data[0] if data else None

    def records_get(self, module: str, ids: list[str]) -> list[dict]:
        """GET /{module}?ids=a,b,c in chunks of 100."""
        records: list[dict] = []
        for start in range(0, len(ids), MAX_IDS):
            chunk = [crm_id(i, module) for i in ids[start : start + MAX_IDS]]
            body = crm_result(
                self.call("GET", f"/{module}", scope=scopes.crm_module(module, "READ"), params={"ids": ",".join(chunk)})
            )
            records.extend(body.get("data") or [])
        return records

    def record_update(self, module: str, record_id: str, fields: dict) -> dict:
        """PUT /{module}/{id} with workflow triggers off; raises on the record's own error."""
        body = crm_result(
            self.call(
                "PUT",
                f"/{module}/{crm_id(record_id, module)}",
                scope=scopes.crm_module(module, "UPDATE"),
                json={"data": [{"id": record_id, **fields}], "trigger": []},
            )
        )
        return record_result((body.get("data") or [{}])[0])

    def note_create(self, module: str, record_id: str, *, title: str, content: str) -> dict:
        """POST /{module}/{id}/Notes: a note on the record, shown in CRM under its Notes; raises on its own error."""
        body = crm_result(
            self.call(
                "POST",
                f"/{module}/{crm_id(record_id, module)}/Notes",
                scope=scopes.CRM_NOTES_CREATE,
                json={"data": [{"Note_Title": title[:120], "Note_Content": content[:32000]}]},
            )
        )
        return record_result((body.get("data") or [{}])[0])

    def fields(self, module: str) -> list[dict]:
        """GET /settings/fields?module={module}: every field's api_name, data_type, lookup/subform module…"""
        body = crm_result(self.call("GET", "/settings/fields", scope=scopes.CRM_FIELDS_READ, params={"module": module}))
        return body.get("fields") or []
