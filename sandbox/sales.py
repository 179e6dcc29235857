"""Zoho Books v3 sales documents in the sandbox: invoices (with write-offs), customer payments, credit notes and
their refunds — shapes and rules from invoices.yml, customer-payments.yml and credit-notes.yml.

Money is in the customer's currency (an invoice, payment or credit note takes its customer's), rounded as Books
rounds: each line's amount and tax half up to the currency's `price_precision`."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sandbox.books import (
    B,
    Org,
    bad,
    bind,
    envelope,
    not_found,
    number,
    paginate,
    remember,
    touch,
)
from sandbox.editions import invoice_tax_fields, line_tax_error
from sandbox.state import SandboxState
from sandbox.wire import BOOKS_TIME_FORMAT, Request, Response, Route, day, money, parse_day

INVOICES_READ, INVOICES_CREATE = "ZohoBooks.invoices.READ", "ZohoBooks.invoices.CREATE"
PAYMENTS_READ, PAYMENTS_CREATE = "ZohoBooks.customerpayments.READ", "ZohoBooks.customerpayments.CREATE"
CREDITNOTES_READ, CREDITNOTES_CREATE = "ZohoBooks.creditnotes.READ", "ZohoBooks.creditnotes.CREATE"

INVOICE_LIST_FIELDS = (  # invoices.yml, list-invoices-response
    "invoice_id",
    "customer_name",
    "customer_id",
    "status",
    "invoice_number",
    "reference_number",
    "date",
    "due_date",
    "currency_id",
    "currency_code",
    "total",
    "balance",
    "created_time",
    "last_modified_time",
    "is_emailed",
    "write_off_amount",
    "exchange_rate",
)
INVOICE_PAYMENT_FIELDS = (  # invoices.yml, list-invoice-payments-response
    "payment_id",
    "payment_number",
    "invoice_id",
    "invoice_payment_id",
    "payment_mode",
    "description",
    "date",
    "reference_number",
    "exchange_rate",
    "amount",
    "tax_amount_withheld",
    "is_single_invoice_payment",
)
CREDITS_APPLIED_FIELDS = (
    "creditnote_id",
    "creditnotes_invoice_id",
    "creditnotes_number",
    "credited_date",
    "amount_applied",
)
PAYMENT_FIELDS = (  # customer-payments.yml, payment-response
    "payment_id",
    "payment_mode",
    "amount",
    "amount_refunded",
    "bank_charges",
    "date",
    "status",
    "reference_number",
    "description",
    "customer_id",
    "customer_name",
    "email",
    "invoices",
    "currency_code",
    "currency_symbol",
)
CREDITNOTE_LIST_FIELDS = (  # credit-notes.yml, list rows (the only place with last_modified_time)
    "creditnote_id",
    "creditnote_number",
    "status",
    "reference_number",
    "date",
    "total",
    "balance",
    "customer_id",
    "customer_name",
    "currency_code",
    "created_time",
    "last_modified_time",
)
CREDITNOTE_FIELDS = (  # credit-notes.yml, get-a-credit-note-response: `invoices[]`, no top-level invoice_id
    "creditnote_id",
    "creditnote_number",
    "date",
    "status",
    "customer_id",
    "customer_name",
    "reference_number",
    "total",
    "balance",
    "line_items",
    "invoices",
    "currency_code",
    "currency_symbol",
    "created_time",
    "updated_time",
)
REFUND_LIST_FIELDS = (  # credit-notes.yml, list-refunds-of-a-credit-note-response: amount_bcy/amount_fcy, no amount
    "creditnote_refund_id",
    "creditnote_id",
    "date",
    "refund_mode",
    "reference_number",
    "creditnote_number",
    "customer_name",
    "description",
    "amount_bcy",
    "amount_fcy",
)
REFUND_FIELDS = (  # credit-notes.yml, get-credit-note-refund-response: the one with `amount`
    "creditnote_refund_id",
    "creditnote_id",
    "date",
    "refund_mode",
    "reference_number",
    "amount",
    "customer_name",
    "description",
)


def cut(record: dict, fields: tuple[str, ...]) -> dict:
    return {k: record[k] for k in fields if k in record}


def currency_of(org: Org, customer: dict) -> dict:
    return org.currencies[customer["currency_id"]]


# --- invoices and credit notes: shared line handling -------------------------------------------
def build_lines(
    sb: SandboxState,
    org: Org,
    raw_lines: Any,
    invoice_authority: dict | None,
    invoice: dict | None = None,
    *,
    precision: int = 2,
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
            if tax.get("status") == "inactive":
                return [], f'Line item {n}: the tax "{tax["tax_name"]}" is inactive.'
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
        item_total = money(quantity * rate, precision)
        pct = Decimal(str(tax["tax_percentage"])) if tax else Decimal("0")
        lines.append(
            {
                "line_item_id": sb.new_id(),
                "item_id": item["item_id"] if item else "",
                "name": name,
                "sku": item["sku"] if item else "",
                "description": str(raw.get("description") or ""),
                "quantity": quantity,
                "rate": money(rate, precision),
                "item_total": item_total,
                "tax_id": tax["tax_id"] if tax else "",
                "tax_name": tax["tax_name"] if tax else "",
                "tax_type": tax["tax_type"] if tax else "",
                "tax_percentage": tax["tax_percentage"] if tax else 0,
                "tax_amount": money(item_total * pct / 100, precision),  # per line, half up
            }
        )
    return lines, ""


def _customer_and_authority(org: Org, data: dict) -> tuple[dict | None, dict | None, str]:
    customer = org.contacts.get(str(data.get("customer_id") or ""))
    if customer is None or customer["contact_type"] != "customer":
        return None, None, "Invalid value passed for customer_id"
    authority = None
    if data.get("tax_authority_id"):
        authority = org.authorities.get(str(data["tax_authority_id"]))
        if authority is None or org.edition != "us":  # only the US edition has an invoice-level authority
            return None, None, "Invalid value passed for tax_authority_id"
    return customer, authority, ""


def _exchange_rate(org: Org, currency: dict, data: dict) -> tuple[Decimal, str]:
    """invoices.yml: `exchange_rate` is "required when the invoice currency differs from the organization's base
    currency" — so the sandbox refuses a foreign-currency document without one."""
    if currency["is_base_currency"]:
        return Decimal("1"), ""
    if data.get("exchange_rate") in (None, ""):
        return Decimal("0"), (
            f"The invoice is in {currency['currency_code']}, not {org.base_currency['currency_code']}: "
            "enter its exchange rate (exchange_rate)."
        )
    return number(data["exchange_rate"], "exchange_rate", positive=True), ""


# --- invoices ---------------------------------------------------------------------------------
def invoice_create(sb: SandboxState, req: Request, org: Org) -> Response:
    data = req.json()
    customer, authority, error = _customer_and_authority(org, data)
    if error:
        return bad(error)
    currency = currency_of(org, customer)
    if data.get("currency_id") and str(data["currency_id"]) != currency["currency_id"]:
        # An invoice is in its customer's currency (ZOHO_API.md); another one is refused (harsher, unconfirmed).
        return bad("Invalid value passed for currency_id")
    rate, error = _exchange_rate(org, currency, data)
    if error:
        return bad(error)
    raw_lines = data.get("line_items")
    taxed = isinstance(raw_lines, list) and any(isinstance(r, dict) and r.get("tax_id") for r in raw_lines)
    tax_fields, error = invoice_tax_fields(org, data, customer, taxed)
    if error:
        return bad(error)
    precision = currency["price_precision"]
    lines, error = build_lines(sb, org, raw_lines, authority, tax_fields, precision=precision)
    if error:
        return bad(error)
    if data.get("date"):
        date = parse_day(data["date"])
        if date is None:
            return bad("Invalid value passed for date")
    else:
        date = datetime.combine(org.today(sb), datetime.min.time())  # Books dates it in the organization's day
    due = parse_day(data["due_date"]) if data.get("due_date") else date + timedelta(days=org.payment_terms_days)
    if due is None:
        return bad("Invalid value passed for due_date")
    send = str(req.query.get("send", "")).lower() == "true"
    if send and not customer.get("email"):
        # Unconfirmed what Books does when it cannot email: the sandbox refuses the whole create (harsher).
        return bad("The customer has no contact person with an email address to send the invoice to.")
    org.invoice_seq += 1
    invoice_id = sb.new_id()
    sub_total = sum((ln["item_total"] for ln in lines), Decimal("0"))
    tax_total = sum((ln["tax_amount"] for ln in lines), Decimal("0"))
    invoice = {
        "invoice_id": invoice_id,
        "invoice_number": f"INV-{org.invoice_seq:05d}",
        "customer_id": customer["contact_id"],
        "customer_name": customer["contact_name"],
        "reference_number": str(data.get("reference_number") or ""),
        "status": "sent" if send else "draft",
        "is_emailed": send,
        "date": day(date),
        "due_date": day(due),
        "currency_id": currency["currency_id"],
        "currency_code": currency["currency_code"],
        "exchange_rate": rate,
        "price_precision": precision,
        "line_items": lines,
        "sub_total": money(sub_total, precision),
        "tax_total": money(tax_total, precision),
        "total": money(sub_total + tax_total, precision),
        "balance": money(sub_total + tax_total, precision),
        "payment_made": Decimal("0"),
        "credits_applied": Decimal("0"),
        "write_off_amount": Decimal("0"),
        "tax_authority_id": authority["tax_authority_id"] if authority else "",
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
    if send:
        _overdue_check(sb, invoice)
    remember(sb, invoice)
    sb.emit_webhook(org.id, "invoice", public_invoice(invoice))
    return Response(201, envelope("The invoice has been created.", invoice=public_invoice(invoice)))


def public_invoice(invoice: dict) -> dict:
    """The invoice as invoices.yml's invoice-response shows it: no tax_authority_id (only the request takes it),
    nor the sandbox's own payments and credits (read through their own endpoints)."""
    return {k: v for k, v in invoice.items() if k not in ("payments", "credits", "tax_authority_id")}


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
    return paginate(req, rows, "invoices", INVOICE_LIST_FIELDS)


def invoice_get(sb: SandboxState, req: Request, org: Org, invoice_id: str) -> Response:
    invoice = org.invoices.get(invoice_id)
    return Response(200, envelope(invoice=public_invoice(invoice))) if invoice else not_found("Invoice")


def invoice_payments(sb: SandboxState, req: Request, org: Org, invoice_id: str) -> Response:
    invoice = org.invoices.get(invoice_id)
    if not invoice:
        return not_found("Invoice")
    return Response(200, envelope(payments=[cut(p, INVOICE_PAYMENT_FIELDS) for p in invoice["payments"]]))


def invoice_credits(sb: SandboxState, req: Request, org: Org, invoice_id: str) -> Response:
    invoice = org.invoices.get(invoice_id)
    if not invoice:
        return not_found("Invoice")
    return Response(200, envelope(credits=[cut(c, CREDITS_APPLIED_FIELDS) for c in invoice["credits"]]))


def invoice_status(sb: SandboxState, req: Request, org: Org, invoice_id: str, status: str) -> Response:
    invoice = org.invoices.get(invoice_id)
    if not invoice:
        return not_found("Invoice")
    if status == "void":
        if invoice["payments"] or invoice["credits"]:
            return bad("The invoice has payments or credits applied to it. Delete them before voiding the invoice.")
        invoice["status"] = "void"
        invoice["balance"] = Decimal("0")
    elif status == "sent":
        if invoice["status"] != "draft":
            return bad("Only a draft invoice can be marked as sent.")
        invoice["status"] = "sent"
        _overdue_check(sb, invoice)
    touch(sb, invoice)
    sb.emit_webhook(org.id, "invoice", public_invoice(invoice))
    return Response(200, envelope(f"Invoice status has been changed to {status}."))


def invoice_write_off(sb: SandboxState, req: Request, org: Org, invoice_id: str) -> Response:
    """POST /invoices/{id}/writeoff: the balance is written off. Which status Books then shows is not documented;
    the sandbox shows `paid` (the harsher answer: a reader going by status alone would call it paid)."""
    invoice = org.invoices.get(invoice_id)
    if not invoice:
        return not_found("Invoice")
    if invoice["status"] in ("draft", "void", "paid") or invoice["balance"] <= 0:
        return bad(f"Invoice {invoice['invoice_number']} has no balance that can be written off.")
    invoice["write_off_amount"] = invoice["balance"]
    recompute_invoice(sb, invoice)
    sb.emit_webhook(org.id, "invoice", public_invoice(invoice))
    return Response(200, envelope("Invoice has been written off"))


def invoice_write_off_cancel(sb: SandboxState, req: Request, org: Org, invoice_id: str) -> Response:
    """POST /invoices/{id}/writeoff/cancel: the written-off balance is owed again."""
    invoice = org.invoices.get(invoice_id)
    if not invoice:
        return not_found("Invoice")
    if not invoice["write_off_amount"]:
        return bad(f"Invoice {invoice['invoice_number']} has not been written off.")
    invoice["write_off_amount"] = Decimal("0")
    recompute_invoice(sb, invoice)
    sb.emit_webhook(org.id, "invoice", public_invoice(invoice))
    return Response(200, envelope("The write off done for this invoice has been cancelled."))


def recompute_invoice(sb: SandboxState, invoice: dict) -> None:
    paid = sum((p["amount"] for p in invoice["payments"]), Decimal("0"))
    credited = sum((c["amount_applied"] for c in invoice["credits"]), Decimal("0"))
    invoice["payment_made"], invoice["credits_applied"] = paid, credited
    invoice["balance"] = invoice["total"] - paid - credited - invoice["write_off_amount"]
    if invoice["status"] == "void":
        return
    if invoice["balance"] <= 0:
        invoice["status"] = "paid"
    elif paid + credited > 0:
        invoice["status"] = "partially_paid"
    elif invoice["status"] in ("paid", "partially_paid"):
        invoice["status"] = "sent"  # a cancelled write-off or a deleted payment: owed again
        _overdue_check(sb, invoice)
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
    currency = currency_of(org, customer)
    precision = currency["price_precision"]
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
        checked.append((invoice, money(applied, precision)))
    if total_applied > amount:
        return bad("The amount applied to invoices exceeds the payment amount.")
    org.payment_seq += 1
    payment = {
        "payment_id": sb.new_id(),
        "payment_number": str(org.payment_seq),
        "payment_mode": data.get("payment_mode") or "cash",
        "amount": money(amount, precision),
        "amount_refunded": Decimal("0"),
        "bank_charges": Decimal("0"),
        "date": data.get("date") or day(sb.now()),
        "status": "success",
        "reference_number": str(data.get("reference_number") or ""),
        "description": "",
        "customer_id": customer["contact_id"],
        "customer_name": customer["contact_name"],
        "email": customer.get("email", ""),
        "currency_code": currency["currency_code"],
        "currency_symbol": currency["currency_symbol"],
        "invoices": [
            {
                "invoice_id": inv["invoice_id"],
                "invoice_number": inv["invoice_number"],
                "date": inv["date"],
                "invoice_amount": inv["total"],
                "amount_applied": applied,
                "balance_amount": inv["balance"] - applied,
            }
            for inv, applied in checked
        ],
    }
    org.payments[payment["payment_id"]] = payment
    sb.emit_webhook(org.id, "payment", cut(payment, PAYMENT_FIELDS))
    for invoice, applied in checked:
        invoice["payments"].append(
            {
                "payment_id": payment["payment_id"],
                "payment_number": payment["payment_number"],
                "invoice_id": invoice["invoice_id"],
                "invoice_payment_id": sb.new_id(),
                "payment_mode": payment["payment_mode"],
                "description": "",
                "date": payment["date"],
                "reference_number": payment["reference_number"],
                "exchange_rate": invoice["exchange_rate"],
                "amount": applied,
                "tax_amount_withheld": Decimal("0"),
                "is_single_invoice_payment": len(checked) == 1,
            }
        )
        recompute_invoice(sb, invoice)
        sb.emit_webhook(org.id, "invoice", public_invoice(invoice))
    return Response(201, envelope("The payment has been created.", payment=cut(payment, PAYMENT_FIELDS)))


def payment_get(sb: SandboxState, req: Request, org: Org, payment_id: str) -> Response:
    payment = org.payments.get(payment_id)
    return Response(200, envelope(payment=cut(payment, PAYMENT_FIELDS))) if payment else not_found("Payment")


# --- credit notes and refunds -------------------------------------------------------------------
def recompute_creditnote(sb: SandboxState, note: dict) -> None:
    used = sum((a["amount"] for a in note["invoices"]), Decimal("0"))
    refunded = sum((r["amount"] for r in note["refunds"]), Decimal("0"))
    note["balance"] = note["total"] - used - refunded
    if note["status"] != "void":
        note["status"] = "closed" if note["balance"] <= 0 else "open"
    touch_note(sb, note)


def touch_note(sb: SandboxState, note: dict) -> None:
    note["updated_time"] = sb.stamp()
    touch(sb, note)


def public_creditnote(note: dict) -> dict:
    return cut(note, CREDITNOTE_FIELDS)


def creditnote_create(sb: SandboxState, req: Request, org: Org) -> Response:
    """POST /creditnotes; credit-notes.yml takes the invoice it is raised against as the `invoice_id` query
    parameter. That invoice is listed in the note's `invoices[]` (with what has been applied to it: 0 so far)."""
    data = req.json()
    customer, authority, error = _customer_and_authority(org, data)
    if error:
        return bad(error)
    currency = currency_of(org, customer)
    rate, error = _exchange_rate(org, currency, data)
    if error:
        return bad(error)
    precision = currency["price_precision"]
    lines, error = build_lines(sb, org, data.get("line_items"), authority, precision=precision)
    if error:
        return bad(error)
    invoice = None
    if req.query.get("invoice_id"):
        invoice = org.invoices.get(str(req.query["invoice_id"]))
        if invoice is None or invoice["customer_id"] != customer["contact_id"]:
            return bad("Invalid value passed for invoice_id")
    org.creditnote_seq += 1
    total = sum((ln["item_total"] + ln["tax_amount"] for ln in lines), Decimal("0"))
    note = {
        "creditnote_id": sb.new_id(),
        "creditnote_number": f"CN-{org.creditnote_seq:05d}",
        "customer_id": customer["contact_id"],
        "customer_name": customer["contact_name"],
        "reference_number": str(data.get("reference_number") or ""),
        "date": data.get("date") or org.today(sb).isoformat(),
        "status": "open",
        "currency_code": currency["currency_code"],
        "currency_symbol": currency["currency_symbol"],
        "exchange_rate": rate,
        "line_items": lines,
        "total": money(total, precision),
        "balance": money(total, precision),
        "invoices": (
            [{"invoice_id": invoice["invoice_id"], "invoice_number": invoice["invoice_number"], "amount": Decimal("0")}]
            if invoice
            else []
        ),
        "refunds": [],
        "created_time": sb.stamp(),
        "updated_time": sb.stamp(),
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
    for key in ("customer_id", "reference_number", "status"):
        if req.query.get(key):
            rows = [r for r in rows if r[key] == req.query[key]]
    return paginate(req, rows, "creditnotes", CREDITNOTE_LIST_FIELDS)


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
        applied = money(number(app.get("amount_applied"), "amount_applied", positive=True), invoice["price_precision"])
        if applied > invoice["balance"]:
            return bad(f"The amount applied exceeds the balance of invoice {invoice['invoice_number']}.")
        total += applied
        checked.append((invoice, applied))
    if not checked or total > note["balance"]:
        return bad(
            "The amount applied exceeds the credit note's balance." if checked else "Invalid value passed for invoices"
        )
    for invoice, applied in checked:
        row = next((r for r in note["invoices"] if r["invoice_id"] == invoice["invoice_id"]), None)
        if row is None:
            row = {"invoice_id": invoice["invoice_id"], "invoice_number": invoice["invoice_number"], "amount": 0}
            note["invoices"].append(row)
        row["amount"] = Decimal(str(row["amount"])) + applied
        invoice["credits"].append(
            {
                "creditnote_id": note["creditnote_id"],
                "creditnotes_invoice_id": sb.new_id(),
                "creditnotes_number": note["creditnote_number"],
                "credited_date": day(sb.now()),
                "amount_applied": applied,
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
    precision = org.currency_by_code(note["currency_code"])["price_precision"]
    amount = money(number(data.get("amount"), "amount", positive=True), precision)
    if note["status"] != "open" or amount > note["balance"]:
        return bad("The refund amount exceeds the credit note's balance.")
    refund = {
        "creditnote_refund_id": sb.new_id(),
        "creditnote_id": note["creditnote_id"],
        "creditnote_number": note["creditnote_number"],
        "customer_name": note["customer_name"],
        "amount": amount,
        "amount_fcy": amount,  # in the credit note's currency
        "amount_bcy": money(amount * note["exchange_rate"], org.base_currency["price_precision"]),
        "date": data.get("date") or org.today(sb).isoformat(),
        "refund_mode": data.get("refund_mode") or "cash",
        "reference_number": str(data.get("reference_number") or ""),
        "description": str(data.get("description") or ""),
    }
    note["refunds"].append(refund)
    recompute_creditnote(sb, note)
    sb.emit_webhook(org.id, "creditnote_refund", cut(refund, REFUND_FIELDS))
    return Response(
        200, envelope("The credit note amount is refunded successfully.", creditnote_refund=cut(refund, REFUND_FIELDS))
    )


def creditnote_refunds(sb: SandboxState, req: Request, org: Org, creditnote_id: str) -> Response:
    note = org.creditnotes.get(creditnote_id)
    if not note:
        return not_found("Credit note")
    return paginate(req, note["refunds"], "creditnote_refunds", REFUND_LIST_FIELDS)


def creditnote_refund_get(sb: SandboxState, req: Request, org: Org, creditnote_id: str, refund_id: str) -> Response:
    note = org.creditnotes.get(creditnote_id)
    refund = next((r for r in (note or {}).get("refunds", []) if r["creditnote_refund_id"] == refund_id), None)
    if refund is None:
        return not_found("Credit note refund")
    return Response(200, envelope(creditnote_refund=cut(refund, REFUND_FIELDS)))


def creditnote_void(sb: SandboxState, req: Request, org: Org, creditnote_id: str) -> Response:
    note = org.creditnotes.get(creditnote_id)
    if not note:
        return not_found("Credit note")
    if any(Decimal(str(r["amount"])) for r in note["invoices"]) or note["refunds"]:
        return bad("The credit note has been applied or refunded. Remove those before voiding it.")
    note["status"] = "void"
    note["balance"] = Decimal("0")
    touch_note(sb, note)
    sb.emit_webhook(org.id, "creditnote", public_creditnote(note))
    return Response(200, envelope("The credit note has been voided."))


def routes(sb: SandboxState) -> list[Route]:
    inv = B + r"/invoices/(?P<invoice_id>\d+)"
    cn = B + r"/creditnotes/(?P<creditnote_id>\d+)"
    return [
        Route("GET", B + "/invoices", bind(sb, invoices_list), INVOICES_READ),
        Route("POST", B + "/invoices", bind(sb, invoice_create), INVOICES_CREATE),
        Route("GET", inv, bind(sb, invoice_get), INVOICES_READ),
        Route("GET", inv + "/payments", bind(sb, invoice_payments), INVOICES_READ),
        Route("GET", inv + "/creditsapplied", bind(sb, invoice_credits), INVOICES_READ),
        Route("POST", inv + "/status/sent", bind(sb, invoice_status, status="sent"), INVOICES_CREATE),
        Route("POST", inv + "/status/void", bind(sb, invoice_status, status="void"), INVOICES_CREATE),
        Route("POST", inv + "/writeoff", bind(sb, invoice_write_off), INVOICES_CREATE),
        Route("POST", inv + "/writeoff/cancel", bind(sb, invoice_write_off_cancel), INVOICES_CREATE),
        Route("POST", B + "/customerpayments", bind(sb, payment_create), PAYMENTS_CREATE),
        Route("GET", B + r"/customerpayments/(?P<payment_id>\d+)", bind(sb, payment_get), PAYMENTS_READ),
        Route("GET", B + "/creditnotes", bind(sb, creditnotes_list), CREDITNOTES_READ),
        Route("POST", B + "/creditnotes", bind(sb, creditnote_create), CREDITNOTES_CREATE),
        Route("GET", cn, bind(sb, creditnote_get), CREDITNOTES_READ),
        Route("POST", cn + "/invoices", bind(sb, creditnote_apply), CREDITNOTES_CREATE),
        Route("GET", cn + "/refunds", bind(sb, creditnote_refunds), CREDITNOTES_READ),
        Route("POST", cn + "/refunds", bind(sb, creditnote_refund_create), CREDITNOTES_CREATE),
        Route("GET", cn + r"/refunds/(?P<refund_id>\d+)", bind(sb, creditnote_refund_get), CREDITNOTES_READ),
        Route("POST", cn + "/status/void", bind(sb, creditnote_void), CREDITNOTES_CREATE),
    ]
