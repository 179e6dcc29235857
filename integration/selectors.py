"""Read-side queries."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

from django.core.cache import cache
from django.db import DatabaseError, connection
from django.db.models import Case, Count, Exists, IntegerField, Max, OuterRef, Q, Subquery, Value, When
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone

from config.celery import app as celery_app
from integration import ledger, tally
from integration.attention import health
from integration.models import (
    BooksPause,
    CustomerName,
    InvoicePush,
    InvoiceSync,
    LegalEntity,
    ReconcileCursor,
    TaxRule,
    WebhookDelivery,
)
from integration.money import as_decimal, currency_decimals, line_amounts
from integration.zoho.auth import current_fatal_error, scope_refusals, token_state
from integration.zoho.weblinks import books_app_url, books_url, crm_url


def tax_rule_for(*, legal_entity: LegalEntity, country: str, state: str = "") -> TaxRule | None:
    """The most specific tax rule for a region (country/state already normalized), or None.

    Specificity: a state rule beats a country-wide rule (geography decides the authority); at equal
    geography, a rule for this entity beats one for all entities.
    """
    states = [state, ""] if state else [""]
    return (
        TaxRule.objects.filter(Q(legal_entity=legal_entity) | Q(legal_entity__isnull=True))
        .filter(country=country, state__in=states)
        .annotate(
            specificity=Case(When(~Q(state=""), then=Value(2)), default=Value(0), output_field=IntegerField())
            + Case(When(legal_entity__isnull=False, then=Value(1)), default=Value(0), output_field=IntegerField())
        )
        .order_by("-specificity")
        .first()
    )


PAGE_SIZE = 50


def _pushes(
    *,
    state: str | None = None,
    entity: str | None = None,
    q: str = "",
    needs_decision: bool = False,
    payment: str | None = None,
    since=None,
    until=None,
    before: int | None = None,
    after: int | None = None,
):
    """The push list's rows for these filters, newest first (repeated blocked presses of a deal as its latest)."""
    pushes = InvoicePush.objects.order_by("-id")
    if state in (None, InvoicePush.State.BLOCKED):  # only blocked rows repeat; a list of another state has none
        later_press = InvoicePush.objects.filter(
            deal_id=OuterRef("deal_id"), state=InvoicePush.State.BLOCKED, id__gt=OuterRef("id")
        )
        # Written so the cheap test comes first: only a blocked row looks for a later press of its deal.
        pushes = pushes.filter(~Q(state=InvoicePush.State.BLOCKED) | ~Exists(later_press))
    if payment:
        pushes = pushes.filter(sync__payment_status=payment)
    if since:
        pushes = pushes.filter(created_at__date__gte=since)
    if until:
        pushes = pushes.filter(created_at__date__lte=until)
    if state:
        pushes = pushes.filter(state=state)
    if entity:
        pushes = pushes.filter(legal_entity__code=entity)
    if needs_decision:
        pushes = pushes.filter(state=InvoicePush.State.FAILED, plan__has_key="decisions").exclude(plan__decisions=[])
    if before:
        pushes = pushes.filter(id__lt=before)
    if after is not None:
        pushes = pushes.filter(id__gt=after)
    if q:
        pushes = pushes.filter(_matching(q))
    return pushes


NAMES_AT_MOST = 500


def _matching(q: str, *, arms: bool = False) -> Q | list[Q]:
    """What a search for `q` matches: the deal id or invoice number exactly, or part of the deal's or the
    customer's name — each arm separately with `arms` (a list). The customer's name is looked for among the
    distinct customer names first (one query: PostgreSQL keeps them in integration_customername, by a trigger),
    then the pushes are taken by exact name, along an index; SQLite compares every push's name."""
    customer = Q(customer_name__icontains=q)
    if connection.vendor == "postgresql":
        names = list(CustomerName.objects.filter(name__icontains=q).values_list("name", flat=True)[:NAMES_AT_MOST])
        if len(names) < NAMES_AT_MOST:  # else most customers match: walking the newest pushes finds them at once
            # One name (the usual search) is an equality: PostgreSQL walks that name's pushes newest first.
            customer = Q(customer_name=names[0]) if len(names) == 1 else Q(customer_name__in=names)
    deal_name = Q(deal_name__icontains=q)
    if word := max(re.findall(r"[^\W\d_]{3,}", q), key=len, default=""):
        # A name holding `q` holds its longest word: when no deal name has that word — one cheap look, made once
        # per query — the match by name is skipped before PostgreSQL reads the trigrams of the rest (digits that
        # half the names share).
        deal_name &= Q(Exists(InvoicePush.objects.filter(deal_name__icontains=word)))
    matches = [Q(deal_id=q), Q(invoice_number=q.upper()), deal_name, customer]
    return matches if arms else Q(*matches, _connector=Q.OR)


def _page_ids(limit: int, q: str, **filters) -> list[int]:
    """The ids of a searched page, newest first: each way of matching takes its own newest `limit` along its own
    index, and the newest `limit` of those are the page (one query). One OR over all of them would make PostgreSQL
    gather every match — a thousand pushes of one customer — before it could sort them."""
    base = _pushes(**filters).values_list("id", flat=True)
    first, *rest = [base.filter(arm)[:limit] for arm in _matching(q, arms=True)]
    return list(first.union(*rest).order_by("-id")[:limit])


def push_ids(**filters) -> list[int]:
    """Every push the list shows for these filters (all pages, no cap): what a bulk action acts on. One query."""
    return list(_pushes(**{**filters, "before": None, "after": None}).values_list("pk", flat=True))


def push_count(**filters) -> int:
    """How many pushes the list shows for these filters, all pages. One query."""
    return _pushes(**{**filters, "before": None, "after": None}).count()


def push_list(*, limit: int = PAGE_SIZE, **filters) -> list[InvoicePush]:
    """Most recent pushes first, filtered, one page (keyset: pushes older than `before`); one query (two for a
    search on PostgreSQL: its ids, then its rows). Repeated blocked presses of one deal show as its latest, with
    `blocked_presses` counting them."""
    if filters.get("q") and connection.vendor == "postgresql":
        ids = _page_ids(limit, **filters)
        pushes = InvoicePush.objects.filter(pk__in=ids).order_by("-id").select_related("legal_entity", "sync")
    else:
        pushes = _pushes(**filters).select_related("legal_entity", "sync")
    presses = (
        InvoicePush.objects.filter(deal_id=OuterRef("deal_id"), state=InvoicePush.State.BLOCKED)
        .order_by()
        .values("deal_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    page = list(pushes.annotate(blocked_presses=Subquery(presses[:1]))[:limit])
    # What each row shows, worked out here once rather than by template filters and a URL lookup per row: the
    # list is the page everyone opens, and at 50 rows those cost more than its queries.
    detail = reverse("integration:push-detail", args=[0]).removesuffix("0/")
    for push in page:
        push.detail_url = f"{detail}{push.pk}/"
        push.requested_at = timezone.localtime(push.created_at).strftime("%Y-%m-%d %H:%M")
        sync = getattr(push, "sync", None) if push.invoice_id else None
        push.payment_status = sync.payment_status if sync is not None else ""
        push.deal_url = crm_url("deal", push.deal_id)
        push.invoice_link = books_url(push.organization_id, "invoice", push.invoice_id)
        if sync is not None and sync.total is not None:
            push.amount, push.currency = sync.total, sync.currency  # Books' figure, as last synced
        else:
            planned = planned_invoice(push.plan)
            push.amount = planned["total"] if planned else None
            push.currency = planned["currency"] if planned else ""
    return page


def home_numbers() -> dict:
    """What needs someone now, and what happened lately — each number links to the list it counts — plus the
    count per state for the filter bar, and each legal entity's Books calls today against its daily limit.
    The counts come from the running tally (integration/tally.py) and the "today" / "this week" numbers from
    an index range, so the cost stays flat however long the history grows: three queries."""
    now = timezone.now()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    totals = tally.totals(today=today, week=today - timedelta(days=today.weekday()))
    State = InvoicePush.State
    return {
        **totals,
        "pending_review": totals["counts"][State.PENDING_REVIEW],
        "failed": totals["counts"][State.FAILED],
        "budget": books_budget(),
    }


def books_budget() -> list[dict]:
    """Per legal entity: today's Books calls, the daily limit, what is left and what used them (two queries)."""
    spent = ledger.today()
    entities = LegalEntity.objects.order_by("code").values_list("code", "books_org_id", "books_daily_cap")
    return [{"code": code, **_budget_line(spent, org, cap)} for code, org, cap in entities]


def _budget_line(spent: dict[str, dict], organization_id: str, cap: int) -> dict:
    """One organization's day out of `ledger.today()`: calls, the cap, what is left and what used them."""
    line = spent.get(organization_id, {"calls": 0, "by": {}})
    return {"calls": line["calls"], "cap": cap, "left": max(0, cap - line["calls"]), "by": line["by"]}


def push_page(*, push_id: int) -> dict:
    """Everything one push's page shows; 404 when there is no such push."""
    push = get_object_or_404(InvoicePush.objects.select_related("legal_entity"), pk=push_id)
    return {
        "push": push,
        "events": push.events.all(),
        "sync": InvoiceSync.objects.filter(push=push).first(),
        "cliq_posts": push.cliq_posts.order_by("created_at"),
        "planned": planned_invoice(push.plan),
        "explanation": push_explanation(push),
        "links": push_links(push),
    }


def push_links(push: InvoicePush) -> dict:
    """Where a push's records open in CRM and Books (the configured data centre); "" where a record is not known."""
    account = push.plan.get("account", {}) if isinstance(push.plan, dict) else {}
    org = push.organization_id
    customer = push.plan.get("customer_id") or account.get("books_customer_id") or ""
    return {
        "deal": crm_url("deal", push.deal_id),
        "account": crm_url("account", account.get("id", "")),
        "customer": books_url(org, "customer", customer),
        "invoice": books_url(org, "invoice", push.invoice_id),
        "books_app": books_app_url(org),
    }


def planned_invoice(plan: dict) -> dict | None:
    """The plan as an invoice: the customer and how it was matched, each line with its item match, tax and
    amount — rounded as Books rounds (half up, per line, to the currency's decimals) — and the totals in the
    deal's currency; once Books has created the invoice, its own totals (`from_books`). None before the push
    is planned."""
    if not plan.get("lines"):
        return None
    currency = plan.get("currency") or {}
    code = currency.get("code") or plan.get("deal", {}).get("currency", "")
    places = int(currency.get("decimals", currency_decimals(code)))
    item_ids, new = plan.get("item_ids", {}), set(plan.get("confirmed_new", []))
    lines, subtotal, tax_total = [], Decimal("0"), Decimal("0")
    for line in plan["lines"]:
        amount, tax = line_amounts(line["quantity"], line["rate"], line["tax_percentage"], places)
        subtotal, tax_total = subtotal + amount, tax_total + tax
        item = item_ids.get(line["product_id"])
        match = (
            f"Books item {item}" if item else ("a new Books item" if line["product_id"] in new else "not matched yet")
        )
        lines.append({**line, "amount": amount, "tax": tax, "match": match})
    account = plan.get("account", {})
    if plan.get("customer_id"):
        customer = f"Books customer {plan['customer_id']}"
    elif account.get("books_customer_id"):
        customer = f"the Account's Books_Customer_Id {account['books_customer_id']} (to be checked)"
    else:
        customer = "not matched yet: searched by name, created only if none matches"
    tax = plan.get("tax") or {}
    books = plan.get("invoice") or {}
    figures = {"subtotal": subtotal, "tax_total": tax_total, "total": subtotal + tax_total}
    if books.get("total"):
        figures = {
            "subtotal": as_decimal(books.get("sub_total")),
            "tax_total": as_decimal(books.get("tax_total")),
            "total": as_decimal(books.get("total")),
        }
    return {
        "account": account,
        "customer": customer,
        "lines": lines,
        "currency": books.get("currency_code") or code,
        **figures,
        "from_books": bool(books.get("total")),
        "date": books.get("date", ""),
        "exchange_rate": "" if currency.get("base", True) else currency.get("exchange_rate", ""),
        "authority": (plan.get("tax_authority") or {}).get("name", ""),
        "treatment": tax.get("treatment", ""),
        "place_of_supply": tax.get("place_of_supply", ""),
    }


def configuration_tables() -> dict:
    """The legal entities and the tax map, for their screen; each rule knows what would apply to its region
    if it were deleted (`fallback`, None: taxed deals there would be blocked)."""
    rules = list(TaxRule.objects.select_related("legal_entity"))
    for rule in rules:
        rule.fallback = _fallback(rule, rules)
    return {"entities": LegalEntity.objects.all(), "tax_rules": rules}


def _fallback(rule: TaxRule, rules: list[TaxRule]) -> TaxRule | None:
    """The rule the region of `rule` would get without it, by tax_rule_for's order: a state rule before a
    country-wide one, this entity's before all entities'."""
    wanted = [(rule.state, rule.legal_entity_id), (rule.state, None), ("", rule.legal_entity_id), ("", None)]
    order = {key: n for n, key in enumerate(dict.fromkeys(wanted))}
    others = [
        r for r in rules if r.pk != rule.pk and r.country == rule.country and (r.state, r.legal_entity_id) in order
    ]
    return min(others, key=lambda r: order[(r.state, r.legal_entity_id)], default=None)


def zoho_token_problem() -> str:
    """The OAuth problem to show on every screen, or '': refused credentials, or scopes Zoho refused."""
    fatal = current_fatal_error()
    if fatal:
        return fatal
    refused = scope_refusals()
    if not refused:
        return ""
    return (
        f"Zoho refused calls for want of the scope{'s' if len(refused) > 1 else ''} {', '.join(sorted(refused))}. "
        "Generate a new refresh token with every scope listed on the Setup screen and set ZOHO_REFRESH_TOKEN."
    )


def books_pauses() -> list[BooksPause]:
    """Organizations whose Books work is paused for the daily API cap right now."""
    return list(BooksPause.objects.filter(until__gt=timezone.now()).order_by("until"))


def health_report() -> dict:
    """What a load balancer (and an operator) needs to know: database, broker, Zoho token. No secrets."""
    report: dict = {"status": "ok"}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        report["database"] = "ok"
    except DatabaseError as exc:
        report["status"], report["database"] = "unavailable", f"error: {type(exc).__name__}"
    if celery_app.conf.task_always_eager:
        report["broker"] = "none (tasks run in-process)"
    else:
        try:
            with celery_app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
            report["broker"] = "ok"
        except Exception as exc:  # any transport failure means "not ok"; the type says which
            report["status"], report["broker"] = "unavailable", f"error: {type(exc).__name__}"
    if report.get("database") == "ok":
        report["zoho_token"] = token_state()
        report["books_paused"] = [p.organization_id for p in books_pauses()]
        report["books_calls_today"] = ledger.today()
        report["reconciliation"] = {  # the last run per organization: what it cost and what it did
            org: {k: last.get(k) for k in ("at", "calls", "changed", "synced", "skipped", "note")}
            for org, last in ReconcileCursor.objects.values_list("organization_id", "last_report")
        }
    return report


def setup_status() -> dict:
    """Live status for the setup screen: the Zoho token, and per organization what was read from Books,
    whether its taxes are known, the last webhook received and any daily-cap pause. No secrets."""
    last = dict(
        WebhookDelivery.objects.values("organization_id")
        .order_by()
        .annotate(at=Max("received_at"))
        .values_list("organization_id", "at")
    )
    paused = {p.organization_id: p.until for p in books_pauses()}
    reconciled = dict(ReconcileCursor.objects.values_list("organization_id", "last_report"))
    spent = ledger.today()
    rows = []
    for entity in LegalEntity.objects.order_by("code"):
        taxes = cache.get(f"books:taxes:{entity.books_org_id}")
        rows.append(
            {
                "entity": entity,
                "taxes": len(taxes) if taxes is not None else None,
                "last_webhook": last.get(entity.books_org_id),
                "paused_until": paused.get(entity.books_org_id),
                "reconciled": reconciled.get(entity.books_org_id) or {},
                "budget": _budget_line(spent, entity.books_org_id, entity.books_daily_cap),
            }
        )
    return {"token_state": token_state(), "token_problem": current_fatal_error(), "organizations": rows}


BANNERS_CACHE_SECONDS = 5


def banners() -> dict:
    """What every screen shows at the top (a fatal Zoho problem, Books pauses), cached for a few seconds so a
    page costs no query for them."""

    def read() -> dict:
        return {"token_problem": zoho_token_problem(), "books_pauses": books_pauses(), "health": health()}

    return cache.get_or_set("screens:banners", read, BANNERS_CACHE_SECONDS)


def invoice_voided(*, push: InvoicePush) -> bool:
    """Books shows the push's invoice as void (as last synced)."""
    return InvoiceSync.objects.filter(push=push, payment_status="Void").exists()


ZOHO_MEANINGS = {
    "1000": "Books had an internal error on its side; it usually passes",
    "44": "Books' per-minute limit for this organization was reached",
    "45": "Books' daily API limit for this organization is used up",
    "57": "Books did not accept our access token",
    "1070": "Books was handling too many calls from us at once",
    "1002": "Books no longer has a record this push relies on",
    "4": "Books refused one of the values sent",
    "1001": "Books already has an item of that name",
    "3062": "Books already has a customer of that name",
}


def push_explanation(push: InvoicePush) -> str:
    """The push's last problem in plain words: what it means and what happens next."""
    code = re.search(r"\(Zoho code (\d+)\)", push.error or "")
    meaning = ZOHO_MEANINGS.get(code.group(1), "") if code else ""
    if push.state == InvoicePush.State.QUEUED and push.next_attempt_at:
        nxt = f"It is tried again by itself at {push.next_attempt_at:%H:%M:%S} UTC"
        nxt += f" (attempt {push.attempts + 1})." if push.attempts else "."
    elif push.state == InvoicePush.State.FAILED and push.plan.get("decisions"):
        nxt = "A finance administrator must decide below; the push then replays by itself."
    elif push.state == InvoicePush.State.FAILED:
        nxt = "Nothing happens by itself now: fix the cause, then replay (or press Generate Invoice again in CRM)."
    elif push.state == InvoicePush.State.BLOCKED:
        nxt = "Fix the reasons in CRM or the tax map, then press Generate Invoice again."
    else:
        nxt = ""
    return " ".join(p for p in (f"{meaning}." if meaning else "", nxt) if p)
