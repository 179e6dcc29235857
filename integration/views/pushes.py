"""The push screens: the list (home) and one push's page."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from django_htmx.middleware import HtmxDetails

from audits.decisions import decision_settle
from integration import selectors
from integration.forms import DecisionForm, PushFilterForm, RejectForm
from integration.models import PAYMENT_STATUSES, BulkReplay, InvoicePush
from integration.services.bulk import bulk_replay_start, bulk_rows
from integration.services.planning import PushBlocked, deal_plan, plan_changes
from integration.services.press import push_reissue, push_request
from integration.services.review import PushStateError, push_approve, push_reject, push_replay
from integration.services.timeline import push_event
from integration.views.access import role_required
from integration.zoho.errors import ZohoError


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


@role_required()
def dashboard(request: HtmxHttpRequest) -> HttpResponse:
    """What needs someone, and the pushes: filtered, searched, a page at a time. An htmx request (the filter
    bar, the poll of rows in flight) gets the table alone, without the numbers it does not show."""
    filters = PushFilterForm(request.GET).filters()
    pushes = selectors.push_list(**filters)
    query = request.GET.copy()
    query.pop("before", None)
    query.pop("after", None)
    context = {
        "pushes": pushes,
        "selected_state": filters.get("state"),
        "filters": filters,
        "query": query.urlencode(),
        "older": pushes[-1].pk if len(pushes) == selectors.PAGE_SIZE else None,
        # Rows still moving refresh themselves every few seconds; the polling stops once none is.
        "in_flight": any(p.state in (InvoicePush.State.QUEUED, InvoicePush.State.RUNNING) for p in pushes),
    }
    context["bulk"] = _bulk_state(filters) is not None  # the form loads itself, with its count (bulk_form)
    context["narrowed_by"] = _narrowed_by(filters)
    if request.htmx and not request.htmx.boosted:
        return render(request, "integration/dashboard.html#push-table", context)
    numbers = selectors.home_numbers()
    counts = dict(numbers["counts"])
    # The list shows a deal's repeated blocked presses as one row (its latest), so its chip counts those rows.
    counts[InvoicePush.State.BLOCKED] = numbers["blocked_rows"]
    context |= {
        "numbers": numbers,
        "states": [(value, label, counts[value]) for value, label in InvoicePush.State.choices],
        "entities_codes": [row["code"] for row in numbers["budget"]],
        "payment_choices": PAYMENT_STATUSES,
    }
    return render(request, "integration/dashboard.html", context)


@role_required()
def push_news(request: HtmxHttpRequest) -> HttpResponse:
    """The live list: the pushes newer than `after` that the open list's filters let through, as rows to put on
    top, and the poller again with the newest id (an open first page polls this every few seconds)."""
    filters = PushFilterForm(request.GET).filters()
    if filters.get("after") is None:
        return HttpResponse(status=400)
    pushes = selectors.push_list(**filters)
    query = request.GET.copy()
    query.pop("after", None)
    newest = max((p.pk for p in pushes), default=filters["after"])
    context = {"pushes": pushes, "query": query.urlencode(), "newest": newest}
    return render(request, "integration/dashboard.html#push-news", context)


# How each filter reads in "No push matches …" (an empty list says which filters emptied it).
NARROWED_BY = (
    ("q", lambda v: f"search “{v}”"),
    ("state", lambda v: f"state {InvoicePush.State(v).label.lower()}"),
    ("entity", lambda v: f"legal entity {v}"),
    ("payment", lambda v: f"payment {v}"),
    ("needs_decision", lambda v: "needing a decision"),
    ("since", lambda v: f"from {v:%Y-%m-%d}"),
    ("until", lambda v: f"to {v:%Y-%m-%d}"),
    ("before", lambda v: f"older than push #{v}"),
)


def _narrowed_by(filters: dict) -> str:
    """The filters that narrow the list, in words ('' when none does)."""
    return ", ".join(words(filters[key]) for key, words in NARROWED_BY if filters.get(key))


@role_required()
def push_detail(request: HtmxHttpRequest, push_id: int) -> HttpResponse:
    """One push: its plan, outcome and timeline; payments, credit notes and refunds from Books, read-only."""
    return render(request, "integration/push_detail.html", selectors.push_page(push_id=push_id))


@require_POST
@role_required("integration.review_invoicepush")
def push_approve_view(request: HtmxHttpRequest, push_id: int) -> HttpResponse:
    """A reviewer approves a push waiting for review: its invoice is created now."""
    push = get_object_or_404(InvoicePush, pk=push_id)
    try:
        push_approve(push=push, user=request.user)
        messages.success(request, f"Approved: push #{push.pk} is creating its invoice.")
    except PushStateError as exc:
        messages.error(request, str(exc))
    return redirect("integration:push-detail", push_id=push.pk)


@require_POST
@role_required("integration.review_invoicepush")
def push_reject_view(request: HtmxHttpRequest, push_id: int) -> HttpResponse:
    """A reviewer rejects a push waiting for review, with a reason."""
    push = get_object_or_404(InvoicePush, pk=push_id)
    form = RejectForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        push_reject(push=push, user=request.user, reason=reason)
        messages.success(request, f"Rejected push #{push.pk}; the account executive sees why on the deal in CRM.")
    except PushStateError as exc:
        messages.error(request, str(exc))
    return redirect("integration:push-detail", push_id=push.pk)


@require_POST
@role_required("integration.review_invoicepush")
def push_replay_view(request: HtmxHttpRequest, push_id: int) -> HttpResponse:
    """A reviewer replays a failed push: it resumes from the step that failed."""
    push = get_object_or_404(InvoicePush, pk=push_id)
    try:
        push_replay(push=push, user=request.user)
        push.refresh_from_db()
        messages.success(request, f"Replayed: push #{push.pk} is {push.get_state_display().lower()}.")
    except PushStateError as exc:
        messages.error(request, str(exc))
    return redirect("integration:push-detail", push_id=push.pk)


@require_POST
@role_required("integration.change_itemlink")
def push_decide_view(request: HtmxHttpRequest, push_id: int) -> HttpResponse:
    """Finance settles one near-duplicate (item or customer); the last decision replays the push."""
    push = get_object_or_404(InvoicePush, pk=push_id)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Pick one of the choices, then press Decide.")
        return redirect("integration:push-detail", push_id=push.pk)
    try:
        replayed = decision_settle(push=push, user=request.user, **form.cleaned_data)
    except (PushStateError, ZohoError, ValueError) as exc:
        messages.error(request, str(exc))
    else:
        push.refresh_from_db()
        if replayed:
            messages.success(request, f"Decided; push #{push.pk} is replayed and will create its invoice now.")
        else:
            messages.success(request, "Decided. Settle the remaining choices to replay the push.")
    return redirect("integration:push-detail", push_id=push.pk)


def _bulk_state(filters: dict) -> str | None:
    """The state a bulk action applies to in this list (failed: replay; waiting for review: approve), or None."""
    state = filters.get("state") or (InvoicePush.State.FAILED if filters.get("needs_decision") else None)
    return state if state in (InvoicePush.State.FAILED, InvoicePush.State.PENDING_REVIEW) else None


@role_required("integration.review_invoicepush")
def bulk_form(request: HtmxHttpRequest) -> HttpResponse:
    """The bulk action's form for the list as filtered, saying how many pushes it takes (loaded by the dashboard
    after its own page, so the count costs the list nothing)."""
    filters = PushFilterForm(request.GET).filters()
    state = _bulk_state(filters)
    count = selectors.push_count(**{**filters, "state": state}) if state else 0
    action = "approve" if state == InvoicePush.State.PENDING_REVIEW else "replay"
    context = {"bulk_count": count, "bulk_action": action, "filters": filters, "selected_state": filters.get("state")}
    return render(request, "integration/dashboard.html#bulk-form", context)


@require_POST
@role_required("integration.review_invoicepush")
def bulk_replay_view(request: HtmxHttpRequest) -> HttpResponse:
    """Replay every failed push the filtered list shows — or, with action=approve, approve every push waiting for
    review in it — exactly the filters on screen, all pages."""
    action = "approve" if request.POST.get("action") == "approve" else "replay"
    filters = PushFilterForm(request.POST).filters()
    state = InvoicePush.State.PENDING_REVIEW if action == "approve" else InvoicePush.State.FAILED
    if filters.get("state") not in (None, state):
        messages.error(request, "That list has no push this action applies to.")
        return redirect("integration:dashboard")
    ids = selectors.push_ids(**{**filters, "state": state})
    if not ids:
        what = "waiting for review" if action == "approve" else "failed"
        messages.error(request, f"There is no {what} push in this list.")
        return redirect("integration:dashboard")
    bulk = bulk_replay_start(push_ids=ids, user=request.user, action=action)
    return redirect("integration:bulk-replay", bulk_id=bulk.pk)


@role_required()
def bulk_replay_page(request: HtmxHttpRequest, bulk_id: int) -> HttpResponse:
    """The progress of a bulk replay; the partial refreshes itself until the replay is finished."""
    bulk = get_object_or_404(BulkReplay, pk=bulk_id)
    partial = request.htmx and not request.htmx.boosted  # the progress poll, not a boosted form's landing
    template = "integration/bulk_replay.html#progress" if partial else "integration/bulk_replay.html"
    rows = bulk_rows(bulk)
    settled = bool(bulk.finished_at) and not any(r["moving"] for r in rows)
    return render(request, template, {"bulk": bulk, "rows": rows, "settled": settled})


@require_POST
@role_required("integration.review_invoicepush")
def push_reissue_view(request: HtmxHttpRequest, push_id: int) -> HttpResponse:
    """The invoice was voided in Books: start a new invoice for the deal."""
    push = get_object_or_404(InvoicePush, pk=push_id)
    try:
        new = push_reissue(push=push, user=request.user)
    except (PushStateError, ZohoError) as exc:
        messages.error(request, str(exc))
        return redirect("integration:push-detail", push_id=push.pk)
    messages.success(request, f"Started push #{new.pk} for a new invoice ({new.get_state_display().lower()}).")
    return redirect("integration:push-detail", push_id=new.pk)


@role_required("integration.review_invoicepush")
def push_compare_view(request: HtmxHttpRequest, push_id: int) -> HttpResponse:
    """What a replay would change: the plan rebuilt from today's CRM data and tables, against the push's plan."""
    push = get_object_or_404(InvoicePush.objects.select_related("legal_entity"), pk=push_id)
    context = {"push": push, "changes": None, "blocked": [], "problem": ""}
    try:
        today = deal_plan(deal_id=push.deal_id)
        context["changes"] = plan_changes(push.plan, today)
    except PushBlocked as blocked:
        context["blocked"] = blocked.reasons
    except ZohoError as exc:
        context["problem"] = str(exc)
    return render(request, "integration/push_compare.html", context)


@require_POST
@role_required("integration.review_invoicepush")
def push_plan_again_view(request: HtmxHttpRequest, push_id: int) -> HttpResponse:
    """A blocked push, once its reasons are fixed: plan the deal again now, as a new press would."""
    push = get_object_or_404(InvoicePush, pk=push_id, state=InvoicePush.State.BLOCKED)
    try:
        new = push_request(deal_id=push.deal_id, user=request.user.email or str(request.user))
    except ZohoError as exc:
        messages.error(request, str(exc))
        return redirect("integration:push-detail", push_id=push.pk)
    push_event(new, f"{request.user} planned the deal again (from push #{push.pk})", actor=request.user)
    if new.state == InvoicePush.State.BLOCKED:
        messages.error(request, "Still blocked: " + " ".join(new.reasons))
    else:
        messages.success(request, f"Planned again: push #{new.pk} is {new.get_state_display().lower()}.")
    return redirect("integration:push-detail", push_id=new.pk)
