"""The duplicate-audit screen: run audits with a live progress bar, review the groups found with each member's
usage side by side, resolve (choose the record to keep), dismiss, undo; export the findings as CSV."""

from __future__ import annotations

import functools
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from audits import selectors
from audits.models import DuplicateFlag
from audits.resolution import DecisionError, flag_dismiss, flag_put_back, flag_resolve, flag_undo
from audits.runs import audit_start
from integration.views.access import role_required

DECIDE = "audits.resolve_duplicateflag"


def _filters(data) -> dict:
    states = {s.value for s in DuplicateFlag.State}
    kinds = {k.value for k in DuplicateFlag.Kind}
    return {
        "entity": data.get("entity", "") if selectors.entity_known(data.get("entity", "")) else "",
        "kind": data.get("kind", "") if data.get("kind") in kinds else "",
        "state": data.get("state") if data.get("state") in states | {""} else DuplicateFlag.State.OPEN,
    }


def _back(request: HttpRequest) -> HttpResponse:
    query = urlencode({k: v for k, v in _filters(request.POST).items() if v is not None})
    return redirect(f"{reverse('audits:audits')}?{query}")


@role_required()
def audits(request: HttpRequest) -> HttpResponse:
    filters = _filters(request.GET)
    context = {
        "runs": selectors.latest_runs(),
        "running": selectors.any_run_active(),
        "flags": selectors.flag_page(**filters, page=request.GET.get("page", 1)),
        "filters": filters,
        "every_days": settings.AUDIT_EVERY_DAYS,
        "query": urlencode(filters),
        "entities": selectors.auditable_entities(),
        "states": DuplicateFlag.State.choices,
        "kinds": DuplicateFlag.Kind.choices,
        "can_decide": request.user.has_perm(DECIDE),
    }
    return render(request, "audits/audits.html", context)


@role_required()
def audit_progress(request: HttpRequest) -> HttpResponse:
    """The runs panel alone: polled every second while a run is queued or running. Once none is, the page
    reloads itself (HX-Refresh) to show what the audit found."""
    running = selectors.any_run_active()
    response = render(
        request, "audits/audits.html#runs", {"runs": selectors.latest_runs(), "running": running, "polled": True}
    )
    if not running:
        response["HX-Refresh"] = "true"
    return response


@require_POST
@role_required("audits.add_auditrun")
def audit_run(request: HttpRequest) -> HttpResponse:
    code = request.POST.get("entity", "")
    entities = selectors.auditable_entities(code)
    if code and not entities:
        messages.error(request, f"There is no active legal entity {code!r} to audit.")
        return redirect("audits:audits")
    started, already = [], []
    for entity in entities:
        _run, created = audit_start(entity=entity, trigger="screen", user=request.user)
        (started if created else already).append(entity.code)
    if started:
        messages.success(request, f"Audit started for {', '.join(started)}; progress below.")
    if already:
        messages.info(request, f"Already running for {', '.join(already)}; progress below.")
    return redirect("audits:audits")


def _decide(request: HttpRequest, flag_id: int, decide, done) -> HttpResponse:
    """Run one decision on a flag; say what happened (or why not) and go back to the list as it was filtered."""
    get_object_or_404(DuplicateFlag, pk=flag_id)
    try:
        flag = decide(flag_id=flag_id, user=request.user)
    except DecisionError as exc:
        messages.error(request, f"Group #{flag_id}: {exc}")
        return _back(request)
    messages.success(request, done(flag))
    for problem in flag.resolution.get("crm_failed", []):
        messages.warning(request, f"Not updated in the CRM (our link is correct): {problem}")
    return _back(request)


def _resolved(flag: DuplicateFlag) -> str:
    kept = next(m for m in flag.members if m["books_id"] == flag.survivor_id)
    moved = len(flag.resolution.get("links", [])) + len(flag.resolution.get("pushes", []))
    return (
        f"Resolved group #{flag.pk}: kept “{kept['name']}”; {len(flag.members) - 1} marked inactive in Books; "
        f"{moved} link(s) and pending push line(s) moved to it."
    )


@require_POST
@role_required(DECIDE)
def flag_resolve_view(request: HttpRequest, flag_id: int) -> HttpResponse:
    survivor = request.POST.get("survivor", "")
    return _decide(request, flag_id, functools.partial(flag_resolve, survivor_id=survivor), _resolved)


@require_POST
@role_required(DECIDE)
def flag_dismiss_view(request: HttpRequest, flag_id: int) -> HttpResponse:
    return _decide(
        request,
        flag_id,
        flag_dismiss,
        lambda f: f"Group #{f.pk} dismissed as not duplicates; it will not be flagged again.",
    )


def _undone(flag: DuplicateFlag) -> str:
    kept = getattr(flag, "kept_active", [])
    note = f" Kept active, because links or pushes made since use it: {', '.join(kept)}." if kept else ""
    return f"Undone: group #{flag.pk} is open again, as it was before.{note}"


@require_POST
@role_required(DECIDE)
def flag_undo_view(request: HttpRequest, flag_id: int) -> HttpResponse:
    return _decide(request, flag_id, flag_undo, _undone)


@require_POST
@role_required(DECIDE)
def flag_put_back_view(request: HttpRequest, flag_id: int) -> HttpResponse:
    return _decide(
        request, flag_id, flag_put_back, lambda f: f"Put back: group #{f.pk}'s records are as they were; it is open."
    )


@role_required()
def findings_export(request: HttpRequest) -> HttpResponse:
    filters = _filters(request.GET)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="duplicate-findings.csv"'
    selectors.findings_csv(response, selectors.findings_rows(entity=filters["entity"], kind=filters["kind"]))
    return response
