"""Zoho CRM (v2–v8 paths) in the sandbox: Deals, Accounts, Contacts, Products — reads and updates."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sandbox.state import SandboxState
from sandbox.wire import Request, Response, Route

VERSION = r"/crm/v(?:2|2\.1|[3-8])"
MAX_IDS = 100

# CRM's field metadata (GET /settings/fields?module=…): what an administrator who followed the setup guide has.
# Writes are checked against each field's data type; fields not listed are ignored, as CRM ignores api names it
# does not know. Deals' `Products` line subform is custom (Deals have none out of the box): its columns live in
# the subform's own module, named by the field's `associated_module`.
SUBFORM_MODULE = "Deal_Products"
LOOKUPS = {"Account_Name": "Accounts", "Contact_Name": "Contacts", "Product": "Products"}
PAYMENT_STATUSES = ["Unpaid", "Partially Paid", "Paid", "Overdue", "Void", "Written Off"]
FIELD_TYPES: dict[str, dict[str, str]] = {
    "Deals": {
        "Deal_Name": "text",
        "Stage": "picklist",
        "Amount": "currency",
        "Currency": "picklist",
        "Account_Name": "lookup",
        "Contact_Name": "lookup",
        "Owner": "ownerlookup",
        "Products": "subform",
        "Invoice_Id": "text",
        "Invoice_Number": "text",
        "Invoice_URL": "website",
        "Payment_Status": "picklist",
        "Credited_Amount": "currency",
        "Refunded_Amount": "currency",
        "Written_Off_Amount": "currency",
        "Description": "textarea",
    },
    "Accounts": {
        "Account_Name": "text",
        "Billing_State": "text",
        "Billing_Country": "text",
        "Legal_Entity": "picklist",
        "Books_Customer_Id": "text",
    },
    "Contacts": {"First_Name": "text", "Last_Name": "text", "Email": "email", "Account_Name": "lookup"},
    "Products": {
        "Product_Name": "text",
        "Product_Code": "text",
        "Unit_Price": "currency",
        "Description": "textarea",
        "Books_Item_Id": "text",
    },
    SUBFORM_MODULE: {"Product": "lookup", "Quantity": "double", "Unit_Price": "currency", "Tax": "percent"},
}
JSON_TYPES = {
    "currency": "double",
    "double": "double",
    "integer": "integer",
    "percent": "double",
    "lookup": "jsonobject",
    "ownerlookup": "jsonobject",
    "subform": "jsonarray",
}


def field_meta(sb_ids, module: str, api_name: str, data_type: str) -> dict:
    """One field as GET /settings/fields describes it (the parts a client can rely on)."""
    meta = {
        "api_name": api_name,
        "field_label": api_name.replace("_", " "),
        "display_label": api_name.replace("_", " "),
        "data_type": data_type,
        "json_type": JSON_TYPES.get(data_type, "string"),
        "id": next(sb_ids),
        "custom_field": api_name in ("Legal_Entity", "Books_Customer_Id", "Books_Item_Id", "Products")
        or api_name.startswith(("Invoice_", "Payment_", "Credited_", "Refunded_", "Written_"))
        or module == SUBFORM_MODULE,
        "lookup": {},
        "associated_module": None,
        "pick_list_values": [],
    }
    if data_type == "lookup":
        target = LOOKUPS.get(api_name, "Accounts")
        meta["lookup"] = {
            "display_label": target,
            "api_name": api_name,
            "module": {"api_name": target, "id": next(sb_ids)},
        }
    if data_type == "subform":
        meta["associated_module"] = {"module": SUBFORM_MODULE, "id": next(sb_ids)}
    if api_name == "Payment_Status":
        meta["pick_list_values"] = [{"display_value": v, "actual_value": v} for v in ["-None-", *PAYMENT_STATUSES]]
    return meta


def default_fields() -> dict[str, dict[str, dict]]:
    ids = iter(range(5725767000001000001, 5725767000002000000))
    return {
        module: {name: field_meta(ids, module, name, kind) for name, kind in fields.items()}
        for module, fields in FIELD_TYPES.items()
    }


def crm_error(status: int, code: str, message: str, details: dict | None = None) -> Response:
    return Response(status, {"code": code, "details": details or {}, "message": message, "status": "error"})


def _auth(sb: SandboxState, req: Request, scope: str) -> Response | None:
    valid = sb.token_valid(req)
    if valid is None:
        return crm_error(401, "AUTHENTICATION_FAILURE", "Authentication failed")
    if not valid:
        return crm_error(401, "INVALID_TOKEN", "invalid oauth token")
    if not sb.token_allows(req, scope):
        return crm_error(401, "OAUTH_SCOPE_MISMATCH", "invalid oauth scope to access this URL")
    return None


def module_scope(module: str, operation: str) -> str:
    return f"ZohoCRM.modules.{module.lower()}.{operation}"


def _module(sb: SandboxState, module: str) -> dict | None:
    return sb.crm.get(module)


def _invalid_module() -> Response:
    return crm_error(400, "INVALID_MODULE", "the module name given seems to be invalid")


def record_get(sb: SandboxState, req: Request, module: str, record_id: str) -> Response:
    if denied := _auth(sb, req, module_scope(module, "READ")):
        return denied
    records = _module(sb, module)
    if records is None:
        return _invalid_module()
    record = records.get(record_id)
    return Response(200, {"data": [record]}) if record else Response(204)


def records_get(sb: SandboxState, req: Request, module: str) -> Response:
    if denied := _auth(sb, req, module_scope(module, "READ")):
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
    """Expected data type name when `value` does not fit a field of data type `kind`, else None."""
    if value is None:
        return None
    if JSON_TYPES.get(kind) in ("double", "integer"):
        return None if isinstance(value, int | float | Decimal) and not isinstance(value, bool) else "double"
    if JSON_TYPES.get(kind, "string") != "string":
        return JSON_TYPES[kind]  # lookups and subforms are not written by the bridge
    if not isinstance(value, str):
        return "string"
    if len(value) > 255:
        return "string (at most 255 characters)"
    if kind == "website" and value and not value.startswith(("http://", "https://")):
        return "url"
    return None


def fields_get(sb: SandboxState, req: Request) -> Response:
    """GET /settings/fields?module={module}: the module's field metadata (scope ZohoCRM.settings.fields.READ)."""
    if denied := _auth(sb, req, "ZohoCRM.settings.fields.READ"):
        return denied
    module = req.query.get("module", "")
    if not module:
        return crm_error(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", {"param": "module"})
    if module not in sb.crm_fields:
        return _invalid_module()
    return Response(200, {"fields": list(sb.crm_fields[module].values())})


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
        kind = sb.crm_fields.get(module, {}).get(name, {}).get("data_type")
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


def _write_rows(sb: SandboxState, req: Request, module: str) -> list | Response:
    """The `data` rows of a CRM write's body, or the error CRM answers for the module or the body."""
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
    return rows


def records_update(sb: SandboxState, req: Request, module: str, record_id: str | None = None) -> Response:
    if denied := _auth(sb, req, module_scope(module, "UPDATE")):
        return denied
    rows = _write_rows(sb, req, module)
    if isinstance(rows, Response):
        return rows
    if len(rows) > MAX_IDS:
        return crm_error(400, "LIMIT_EXCEEDED", "the number of records exceeds the limit", {"limit": MAX_IDS})
    if record_id is not None:
        rows = [{**row, "id": record_id} if isinstance(row, dict) else row for row in rows[:1]]
    results = [_update_one(sb, module, row, i) for i, row in enumerate(rows)]
    status = 200 if any(r["status"] == "success" for r in results) else 400
    return Response(status, {"data": results})


def routes(sb: SandboxState) -> list[Route]:
    return [
        Route("GET", VERSION + r"/settings/fields", lambda req: fields_get(sb, req)),
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
        Route(
            "POST",
            VERSION + r"/(?P<module>[A-Za-z_]+)/(?P<record_id>\d+)/Notes",
            lambda req, **kw: notes_create(sb, req, **kw),
        ),
    ]


def notes_create(sb: SandboxState, req: Request, module: str, record_id: str) -> Response:
    """POST /{module}/{id}/Notes ("Create Notes", v2.1+): Note_Content is mandatory, Note_Title optional. The
    document asks for the module's scope *and* ZohoCRM.modules.notes.CREATE without saying which operation on the
    module; the sandbox demands the notes scope (certain) and the module's READ (the least the record needs)."""
    for scope in ("ZohoCRM.modules.notes.CREATE", module_scope(module, "READ")):
        if denied := _auth(sb, req, scope):
            return denied
    rows = _write_rows(sb, req, module)
    if isinstance(rows, Response):
        return rows
    if record_id not in sb.crm[module]:
        return crm_error(400, "INVALID_DATA", "the related id given seems to be invalid", {"api_name": "Parent_Id"})
    results = []
    for index, row in enumerate(rows):
        content = row.get("Note_Content") if isinstance(row, dict) else None
        if not isinstance(content, str) or not content.strip():
            results.append(
                {
                    "code": "MANDATORY_NOT_FOUND",
                    "details": {"api_name": "Note_Content", "json_path": f"$.data[{index}].Note_Content"},
                    "message": "required field not found",
                    "status": "error",
                }
            )
            continue
        note_id = str(5725767000009000000 + len(sb.crm.setdefault("Notes", {})) + 1)
        created = sb.now().isoformat(timespec="seconds")
        sb.crm["Notes"][note_id] = {
            "id": note_id,
            "Note_Title": str(row.get("Note_Title") or ""),
            "Note_Content": content,
            "Parent_Id": {"module": {"api_name": module}, "id": record_id},
            "Created_Time": created,
        }
        results.append(
            {
                "code": "SUCCESS",
                "details": {
                    "id": note_id,
                    "Created_Time": created,
                    "Created_By": {"name": "Invoice Bridge", "id": "1"},
                },
                "message": "record added",
                "status": "success",
            }
        )
    status = 201 if any(r["status"] == "success" for r in results) else 400
    return Response(status, {"data": results})
