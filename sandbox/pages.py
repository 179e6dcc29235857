"""The sandbox's own pages and demo shortcuts: the home page (CRM deals with their Generate Invoice button, the
Cliq channel, the fault switches, Books' invoices with buttons to pay them), the customer's view of an invoice,
and the control API's invoice actions."""

from __future__ import annotations

import html
import json
from datetime import timedelta

from sandbox.books import touch
from sandbox.sales import (
    _overdue_check,
    invoice_status,
    invoice_write_off,
    payment_create,
    public_invoice,
)
from sandbox.state import SandboxState
from sandbox.wire import Request, Response, day, money

ACTIONS = ("pay", "overdue", "send", "void", "writeoff")


def demo_action(sb: SandboxState, org_id: str, invoice_id: str, what: str, data: dict) -> Response:
    """Control-API shortcuts for the demo: pay, send, void, write off, or make an invoice overdue."""
    org = sb.orgs.get(org_id)
    invoice = org.invoices.get(invoice_id) if org else None
    if invoice is None:
        return Response(404, {"error": "no such invoice"})
    if what in ("pay", "overdue", "send", "writeoff") and invoice["status"] == "draft":
        invoice["status"] = "sent"
        touch(sb, invoice)
    if what == "pay":
        amount = money(data.get("amount") or invoice["balance"], invoice["price_precision"])
        body = {
            "customer_id": invoice["customer_id"],
            "amount": amount,
            "payment_mode": "banktransfer",
            "invoices": [{"invoice_id": invoice_id, "amount_applied": amount}],
        }
        return payment_create(sb, Request("POST", "", {}, {}, json.dumps(body, default=str).encode()), org)
    if what == "writeoff":
        return invoice_write_off(sb, Request("POST", "", {}, {}, b""), org, invoice_id)
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
                    for a in ("pay", "overdue", "writeoff", "void")
                    if inv["status"] not in ("paid", "void")
                )
                rows.append(
                    f"<tr><td>{html.escape(org.name)}</td><td>{inv['invoice_number']}</td>"
                    f"<td>{html.escape(inv['customer_name'])}</td><td>{inv['reference_number']}</td>"
                    f"<td>{inv['total']} {inv['currency_code']}</td><td>{inv['balance']}</td>"
                    f"<td>{inv['status']}{' (written off)' if inv['write_off_amount'] else ''}</td><td>{actions}</td></tr>"
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
{_cliq_channels(sb)}
<h2>Faults</h2><p>Make Zoho misbehave, then watch Invoice Bridge cope on its own.</p>
<p><button onclick="fault()">Fail the next 2 invoice creates (Books 500)</button>
Press Generate Invoice after this: the push fails twice, waits, and retries by itself.</p>
<p>Webhooks: <b>{html.escape(sb.webhook_mode)}</b>
<button onclick="hooks('lose')">Lose webhooks</button> <button onclick="hooks('thread')">Deliver webhooks</button>
— a payment made while webhooks are lost reaches the deal at the next reconciliation.</p>
<p><button onclick="dropField()">Delete the CRM field Accounts.Legal_Entity</button>
Then Setup → <b>Check everything</b> on the dashboard (or <code>manage.py zoho_check</code>) names what is missing.</p>
<h2>Books invoices</h2><table><tr><th>Organization</th><th>Number</th><th>Customer</th><th>Reference (deal)</th>
<th>Total</th><th>Balance</th><th>Status</th><th></th></tr>{"".join(rows) or "<tr><td colspan=8>No invoices yet.</td></tr>"}</table>
<script>function post(u,m,b){{return fetch(u,{{method:m,headers:{{'Content-Type':'application/json'}},body:JSON.stringify(b)}})}}
function fault(){{post('/__sandbox__/faults','POST',{{kind:'error',count:2,method:'POST',path:'/invoices'}}).then(()=>location.reload())}}
function hooks(m){{post('/__sandbox__/settings','PATCH',{{webhook_mode:m}}).then(()=>location.reload())}}
function dropField(){{fetch('/__sandbox__/crm/fields/Accounts/Legal_Entity',{{method:'DELETE'}}).then(()=>location.reload())}}
function act(o,i,a){{fetch('/__sandbox__/books/'+o+'/invoices/'+i+'/'+a,{{method:'POST'}}).then(()=>location.reload())}}
function gen(d){{fetch('/__sandbox__/crm/deals/'+d+'/generate-invoice',{{method:'POST'}}).then(r=>r.json()).then(j=>{{
alert('Invoice Bridge answered '+j.http_status+': '+((j.reply||j).message||''));location.reload()}})}}</script>"""
    return Response(200, body, content_type="text/html; charset=utf-8")


def _cliq_channels(sb: SandboxState) -> str:
    """Each Cliq channel's last ten messages (payments and alerts go to different channels)."""
    channels = list(dict.fromkeys(m["channel"] for m in sb.cliq_messages)) or ["channel"]
    return "".join(
        f"<h2>Cliq #{html.escape(name)}</h2><ul>"
        + (
            "".join(
                f"<li><pre>{html.escape(m['payload'].get('text', ''))}</pre></li>"
                for m in [m for m in sb.cliq_messages if m["channel"] == name][-10:]
            )
            or "<li>No messages yet.</li>"
        )
        + "</ul>"
        for name in channels
    )


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


def _record_page(title: str, sections: list[tuple[str, str, dict]]) -> Response:
    """A plain page of records, each under an element whose id is its path, so a `#/invoices/ID` fragment (Books'
    own screen links) or the page itself lands on it."""
    body = "".join(
        f'<section id="{html.escape(anchor)}"><h2>{html.escape(heading)}</h2><pre>'
        f"{html.escape(json.dumps(record, indent=2, default=str))}</pre></section>"
        for anchor, heading, record in sections
    )
    page = f"<!doctype html><title>{html.escape(title)}</title><h1>{html.escape(title)}</h1>{body}"
    return Response(200, page, content_type="text/html; charset=utf-8")


def crm_record_page(sb: SandboxState, module: str, record_id: str) -> Response:
    """What a CRM record link opens (CRM's `/crm/tab/{Module}/{id}`): the record as the sandbox holds it."""
    name = {"Potentials": "Deals"}.get(module, module)
    with sb.lock:
        record = sb.crm.get(name, {}).get(record_id)
        record = dict(record) if record else None
    if record is None:
        return Response(404, "Record not found", content_type="text/plain")
    return _record_page(f"Zoho CRM (sandbox) — {name[:-1]} {record_id}", [(record_id, record_id, record)])


def books_app_page(sb: SandboxState, org_id: str) -> Response:
    """What a Books screen link opens (`/app/{organization_id}#/invoices/{id}`): the organization's invoices,
    customers, items and payments, each anchored at its Books path."""
    org = sb.orgs.get(org_id)
    if org is None:
        return Response(404, "Organization not found", content_type="text/plain")
    with sb.lock:
        sections = [
            (f"/{path}/{record_id}", f"{path} {record_id}", dict(record))
            for path, records in (
                ("invoices", org.invoices),
                ("contacts", org.contacts),
                ("inventory/items", org.items),
                ("paymentsreceived", org.payments),
            )
            for record_id, record in records.items()
        ]
    return _record_page(f"Zoho Books (sandbox) — {org.name}", sections)
