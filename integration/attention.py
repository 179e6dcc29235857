"""What needs a person's attention, for the strip on every screen, and the webhook deliveries screen's rows in the
words a person reads."""

from __future__ import annotations

from django.db.models import Count
from django.urls import reverse

from integration import ledger, tally
from integration.models import CliqPost, InvoicePush, LegalEntity, ReconcileCursor, WebhookDelivery
from integration.zoho.weblinks import books_url

ALLOWANCE_WARNING = 0.8  # the share of an entity's daily Books calls after which every screen warns


def health() -> list[dict]:
    """What needs attention, for the strip on every screen: organizations whose last reconciliation could not read
    Books, daily allowances nearly spent, failing webhook deliveries — each with where to read why and what to do.
    (The token and pauses have their own banners.) Four small queries, cached with the banners."""
    setup, items = reverse("integration:setup"), []
    entities = list(LegalEntity.objects.filter(active=True).order_by("code"))
    reports = dict(
        ReconcileCursor.objects.filter(organization_id__in=[e.books_org_id for e in entities]).values_list(
            "organization_id", "last_report"
        )
    )
    spent = ledger.today()
    for entity in entities:
        error = (reports.get(entity.books_org_id) or {}).get("error")
        if error:
            items.append(
                {
                    "level": "bad",
                    "text": f"{entity.code}: Books organization {entity.books_org_id} could not be read at the last "
                    f"check ({error}). Payments there are not being followed.",
                    "url": f"{setup}#org-{entity.code}",
                    "link": "What to do",
                }
            )
        calls = spent.get(entity.books_org_id, {}).get("calls", 0)
        if entity.books_daily_cap and calls >= ALLOWANCE_WARNING * entity.books_daily_cap:
            items.append(
                {
                    "level": "warn",
                    "text": f"{entity.code} has used {calls:,} of its {entity.books_daily_cap:,} Books calls today.",
                    "url": f"{setup}#org-{entity.code}",
                    "link": "What uses them",
                }
            )
    failing = tally.deliveries_failed()
    if failing:
        items.append(
            {
                "level": "bad",
                "text": f"{failing:,} webhook deliver{'y' if failing == 1 else 'ies'} from Books failed.",
                "url": reverse("integration:deliveries") + "?state=failed",
                "link": "See and retry them",
            }
        )
    return items


def deliveries_page(*, state: str | None = None, limit: int = 200) -> dict:
    """The latest webhook deliveries (optionally in one state) and Cliq posts, newest first."""
    deliveries = WebhookDelivery.objects.order_by("-received_at")
    if state:
        deliveries = deliveries.filter(state=state)
    deliveries = list(deliveries[:limit])
    _name_deliveries(deliveries)
    posts = list(CliqPost.objects.select_related("push__sync").order_by("-created_at")[:limit])
    for post in posts:  # the payment's number, as Books gave it when the invoice was last read
        sync = getattr(post.push, "sync", None) if post.push_id and post.push.invoice_id else None
        numbers = {p["payment_id"]: p.get("number", "") for p in (sync.payments if sync else [])}
        post.payment_number = numbers.get(post.payment_id) or post.payment_id
    return {
        "deliveries": deliveries,
        "cliq_posts": posts,
        "delivery_counts": dict(
            WebhookDelivery.objects.values_list("state").order_by().annotate(n=Count("id")).values_list("state", "n")
        ),
    }


DELIVERY_NOUNS = {
    "invoice": "Invoice",
    "payment": "Payment",
    "creditnote": "Credit note",
    "creditnote_refund": "Refund",
}


def _name_deliveries(deliveries: list[WebhookDelivery]) -> None:
    """Give each delivery the words a person reads — "Payment PMT-00012 on invoice INV-000123" — and the push of
    its invoice, from the numbers Books put in the payload (names only: what a delivery changes is always read back
    from Books). One query for the pushes."""
    for d in deliveries:
        body = d.payload.get(d.kind) if isinstance(d.payload, dict) else None
        body = body if isinstance(body, dict) else {}
        applied = body.get("invoices") if isinstance(body.get("invoices"), list) else []
        first = applied[0] if applied and isinstance(applied[0], dict) else {}
        invoice_id = body.get("invoice_id") or first.get("invoice_id") or d.parked_invoice_id
        d.invoice_key = str(d.entity_id if d.kind == "invoice" else invoice_id or "")
        d.invoice_number = str(body.get("invoice_number") or first.get("invoice_number") or "")
        number = body.get(f"{d.kind}_number") or body.get("creditnote_number") or ""
        noun = DELIVERY_NOUNS.get(d.kind, (d.kind or "Something").replace("_", " ").capitalize())
        d.what = f"{noun} {number or d.entity_id}".strip()
    keys = {d.invoice_key for d in deliveries if d.invoice_key}
    pushes = {
        invoice_id: (pk, number)
        for invoice_id, pk, number in InvoicePush.objects.filter(invoice_id__in=keys).values_list(
            "invoice_id", "pk", "invoice_number"
        )
    }
    for d in deliveries:
        d.push_id, number = pushes.get(d.invoice_key, (None, ""))
        d.invoice_number = number or d.invoice_number
        if d.kind == "invoice" and d.invoice_number:
            d.what = f"Invoice {d.invoice_number}"
        d.books_link = books_url(d.organization_id, "invoice", d.invoice_key) if d.invoice_key else ""
