"""Zoho Books v3 in the sandbox: organizations, contacts, items, taxes, invoices, payments, credit notes."""

from __future__ import annotations

import copy
import html
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.editions import WITH_AUTHORITIES, contact_tax_fields, invoice_tax_fields, line_tax_error
from sandbox.state import SandboxState
from sandbox.wire import BOOKS_TIME_FORMAT, Request, Response, Route, day, money, parse_day

PER_PAGE_MAX = 200


@dataclass
class Org:
    id: str
    name: str
    currency_code: str
    edition: str = "us"  # us, canada, uk, india: what tax fields the organization takes (editions.py)
    country: str = "U.S.A"  # the address as Books shows it: a country name, not a code
    state: str = ""  # the home state's name
    state_code: str = ""  # India: Books' code for the home state (intra- or inter-state supply)
    payment_terms_days: int = 30
    contacts: dict[str, dict] = field(default_factory=dict)
    items: dict[str, dict] = field(default_factory=dict)
    taxes: dict[str, dict] = field(default_factory=dict)
    authorities: dict[str, dict] = field(default_factory=dict)
    invoices: dict[str, dict] = field(default_factory=dict)
    payments: dict[str, dict] = field(default_factory=dict)
    creditnotes: dict[str, dict] = field(default_factory=dict)
    invoice_seq: int = 0
    creditnote_seq: int = 0
    payment_seq: int = 0

    @property
    def uses_tax_authorities(self) -> bool:
        return self.edition in WITH_AUTHORITIES

    def public(self) -> dict:
        """`GET /organizations/{id}`'s `organization` (the fields of Zoho's organizations document we model)."""
        return {
            "organization_id": self.id,
            "name": self.name,
            "currency_code": self.currency_code,
            "is_org_active": True,
            "address": {
                "street_address1": "",
                "street_address2": "",
                "city": "",
                "state": self.state,
                "country": self.country,
                "zip": "",
            },
        }


def envelope(message: str = "success", **entities: Any) -> dict:
    return {"code": 0, "message": message, **entities}


def bad(message: str, code: int = 4, status: int = 400) -> Response:
    return Response(status, {"code": code, "message": message})


def not_found(what: str) -> Response:
    return Response(404, {"code": 1002, "message": f"{what} does not exist."})


def number(value: Any, name: str, *, positive: bool = False) -> Decimal:
    """A JSON number (or numeric string) as Decimal; ValueError reads as Books' code 4."""
    if isinstance(value, bool) or value is None or value == "":
        raise ValueError(f"Invalid value passed for {name}")
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"Invalid value passed for {name}") from None
    if not result.is_finite() or (positive and result <= 0) or result < 0:
        raise ValueError(f"Invalid value passed for {name}")
    return result


def paginate(req: Request, rows: list[dict], key: str) -> Response:
    try:
        page = int(req.query.get("page") or 1)
        per_page = int(req.query.get("per_page") or PER_PAGE_MAX)
    except ValueError:
        return bad("Invalid value passed for page")
    if page < 1 or per_page < 1:
        return bad("Invalid value passed for page")
    per_page = min(per_page, PER_PAGE_MAX)
    start = (page - 1) * per_page
    return Response(
        200,
        envelope(
            **{key: rows[start : start + per_page]},
            page_context={
                "page": page,
                "per_page": per_page,
                "has_more_page": len(rows) > start + per_page,
                "applied_filter": req.query.get("filter_by", ""),
                "sort_column": "created_time",
                "sort_order": "A",
            },
        ),
    )


def text_filters(rows: list[dict], req: Request, fields: tuple[str, ...]) -> list[dict]:
    """Books' `field`, `field_startswith`, `field_contains` filters (case-insensitive)."""
    for name in fields:
        for suffix, test in (
            ("", lambda a, b: a == b),
            ("_startswith", str.startswith),
            ("_contains", lambda a, b: b in a),
        ):
            wanted = req.query.get(name + suffix)
            if wanted is not None:
                rows = [r for r in rows if test(str(r.get(name) or "").lower(), wanted.lower())]
    return rows


def status_filter(rows: list[dict], req: Request, default: str = "Status.Active") -> list[dict]:
    wanted = req.query.get("filter_by") or default
    if wanted == "Status.All":
        return rows
    if wanted == "Status.Inactive":
        return [r for r in rows if r["status"] == "inactive"]
    return [r for r in rows if r["status"] == "active"]


def touch(sb: SandboxState, entity: dict) -> None:
    entity["last_modified_time"] = sb.stamp()
    remember(sb, entity)


def remember(sb: SandboxState, entity: dict) -> None:
    """Keep each version of an invoice or credit note, for the `stale` fault (a lagging read)."""
    ident = entity.get("creditnote_id") or entity.get("invoice_id")
    if ident and ("creditnote_id" in entity or "invoice_number" in entity):
        sb.versions[str(ident)].append(copy.deepcopy(entity))


def check_name(
    records: dict[str, dict], field: str, value: Any, *, code: int, noun: str, except_id: str = ""
) -> str | Response:
    """The stripped name, or Books' error when it is blank or already used (case-insensitive) by another record."""
    name = str(value or "").strip()
    if not name:
        return bad(f"Invalid value passed for {field}")
    if any(r[field].lower() == name.lower() and rid != except_id for rid, r in records.items()):
        return bad(f"The {noun} name already exists. Please specify a different name.", code=code)
    return name


LIST_OMITS = ("vat_reg_no", "gst_no", "tax_reg_no")


# --- contacts ---------------------------------------------------------------------------------
def contacts_list(sb: SandboxState, req: Request, org: Org) -> Response:
    rows = status_filter(list(org.contacts.values()), req)
    rows = text_filters(rows, req, ("contact_name", "company_name", "email"))
    if req.query.get("search_text"):
        needle = req.query["search_text"].lower()
        rows = [
            r
            for r in rows
            if any(needle in str(r.get(f) or "").lower() for f in ("contact_name", "company_name", "email"))
        ]
    rows = sorted(rows, key=lambda r: r["contact_name"].lower())
    # Unconfirmed whether Books' list carries registration numbers; the harsher answer: only GET /contacts/{id} does.
    rows = [{k: v for k, v in r.items() if k not in LIST_OMITS} for r in rows]
    return paginate(req, rows, "contacts")


def contact_create(sb: SandboxState, req: Request, org: Org) -> Response:
    data = req.json()
    name = check_name(org.contacts, "contact_name", data.get("contact_name"), code=3062, noun="contact")
    if isinstance(name, Response):
        return name
    tax_fields, error = contact_tax_fields(org, data)
    if error:
        return bad(error)
    contact = {
        **tax_fields,
        "contact_id": sb.new_id(),
        "contact_name": name,
        "company_name": str(data.get("company_name") or ""),
        "contact_type": data.get("contact_type") or "customer",
        "status": "active",
        "email": str(data.get("email") or ""),
        "currency_code": org.currency_code,
        "billing_address": data.get("billing_address") or {},
        "custom_fields": data.get("custom_fields") or [],
        "created_time": sb.stamp(),
        "last_modified_time": sb.stamp(),
    }
    org.contacts[contact["contact_id"]] = contact
    return Response(201, envelope("The contact has been added.", contact=contact))


def contact_get(sb: SandboxState, req: Request, org: Org, contact_id: str) -> Response:
    contact = org.contacts.get(contact_id)
    return Response(200, envelope(contact=contact)) if contact else not_found("Contact")


def contact_update(sb: SandboxState, req: Request, org: Org, contact_id: str) -> Response:
    contact = org.contacts.get(contact_id)
    if not contact:
        return not_found("Contact")
    data = req.json()
    if "contact_name" in data:
        name = check_name(
            org.contacts, "contact_name", data["contact_name"], code=3062, noun="contact", except_id=contact_id
        )
        if isinstance(name, Response):
            return name
        contact["contact_name"] = name
    for key in ("company_name", "email", "billing_address", "custom_fields"):
        if key in data:
            contact[key] = data[key]
    touch(sb, contact)
    return Response(200, envelope("Contact information has been saved.", contact=contact))


def contact_status(sb: SandboxState, req: Request, org: Org, contact_id: str, status: str) -> Response:
    contact = org.contacts.get(contact_id)
    if not contact:
        return not_found("Contact")
    contact["status"] = status
    touch(sb, contact)
    return Response(200, envelope(f"The contact has been marked as {status}."))


# --- items ------------------------------------------------------------------------------------
ITEM_SUMMARY = (
    "item_id",
    "name",
    "sku",
    "status",
    "rate",
    "description",
    "product_type",
    "tax_id",
    "tax_name",
    "tax_percentage",
    "created_time",
    "last_modified_time",
)


def items_list(sb: SandboxState, req: Request, org: Org) -> Response:
    rows = status_filter(list(org.items.values()), req)  # ACTIVE only unless told otherwise
    rows = text_filters(rows, req, ("name", "description"))
    if req.query.get("search_text"):
        needle = req.query["search_text"].lower()
        rows = [r for r in rows if needle in r["name"].lower() or needle in str(r.get("description") or "").lower()]
    rows = sorted(rows, key=lambda r: (r["name"].lower(), r["item_id"]))
    return paginate(req, [{k: r.get(k) for k in ITEM_SUMMARY} for r in rows], "items")


def item_create(sb: SandboxState, req: Request, org: Org) -> Response:
    data = req.json()
    name = check_name(org.items, "name", data.get("name"), code=1001, noun="item")
    if isinstance(name, Response):
        return name
    rate = number(data.get("rate"), "rate")
    tax = org.taxes.get(str(data.get("tax_id") or "")) if data.get("tax_id") else None
    if data.get("tax_id") and tax is None:
        return bad("Invalid value passed for tax_id")
    item = new_item(
        sb,
        org,
        name=name,
        rate=rate,
        sku=str(data.get("sku") or ""),
        description=str(data.get("description") or ""),
        product_type=data.get("product_type") or "goods",
        tax=tax,
    )
    return Response(201, envelope("The item has been added.", item=item))


def new_item(
    sb: SandboxState,
    org: Org,
    *,
    name: str,
    rate: Any,
    sku: str = "",
    description: str = "",
    product_type: str = "goods",
    status: str = "active",
    tax: dict | None = None,
) -> dict:
    item = {
        "item_id": sb.new_id(),
        "name": name,
        "sku": sku,
        "rate": money(rate),
        "description": description,
        "product_type": product_type,
        "status": status,
        "tax_id": tax["tax_id"] if tax else "",
        "tax_name": tax["tax_name"] if tax else "",
        "tax_percentage": tax["tax_percentage"] if tax else 0,
        "created_time": sb.stamp(),
        "last_modified_time": sb.stamp(),
    }
    org.items[item["item_id"]] = item
    return item


def item_get(sb: SandboxState, req: Request, org: Org, item_id: str) -> Response:
    item = org.items.get(item_id)
    return Response(200, envelope(item=item)) if item else not_found("Item")


def item_update(sb: SandboxState, req: Request, org: Org, item_id: str) -> Response:
    item = org.items.get(item_id)
    if not item:
        return not_found("Item")
    data = req.json()
    if "name" in data:
        name = check_name(org.items, "name", data["name"], code=1001, noun="item", except_id=item_id)
        if isinstance(name, Response):
            return name
        item["name"] = name
    if "rate" in data:
        item["rate"] = money(number(data["rate"], "rate"))
    for key in ("sku", "description"):
        if key in data:
            item[key] = str(data[key] or "")
    touch(sb, item)
    return Response(200, envelope("The item details have been updated.", item=item))


def item_status(sb: SandboxState, req: Request, org: Org, item_id: str, status: str) -> Response:
    item = org.items.get(item_id)
    if not item:
        return not_found("Item")
    item["status"] = status
    touch(sb, item)
    return Response(200, envelope(f"The item has been marked as {status}."))


# --- taxes ------------------------------------------------------------------------------------
def organizations_list(sb: SandboxState, req: Request, org: Org | None) -> Response:
    """Every organization of the account; the list carries no address (so no country)."""
    rows = [{k: v for k, v in o.public().items() if k != "address"} for o in sb.orgs.values()]
    return Response(200, envelope(organizations=rows))


def organization_get(sb: SandboxState, req: Request, org: Org, org_path_id: str) -> Response:
    return Response(200, envelope(organization=org.public()))


def taxes_list(sb: SandboxState, req: Request, org: Org) -> Response:
    return Response(200, envelope(taxes=list(org.taxes.values())))


def tax_authorities_list(sb: SandboxState, req: Request, org: Org) -> Response:
    if not org.uses_tax_authorities:
        return Response(404, {"code": 5, "message": "Invalid URL Passed"})
    return Response(200, envelope(tax_authorities=list(org.authorities.values())))


def tax_create(sb: SandboxState, req: Request, org: Org) -> Response:
    data = req.json()
    name = str(data.get("tax_name") or "").strip()
    if not name:
        return bad("Invalid value passed for tax_name")
    pct = number(data.get("tax_percentage"), "tax_percentage")
    authority = org.authorities.get(str(data.get("tax_authority_id") or ""))
    if data.get("tax_authority_id") and authority is None:
        return bad("Invalid value passed for tax_authority_id")
    return Response(201, envelope("The tax has been added.", tax=new_tax(sb, org, name, pct, authority)))


def new_authority(sb: SandboxState, org: Org, name: str, description: str = "") -> dict:
    authority = {"tax_authority_id": sb.new_id(), "tax_authority_name": name, "description": description}
    org.authorities[authority["tax_authority_id"]] = authority
    return authority


def new_tax(sb: SandboxState, org: Org, name: str, pct: Any, authority: dict | None, *, specific: str = "") -> dict:
    """A tax; in the UK it carries `country_code`, in India its `tax_specific_type` (igst, cgst, sgst)."""
    tax = {
        "tax_id": sb.new_id(),
        "tax_name": name,
        "tax_percentage": Decimal(str(pct)),
        "tax_type": "tax",
        "tax_authority_id": authority["tax_authority_id"] if authority else "",
        "tax_authority_name": authority["tax_authority_name"] if authority else "",
    }
    if org.edition == "uk":
        tax["country_code"] = "GB"
    if specific:
        tax["tax_specific_type"] = specific
    org.taxes[tax["tax_id"]] = tax
    return tax


def new_tax_group(sb: SandboxState, org: Org, name: str, components: list[dict]) -> dict:
    """A tax group (India: CGST + SGST for intra-state supply), listed among the taxes with `tax_type: tax_group`."""
    group = {
        "tax_id": sb.new_id(),
        "tax_name": name,
        "tax_percentage": sum((Decimal(str(c["tax_percentage"])) for c in components), Decimal("0")),
        "tax_type": "tax_group",
        "tax_authority_id": "",
        "tax_authority_name": "",
        "taxes": [
            {"tax_id": c["tax_id"], "tax_name": c["tax_name"], "tax_percentage": c["tax_percentage"]}
            for c in components
        ],
    }
    org.taxes[group["tax_id"]] = group
    return group


# --- invoices and credit notes: shared line handling -------------------------------------------
def build_lines(
    sb: SandboxState, org: Org, raw_lines: Any, invoice_authority: dict | None, invoice: dict | None = None
) -> tuple[list[dict], str]:
    """Validated line items, or ([], error message). Enforces the edition's tax rules (editions.py) and,
    in the US, that every line's tax belongs to the invoice's authority."""
    if not isinstance(raw_lines, list) or not raw_lines:
        return [], "Invalid value passed for line_items"
    lines = []
    for n, raw in enumerate(raw_lines, start=1):
        if not isinstance(raw, dict):
            return [], "Invalid value passed for line_items"
        item = org.items.get(str(raw.get("item_id") or "")) if raw.get("item_id") else None
        if raw.get("item_id") and item is None:
            return [], "Invalid value passed for item_id"
        name = str(raw.get("name") or (item["name"] if item else "")).strip()
        if not name:
            return [], f"Line item {n}: enter an item or a description"
        quantity = number(raw.get("quantity", 1), "quantity", positive=True)
        rate = number(raw.get("rate", item["rate"] if item else None), "rate")
        tax = None
        if raw.get("tax_id"):
            tax = org.taxes.get(str(raw["tax_id"]))
            if tax is None:
                return [], "Invalid value passed for tax_id"
            error = line_tax_error(org, tax, n, invoice or {})
            if error:
                return [], error
            if (
                invoice_authority
                and tax["tax_authority_id"]
                and tax["tax_authority_id"] != invoice_authority["tax_authority_id"]
            ):
                return [], (
                    f'Line item {n}: the tax "{tax["tax_name"]}" does not belong to the tax authority '
                    f'"{invoice_authority["tax_authority_name"]}" of this transaction.'
                )
        item_total = money(quantity * rate)
        lines.append(
            {
                "line_item_id": sb.new_id(),
                "item_id": item["item_id"] if item else "",
                "name": name,
                "sku": item["sku"] if item else "",
                "description": str(raw.get("description") or ""),
                "quantity": quantity,
                "rate": money(rate),
                "item_total": item_total,
                "tax_id": tax["tax_id"] if tax else "",
                "tax_name": tax["tax_name"] if tax else "",
                "tax_percentage": tax["tax_percentage"] if tax else 0,
                "tax_amount": money(item_total * Decimal(str(tax["tax_percentage"])) / 100) if tax else Decimal("0.00"),
            }
        )
    return lines, ""


def _customer_and_authority(org: Org, data: dict) -> tuple[dict | None, dict | None, str]:
    customer = org.contacts.get(str(data.get("customer_id") or ""))
    if customer is None:
        return None, None, "Invalid value passed for customer_id"
    authority = None
    if data.get("tax_authority_id"):
        authority = org.authorities.get(str(data["tax_authority_id"]))
        if authority is None or org.edition != "us":  # only the US edition has an invoice-level authority
            return None, None, "Invalid value passed for tax_authority_id"
    return customer, authority, ""


# --- invoices ---------------------------------------------------------------------------------
INVOICE_SUMMARY = (
    "invoice_id",
    "invoice_number",
    "customer_id",
    "customer_name",
    "reference_number",
    "status",
    "date",
    "due_date",
    "currency_code",
    "total",
    "balance",
    "created_time",
    "last_modified_time",
)


def invoice_create(sb: SandboxState, req: Request, org: Org) -> Response:
    data = req.json()
    customer, authority, error = _customer_and_authority(org, data)
    if error:
        return bad(error)
    raw_lines = data.get("line_items")
    taxed = isinstance(raw_lines, list) and any(isinstance(r, dict) and r.get("tax_id") for r in raw_lines)
    tax_fields, error = invoice_tax_fields(org, data, customer, taxed)
    if error:
        return bad(error)
    lines, error = build_lines(sb, org, raw_lines, authority, tax_fields)
    if error:
        return bad(error)
    date = parse_day(data["date"]) if data.get("date") else sb.now()
    if date is None:
        return bad("Invalid value passed for date")
    due = parse_day(data["due_date"]) if data.get("due_date") else date + timedelta(days=org.payment_terms_days)
    if due is None:
        return bad("Invalid value passed for due_date")
    org.invoice_seq += 1
    invoice_id = sb.new_id()
    sub_total = sum((ln["item_total"] for ln in lines), Decimal("0.00"))
    tax_total = sum((ln["tax_amount"] for ln in lines), Decimal("0.00"))
    invoice = {
        "invoice_id": invoice_id,
        "invoice_number": f"INV-{org.invoice_seq:05d}",
        "customer_id": customer["contact_id"],
        "customer_name": customer["contact_name"],
        "reference_number": str(data.get("reference_number") or ""),
        "status": "draft",
        "date": day(date),
        "due_date": day(due),
        "currency_code": org.currency_code,
        "line_items": lines,
        "sub_total": sub_total,
        "tax_total": tax_total,
        "total": sub_total + tax_total,
        "balance": sub_total + tax_total,
        "payment_made": Decimal("0.00"),
        "credits_applied": Decimal("0.00"),
        "tax_authority_id": authority["tax_authority_id"] if authority else "",
        "tax_authority_name": authority["tax_authority_name"] if authority else "",
        **tax_fields,
        "custom_fields": data.get("custom_fields") or [],
        "notes": str(data.get("notes") or ""),
        "invoice_url": f"{sb.base_url}/books/portal/{org.id}/invoices/{invoice_id}?token={secrets.token_hex(8)}",
        "payments": [],
        "credits": [],
        "created_time": sb.stamp(),
        "last_modified_time": sb.stamp(),
    }
    org.invoices[invoice_id] = invoice
    remember(sb, invoice)
    if str(req.query.get("send", "")).lower() == "true":
        invoice["status"] = "sent"
    sb.emit_webhook(org.id, "invoice", public_invoice(invoice))
    return Response(201, envelope("The invoice has been created.", invoice=public_invoice(invoice)))


def public_invoice(invoice: dict) -> dict:
    return {k: v for k, v in invoice.items() if k not in ("payments", "credits")}


def invoices_list(sb: SandboxState, req: Request, org: Org) -> Response:
    rows = list(org.invoices.values())
    for key in ("reference_number", "customer_id", "invoice_number"):
        if req.query.get(key):
            rows = [r for r in rows if r[key] == req.query[key]]
    if req.query.get("status"):
        wanted = req.query["status"]
        rows = [
            r
            for r in rows
            if r["status"] == wanted
            or (wanted == "unpaid" and r["status"] in ("sent", "viewed", "overdue", "partially_paid"))
        ]
    if req.query.get("last_modified_time"):
        try:
            since = datetime.strptime(req.query["last_modified_time"], BOOKS_TIME_FORMAT)
        except ValueError:
            return bad("Invalid value passed for last_modified_time")
        rows = [r for r in rows if datetime.strptime(r["last_modified_time"], BOOKS_TIME_FORMAT) >= since]
    return paginate(req, [{k: r[k] for k in INVOICE_SUMMARY} for r in rows], "invoices")


def invoice_get(sb: SandboxState, req: Request, org: Org, invoice_id: str) -> Response:
    invoice = org.invoices.get(invoice_id)
    return Response(200, envelope(invoice=public_invoice(invoice))) if invoice else not_found("Invoice")


def invoice_payments(sb: SandboxState, req: Request, org: Org, invoice_id: str) -> Response:
    invoice = org.invoices.get(invoice_id)
    if not invoice:
        return not_found("Invoice")
    return Response(200, envelope(payments=list(invoice["payments"])))


def invoice_credits(sb: SandboxState, req: Request, org: Org, invoice_id: str) -> Response:
    invoice = org.invoices.get(invoice_id)
    if not invoice:
        return not_found("Invoice")
    return Response(200, envelope(credits=list(invoice["credits"])))


def invoice_status(sb: SandboxState, req: Request, org: Org, invoice_id: str, status: str) -> Response:
    invoice = org.invoices.get(invoice_id)
    if not invoice:
        return not_found("Invoice")
    if status == "void":
        if invoice["payments"] or invoice["credits"]:
            return bad("The invoice has payments or credits applied to it. Delete them before voiding the invoice.")
        invoice["status"] = "void"
        invoice["balance"] = Decimal("0.00")
    elif status == "sent":
        if invoice["status"] != "draft":
            return bad("Only a draft invoice can be marked as sent.")
        invoice["status"] = "sent"
        _overdue_check(sb, invoice)
    touch(sb, invoice)
    sb.emit_webhook(org.id, "invoice", public_invoice(invoice))
    return Response(200, envelope(f"Invoice status has been changed to {status}."))


def recompute_invoice(sb: SandboxState, invoice: dict) -> None:
    paid = sum((p["amount"] for p in invoice["payments"]), Decimal("0.00"))
    credited = sum((c["amount_applied"] for c in invoice["credits"]), Decimal("0.00"))
    invoice["payment_made"], invoice["credits_applied"] = paid, credited
    invoice["balance"] = invoice["total"] - paid - credited
    if invoice["status"] == "void":
        return
    if invoice["balance"] <= 0:
        invoice["status"] = "paid"
    elif paid + credited > 0:
        invoice["status"] = "partially_paid"
    touch(sb, invoice)


def _overdue_check(sb: SandboxState, invoice: dict) -> bool:
    if invoice["status"] in ("sent", "viewed") and invoice["due_date"] < day(sb.now()):
        invoice["status"] = "overdue"
        touch(sb, invoice)
        return True
    return False


def mark_overdue(sb: SandboxState) -> None:
    """Books' nightly job: unpaid invoices past their due date become overdue (fires webhooks)."""
    for org in sb.orgs.values():
        for invoice in org.invoices.values():
            if _overdue_check(sb, invoice):
                sb.emit_webhook(org.id, "invoice", public_invoice(invoice))


# --- customer payments ------------------------------------------------------------------------
def payment_create(sb: SandboxState, req: Request, org: Org) -> Response:
    data = req.json()
    customer = org.contacts.get(str(data.get("customer_id") or ""))
    if customer is None:
        return bad("Invalid value passed for customer_id")
    amount = number(data.get("amount"), "amount", positive=True)
    applications = data.get("invoices") or []
    if not isinstance(applications, list):
        return bad("Invalid value passed for invoices")
    total_applied = Decimal("0")
    checked = []
    for app in applications:
        invoice = org.invoices.get(str(app.get("invoice_id") or ""))
        if invoice is None or invoice["customer_id"] != customer["contact_id"]:
            return bad("Invalid value passed for invoice_id")
        if invoice["status"] in ("draft", "void"):
            return bad(f"Payments cannot be recorded for {invoice['status']} invoice {invoice['invoice_number']}.")
        applied = number(app.get("amount_applied"), "amount_applied", positive=True)
        if applied > invoice["balance"]:
            return bad(f"The amount applied exceeds the balance of invoice {invoice['invoice_number']}.")
        total_applied += applied
        checked.append((invoice, money(applied)))
    if total_applied > amount:
        return bad("The amount applied to invoices exceeds the payment amount.")
    org.payment_seq += 1
    payment = {
        "payment_id": sb.new_id(),
        "payment_number": str(org.payment_seq),
        "customer_id": customer["contact_id"],
        "customer_name": customer["contact_name"],
        "amount": money(amount),
        "date": data.get("date") or day(sb.now()),
        "payment_mode": data.get("payment_mode") or "cash",
        "reference_number": str(data.get("reference_number") or ""),
        "currency_code": org.currency_code,
        "unused_amount": money(amount - total_applied),
        "invoices": [
            {"invoice_id": inv["invoice_id"], "invoice_number": inv["invoice_number"], "amount_applied": applied}
            for inv, applied in checked
        ],
        "created_time": sb.stamp(),
        "last_modified_time": sb.stamp(),
    }
    org.payments[payment["payment_id"]] = payment
    sb.emit_webhook(org.id, "payment", payment)
    for invoice, applied in checked:
        invoice["payments"].append(
            {
                "payment_id": payment["payment_id"],
                "payment_number": payment["payment_number"],
                "invoice_id": invoice["invoice_id"],
                "amount": applied,
                "date": payment["date"],
                "payment_mode": payment["payment_mode"],
                "reference_number": payment["reference_number"],
            }
        )
        recompute_invoice(sb, invoice)
        sb.emit_webhook(org.id, "invoice", public_invoice(invoice))
    return Response(201, envelope("The payment has been created.", payment=payment))


def payment_get(sb: SandboxState, req: Request, org: Org, payment_id: str) -> Response:
    payment = org.payments.get(payment_id)
    return Response(200, envelope(payment=payment)) if payment else not_found("Payment")


# --- credit notes and refunds -------------------------------------------------------------------
def recompute_creditnote(sb: SandboxState, note: dict) -> None:
    used = sum((a["amount_applied"] for a in note["invoices"]), Decimal("0.00"))
    refunded = sum((r["amount"] for r in note["refunds"]), Decimal("0.00"))
    note["balance"] = note["total"] - used - refunded
    if note["status"] != "void":
        note["status"] = "closed" if note["balance"] <= 0 else "open"
    touch(sb, note)


def public_creditnote(note: dict) -> dict:
    return {k: v for k, v in note.items() if k != "refunds"}


def creditnote_create(sb: SandboxState, req: Request, org: Org) -> Response:
    data = req.json()
    customer, authority, error = _customer_and_authority(org, data)
    if error:
        return bad(error)
    lines, error = build_lines(sb, org, data.get("line_items"), authority)
    if error:
        return bad(error)
    invoice = None
    if data.get("invoice_id"):
        invoice = org.invoices.get(str(data["invoice_id"]))
        if invoice is None:
            return bad("Invalid value passed for invoice_id")
    org.creditnote_seq += 1
    total = sum((ln["item_total"] + ln["tax_amount"] for ln in lines), Decimal("0.00"))
    note = {
        "creditnote_id": sb.new_id(),
        "creditnote_number": f"CN-{org.creditnote_seq:05d}",
        "customer_id": customer["contact_id"],
        "customer_name": customer["contact_name"],
        "reference_number": str(data.get("reference_number") or ""),
        "date": data.get("date") or day(sb.now()),
        "status": "open",
        "currency_code": org.currency_code,
        "line_items": lines,
        "total": total,
        "balance": total,
        "invoice_id": invoice["invoice_id"] if invoice else "",
        "invoice_number": invoice["invoice_number"] if invoice else "",
        "invoices": [],
        "refunds": [],
        "created_time": sb.stamp(),
        "last_modified_time": sb.stamp(),
    }
    org.creditnotes[note["creditnote_id"]] = note
    remember(sb, note)
    sb.emit_webhook(org.id, "creditnote", public_creditnote(note))
    return Response(201, envelope("The credit note has been created.", creditnote=public_creditnote(note)))


def creditnote_get(sb: SandboxState, req: Request, org: Org, creditnote_id: str) -> Response:
    note = org.creditnotes.get(creditnote_id)
    return Response(200, envelope(creditnote=public_creditnote(note))) if note else not_found("Credit note")


def creditnotes_list(sb: SandboxState, req: Request, org: Org) -> Response:
    rows = list(org.creditnotes.values())
    for key in ("customer_id", "reference_number", "status", "invoice_id"):
        if req.query.get(key):
            rows = [r for r in rows if r[key] == req.query[key]]
    return paginate(req, [public_creditnote(r) for r in rows], "creditnotes")


def creditnote_apply(sb: SandboxState, req: Request, org: Org, creditnote_id: str) -> Response:
    note = org.creditnotes.get(creditnote_id)
    if not note:
        return not_found("Credit note")
    if note["status"] != "open":
        return bad("Credits can be applied only from an open credit note.")
    applications = req.json().get("invoices") or []
    checked, total = [], Decimal("0")
    for app in applications:
        invoice = org.invoices.get(str(app.get("invoice_id") or ""))
        if invoice is None or invoice["customer_id"] != note["customer_id"]:
            return bad("Invalid value passed for invoice_id")
        if invoice["status"] in ("draft", "void"):
            return bad(f"Credits cannot be applied to {invoice['status']} invoice {invoice['invoice_number']}.")
        applied = money(number(app.get("amount_applied"), "amount_applied", positive=True))
        if applied > invoice["balance"]:
            return bad(f"The amount applied exceeds the balance of invoice {invoice['invoice_number']}.")
        total += applied
        checked.append((invoice, applied))
    if not checked or total > note["balance"]:
        return bad(
            "The amount applied exceeds the credit note's balance." if checked else "Invalid value passed for invoices"
        )
    for invoice, applied in checked:
        note["invoices"].append(
            {
                "invoice_id": invoice["invoice_id"],
                "invoice_number": invoice["invoice_number"],
                "amount_applied": applied,
                "date": day(sb.now()),
            }
        )
        invoice["credits"].append(
            {
                "creditnote_id": note["creditnote_id"],
                "creditnote_number": note["creditnote_number"],
                "amount_applied": applied,
                "date": day(sb.now()),
            }
        )
        recompute_invoice(sb, invoice)
    recompute_creditnote(sb, note)
    sb.emit_webhook(org.id, "creditnote", public_creditnote(note))
    for invoice, _ in checked:
        sb.emit_webhook(org.id, "invoice", public_invoice(invoice))
    return Response(
        201,
        envelope(
            "Credits have been applied to the invoice(s).",
            apply_to_invoices={"invoices": [{"invoice_id": i["invoice_id"], "amount_applied": a} for i, a in checked]},
        ),
    )


def creditnote_refund_create(sb: SandboxState, req: Request, org: Org, creditnote_id: str) -> Response:
    note = org.creditnotes.get(creditnote_id)
    if not note:
        return not_found("Credit note")
    data = req.json()
    amount = money(number(data.get("amount"), "amount", positive=True))
    if note["status"] != "open" or amount > note["balance"]:
        return bad("The refund amount exceeds the credit note's balance.")
    refund = {
        "creditnote_refund_id": sb.new_id(),
        "creditnote_id": note["creditnote_id"],
        "creditnote_number": note["creditnote_number"],
        "customer_id": note["customer_id"],
        "amount": amount,
        "date": data.get("date") or day(sb.now()),
        "refund_mode": data.get("refund_mode") or "cash",
        "reference_number": str(data.get("reference_number") or ""),
    }
    note["refunds"].append(refund)
    recompute_creditnote(sb, note)
    sb.emit_webhook(org.id, "creditnote_refund", refund)
    return Response(201, envelope("The refund has been recorded.", creditnote_refund=refund))


def creditnote_refunds(sb: SandboxState, req: Request, org: Org, creditnote_id: str) -> Response:
    note = org.creditnotes.get(creditnote_id)
    if not note:
        return not_found("Credit note")
    return Response(200, envelope(creditnote_refunds=list(note["refunds"])))


def creditnote_void(sb: SandboxState, req: Request, org: Org, creditnote_id: str) -> Response:
    note = org.creditnotes.get(creditnote_id)
    if not note:
        return not_found("Credit note")
    if note["invoices"] or note["refunds"]:
        return bad("The credit note has been applied or refunded. Remove those before voiding it.")
    note["status"] = "void"
    note["balance"] = Decimal("0.00")
    touch(sb, note)
    sb.emit_webhook(org.id, "creditnote", public_creditnote(note))
    return Response(200, envelope("The credit note has been voided."))


# --- routing, demo actions, home page ------------------------------------------------------------
def routes(sb: SandboxState) -> list[Route]:
    def bind(fn, **fixed):
        return lambda req, org, **kw: fn(sb, req, org, **kw, **fixed)

    b = "/books/v3"
    return [
        Route("GET", b + "/organizations", bind(organizations_list)),
        Route("GET", b + r"/organizations/(?P<org_path_id>\d+)", bind(organization_get)),
        Route("GET", b + "/contacts", bind(contacts_list)),
        Route("POST", b + "/contacts", bind(contact_create)),
        Route("GET", b + r"/contacts/(?P<contact_id>\d+)", bind(contact_get)),
        Route("PUT", b + r"/contacts/(?P<contact_id>\d+)", bind(contact_update)),
        Route("POST", b + r"/contacts/(?P<contact_id>\d+)/active", bind(contact_status, status="active")),
        Route("POST", b + r"/contacts/(?P<contact_id>\d+)/inactive", bind(contact_status, status="inactive")),
        Route("GET", b + "/items", bind(items_list)),
        Route("POST", b + "/items", bind(item_create)),
        Route("GET", b + r"/items/(?P<item_id>\d+)", bind(item_get)),
        Route("PUT", b + r"/items/(?P<item_id>\d+)", bind(item_update)),
        Route("POST", b + r"/items/(?P<item_id>\d+)/active", bind(item_status, status="active")),
        Route("POST", b + r"/items/(?P<item_id>\d+)/inactive", bind(item_status, status="inactive")),
        Route("GET", b + "/settings/taxes", bind(taxes_list)),
        Route("POST", b + "/settings/taxes", bind(tax_create)),
        Route("GET", b + "/settings/taxauthorities", bind(tax_authorities_list)),
        Route("GET", b + "/invoices", bind(invoices_list)),
        Route("POST", b + "/invoices", bind(invoice_create)),
        Route("GET", b + r"/invoices/(?P<invoice_id>\d+)", bind(invoice_get)),
        Route("GET", b + r"/invoices/(?P<invoice_id>\d+)/payments", bind(invoice_payments)),
        Route("GET", b + r"/invoices/(?P<invoice_id>\d+)/creditsapplied", bind(invoice_credits)),
        Route("POST", b + r"/invoices/(?P<invoice_id>\d+)/status/sent", bind(invoice_status, status="sent")),
        Route("POST", b + r"/invoices/(?P<invoice_id>\d+)/status/void", bind(invoice_status, status="void")),
        Route("POST", b + "/customerpayments", bind(payment_create)),
        Route("GET", b + r"/customerpayments/(?P<payment_id>\d+)", bind(payment_get)),
        Route("GET", b + "/creditnotes", bind(creditnotes_list)),
        Route("POST", b + "/creditnotes", bind(creditnote_create)),
        Route("GET", b + r"/creditnotes/(?P<creditnote_id>\d+)", bind(creditnote_get)),
        Route("POST", b + r"/creditnotes/(?P<creditnote_id>\d+)/invoices", bind(creditnote_apply)),
        Route("GET", b + r"/creditnotes/(?P<creditnote_id>\d+)/refunds", bind(creditnote_refunds)),
        Route("POST", b + r"/creditnotes/(?P<creditnote_id>\d+)/refunds", bind(creditnote_refund_create)),
        Route("POST", b + r"/creditnotes/(?P<creditnote_id>\d+)/status/void", bind(creditnote_void)),
    ]


def demo_action(sb: SandboxState, org_id: str, invoice_id: str, what: str, data: dict) -> Response:
    """Control-API shortcuts for the demo: pay, send, void, or make an invoice overdue."""
    org = sb.orgs.get(org_id)
    invoice = org.invoices.get(invoice_id) if org else None
    if invoice is None:
        return Response(404, {"error": "no such invoice"})
    if what in ("pay", "overdue", "send") and invoice["status"] == "draft":
        invoice["status"] = "sent"
        touch(sb, invoice)
    if what == "pay":
        amount = money(data.get("amount") or invoice["balance"])
        req = Request("POST", "", {}, {}, b"")
        req.json = lambda: {
            "customer_id": invoice["customer_id"],
            "amount": amount,
            "payment_mode": "banktransfer",  # type: ignore[method-assign]
            "invoices": [{"invoice_id": invoice_id, "amount_applied": amount}],
        }
        return payment_create(sb, req, org)
    if what == "overdue":
        invoice["due_date"] = day(sb.now() - timedelta(days=1))
        _overdue_check(sb, invoice)
        sb.emit_webhook(org.id, "invoice", public_invoice(invoice))
        return Response(200, {"status": invoice["status"]})
    if what == "void":
        return invoice_status(sb, Request("POST", "", {}, {}, b""), org, invoice_id, "void")
    sb.emit_webhook(org.id, "invoice", public_invoice(invoice))
    return Response(200, {"status": invoice["status"]})


def home_page(sb: SandboxState) -> Response:
    """A plain page listing each organization's invoices, with buttons to pay them (demo only)."""
    rows = []
    with sb.lock:
        for org in sb.orgs.values():
            for inv in org.invoices.values():
                actions = "".join(
                    f"<button onclick=\"act('{org.id}','{inv['invoice_id']}','{a}')\">{a}</button>"
                    for a in ("pay", "overdue", "void")
                    if inv["status"] not in ("paid", "void")
                )
                rows.append(
                    f"<tr><td>{html.escape(org.name)}</td><td>{inv['invoice_number']}</td>"
                    f"<td>{html.escape(inv['customer_name'])}</td><td>{inv['reference_number']}</td>"
                    f"<td>{inv['total']} {inv['currency_code']}</td><td>{inv['balance']}</td>"
                    f"<td>{inv['status']}</td><td>{actions}</td></tr>"
                )
    deals = []
    with sb.lock:
        for deal in sb.crm["Deals"].values():
            account = (deal.get("Account_Name") or {}).get("name") or "— (contact only)"
            invoice = deal.get("Invoice_Number") or ""
            deals.append(
                f"<tr><td>{html.escape(deal['Deal_Name'])}</td><td>{html.escape(account)}</td>"
                f"<td>{html.escape(deal.get('Stage') or '')}</td><td>{invoice}</td>"
                f"<td>{html.escape(deal.get('Payment_Status') or '')}</td>"
                f"<td><button onclick=\"gen('{deal['id']}')\">Generate Invoice</button></td></tr>"
            )
    body = f"""<!doctype html><title>Zoho sandbox</title>
<style>body{{font-family:system-ui;margin:2rem}}td,th{{padding:.3rem .6rem;border-bottom:1px solid #ddd}}</style>
<h1>Zoho sandbox</h1><p>Stand-in for Zoho Accounts, CRM, Books and Cliq. Control API: <code>/__sandbox__/</code>.</p>
<h2>CRM deals</h2><table><tr><th>Deal</th><th>Account</th><th>Stage</th><th>Invoice</th><th>Payment</th><th></th></tr>
{"".join(deals)}</table><p id=reply></p>
<h2>Cliq #{html.escape(sb.cliq_messages[-1]["channel"]) if sb.cliq_messages else "channel"}</h2>
<ul>{"".join(f"<li><pre>{html.escape(m['payload'].get('text', ''))}</pre></li>" for m in sb.cliq_messages[-10:]) or "<li>No messages yet.</li>"}</ul>
<h2>Faults</h2><p>Make Zoho misbehave, then watch Invoice Bridge cope on its own.</p>
<p><button onclick="fault()">Fail the next 2 invoice creates (Books 500)</button>
Press Generate Invoice after this: the push fails twice, waits, and retries by itself.</p>
<p>Webhooks: <b>{html.escape(sb.webhook_mode)}</b>
<button onclick="hooks('lose')">Lose webhooks</button> <button onclick="hooks('thread')">Deliver webhooks</button>
— a payment made while webhooks are lost reaches the deal at the next reconciliation.</p>
<h2>Books invoices</h2><table><tr><th>Organization</th><th>Number</th><th>Customer</th><th>Reference (deal)</th>
<th>Total</th><th>Balance</th><th>Status</th><th></th></tr>{"".join(rows) or "<tr><td colspan=8>No invoices yet.</td></tr>"}</table>
<script>function post(u,m,b){{return fetch(u,{{method:m,headers:{{'Content-Type':'application/json'}},body:JSON.stringify(b)}})}}
function fault(){{post('/__sandbox__/faults','POST',{{kind:'error',count:2,method:'POST',path:'/invoices'}}).then(()=>location.reload())}}
function hooks(m){{post('/__sandbox__/settings','PATCH',{{webhook_mode:m}}).then(()=>location.reload())}}
function act(o,i,a){{fetch('/__sandbox__/books/'+o+'/invoices/'+i+'/'+a,{{method:'POST'}}).then(()=>location.reload())}}
function gen(d){{fetch('/__sandbox__/crm/deals/'+d+'/generate-invoice',{{method:'POST'}}).then(r=>r.json()).then(j=>{{
alert('Invoice Bridge answered '+j.http_status+': '+((j.reply||j).message||''));location.reload()}})}}</script>"""
    return Response(200, body, content_type="text/html; charset=utf-8")


def portal_page(sb: SandboxState, org_id: str, invoice_id: str) -> Response:
    """What an invoice_url opens: the customer's view of the invoice."""
    org = sb.orgs.get(org_id)
    inv = org.invoices.get(invoice_id) if org else None
    if inv is None:
        return Response(404, "Invoice not found", content_type="text/plain")
    lines = "".join(
        f"<tr><td>{html.escape(ln['name'])}</td><td>{ln['quantity']}</td><td>{ln['rate']}</td>"
        f"<td>{html.escape(ln['tax_name'])}</td><td>{ln['item_total']}</td></tr>"
        for ln in inv["line_items"]
    )
    return Response(
        200,
        f"""<!doctype html><title>{inv["invoice_number"]}</title><style>body{{font-family:system-ui;margin:2rem}}</style>
<h1>{html.escape(org.name)} — invoice {inv["invoice_number"]}</h1><p>To {html.escape(inv["customer_name"])}, dated {inv["date"]},
due {inv["due_date"]}. Status: <b>{inv["status"]}</b>.</p><table><tr><th>Item</th><th>Qty</th><th>Rate</th><th>Tax</th><th>Amount</th></tr>
{lines}</table><p>Total {inv["total"]} {inv["currency_code"]}, balance {inv["balance"]}.</p>""",
        content_type="text/html; charset=utf-8",
    )
