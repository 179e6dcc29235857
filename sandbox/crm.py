"""Zoho CRM (v2–v8 paths) in the sandbox: Deals, Accounts, Contacts, Products — reads and updates."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sandbox.state import SandboxState
from sandbox.wire import Request, Response, Route

VERSION = r"/crm/v(?:2|2\.1|[3-8])"
MAX_IDS = 100

# Field types the sandbox checks on write; fields not listed here are ignored, as CRM ignores
# api names it does not know.
FIELDS: dict[str, dict[str, str]] = {
    "Deals": {
        "Deal_Name": "text",
        "Stage": "picklist",
        "Amount": "double",
        "Currency": "picklist",
        "Invoice_Id": "text",
        "Invoice_Number": "text",
        "Invoice_URL": "url",
        "Payment_Status": "picklist",
        "Credited_Amount": "double",
        "Refunded_Amount": "double",
        "Description": "textarea",
    },
    "Accounts": {
        "Account_Name": "text",
        "Billing_State": "text",
        "Billing_Country": "text",
        "Legal_Entity": "picklist",
        "Books_Customer_Id": "text",
    },
    "Contacts": {"First_Name": "text", "Last_Name": "text", "Email": "email"},
    "Products": {
        "Product_Name": "text",
        "Product_Code": "text",
        "Unit_Price": "double",
        "Description": "textarea",
        "Books_Item_Id": "text",
    },
}


def crm_error(status: int, code: str, message: str, details: dict | None = None) -> Response:
    return Response(status, {"code": code, "details": details or {}, "message": message, "status": "error"})


def _auth(sb: SandboxState, req: Request) -> Response | None:
    valid = sb.token_valid(req)
    if valid is None:
        return crm_error(401, "AUTHENTICATION_FAILURE", "Authentication failed")
    if not valid:
        return crm_error(401, "INVALID_TOKEN", "invalid oauth token")
    return None


def _module(sb: SandboxState, module: str) -> dict | None:
    return sb.crm.get(module)


def _invalid_module() -> Response:
    return crm_error(400, "INVALID_MODULE", "the module name given seems to be invalid")


def record_get(sb: SandboxState, req: Request, module: str, record_id: str) -> Response:
    if denied := _auth(sb, req):
        return denied
    records = _module(sb, module)
    if records is None:
        return _invalid_module()
    record = records.get(record_id)
    return Response(200, {"data": [record]}) if record else Response(204)


def records_get(sb: SandboxState, req: Request, module: str) -> Response:
    if denied := _auth(sb, req):
        return denied
    records = _module(sb, module)
    if records is None:
        return _invalid_module()
    ids = [i for i in req.query.get("ids", "").split(",") if i]
    if not ids:
        return crm_error(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", {"param": "fields"})
    if len(ids) > MAX_IDS:
        return crm_error(400, "LIMIT_EXCEEDED", "the number of ids exceeds the limit", {"limit": MAX_IDS})
    found = [records[i] for i in ids if i in records]
    if not found:
        return Response(204)
    return Response(200, {"data": found, "info": {"count": len(found), "more_records": False}})


def _check_value(kind: str, value: Any) -> str | None:
    """Expected data type name when `value` does not fit a field of `kind`, else None."""
    if value is None:
        return None
    if kind == "double":
        return None if isinstance(value, int | float | Decimal) and not isinstance(value, bool) else "double"
    if not isinstance(value, str):
        return "string"
    if len(value) > 255:
        return "string (at most 255 characters)"
    if kind == "url" and value and not value.startswith(("http://", "https://")):
        return "url"
    return None


def _update_one(sb: SandboxState, module: str, row: Any, index: int) -> dict:
    records = sb.crm[module]
    if not isinstance(row, dict) or not row.get("id"):
        return {
            "code": "MANDATORY_NOT_FOUND",
            "details": {"api_name": "id", "json_path": f"$.data[{index}].id"},
            "message": "required field not found",
            "status": "error",
        }
    record = records.get(str(row["id"]))
    if record is None:
        return {
            "code": "INVALID_DATA",
            "details": {"api_name": "id", "json_path": f"$.data[{index}].id"},
            "message": "the related id given seems to be invalid",
            "status": "error",
        }
    if record["id"] in sb.crm_locked:
        return {
            "code": "RECORD_LOCKED",
            "details": {"id": record["id"]},
            "message": "cannot update record that is locked",
            "status": "error",
        }
    changes = {}
    for name, value in row.items():
        kind = FIELDS[module].get(name)
        if kind is None:
            continue
        expected = _check_value(kind, value)
        if expected:
            return {
                "code": "INVALID_DATA",
                "details": {"expected_data_type": expected, "api_name": name, "json_path": f"$.data[{index}].{name}"},
                "message": "invalid data",
                "status": "error",
            }
        changes[name] = value
    record.update(changes)
    record["Modified_Time"] = sb.now().isoformat(timespec="seconds")
    sb.crm_writes.append({"module": module, "id": record["id"], "fields": changes, "at": record["Modified_Time"]})
    return {
        "code": "SUCCESS",
        "details": {
            "Modified_Time": record["Modified_Time"],
            "id": record["id"],
            "Modified_By": {"name": "Invoice Bridge", "id": "1"},
        },
        "message": "record updated",
        "status": "success",
    }


def records_update(sb: SandboxState, req: Request, module: str, record_id: str | None = None) -> Response:
    if denied := _auth(sb, req):
        return denied
    if _module(sb, module) is None:
        return _invalid_module()
    try:
        body = req.json()
    except ValueError:
        return crm_error(400, "INVALID_DATA", "body is not a valid JSON")
    rows = body.get("data") if isinstance(body, dict) else None
    if not isinstance(rows, list) or not rows:
        return crm_error(
            400, "INVALID_DATA", "the input data is invalid", {"expected_data_type": "jsonarray", "api_name": "data"}
        )
    if len(rows) > MAX_IDS:
        return crm_error(400, "LIMIT_EXCEEDED", "the number of records exceeds the limit", {"limit": MAX_IDS})
    if record_id is not None:
        rows = [{**row, "id": record_id} if isinstance(row, dict) else row for row in rows[:1]]
    results = [_update_one(sb, module, row, i) for i, row in enumerate(rows)]
    status = 200 if any(r["status"] == "success" for r in results) else 400
    return Response(status, {"data": results})


def routes(sb: SandboxState) -> list[Route]:
    return [
        Route(
            "GET", VERSION + r"/(?P<module>[A-Za-z_]+)/(?P<record_id>\d+)", lambda req, **kw: record_get(sb, req, **kw)
        ),
        Route("GET", VERSION + r"/(?P<module>[A-Za-z_]+)", lambda req, **kw: records_get(sb, req, **kw)),
        Route(
            "PUT",
            VERSION + r"/(?P<module>[A-Za-z_]+)/(?P<record_id>\d+)",
            lambda req, **kw: records_update(sb, req, **kw),
        ),
        Route("PUT", VERSION + r"/(?P<module>[A-Za-z_]+)", lambda req, **kw: records_update(sb, req, **kw)),
    ]
