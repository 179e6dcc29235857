"""The configuration tables on screen: legal entities (with "test connection") and the tax map (add, edit,
delete with the CSV import's checks, and a tester for which rule applies). Reviewers read; finance-admins edit."""

from __future__ import annotations

import io

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from integration import selectors
from integration.forms import CsvUploadForm, LegalEntityForm, RuleTesterForm, TaxRuleForm, add_problems
from integration.models import CsvImport, LegalEntity, TaxRule
from integration.normalize import normalize_country, normalize_state
from integration.services.config_tables import (
    CsvImportError,
    legal_entities_export,
    legal_entities_import,
    legal_entity_save,
    size_problem,
    tax_map_export,
    tax_map_import,
    tax_rule_delete,
    tax_rule_save,
)
from integration.services.csv_jobs import INLINE_ROWS, csv_import_start
from integration.services.entities import legal_entity_refresh
from integration.services.taxes import tax_map_check
from integration.views.access import role_required
from integration.views.pushes import HtmxHttpRequest
from integration.zoho.errors import ZohoError


def _codes() -> list[str]:
    return list(LegalEntity.objects.values_list("code", flat=True))


def _rule_row(rule: TaxRule) -> dict:
    return {
        "legal_entity": rule.legal_entity.code if rule.legal_entity else "",
        "country": rule.country,
        "state": rule.state,
        "tax_authority": rule.tax_authority,
        "tax_treatment": rule.tax_treatment,
    }


@role_required("integration.view_taxrule")
def tables(request: HttpRequest) -> HttpResponse:
    """Legal entities and the tax map; the rule tester answers here too (GET with entity, country, state)."""
    context = {
        **selectors.configuration_tables(),
        "form": TaxRuleForm(entity_codes=_codes()),
        "entity_form": LegalEntityForm(),
        "upload": CsvUploadForm(),
    }
    tester = RuleTesterForm(request.GET or None, entity_codes=_codes())
    if tester.is_valid():
        context["tested"] = _which_rule(tester.cleaned_data)
    context["tester"] = tester
    return render(request, "integration/tables.html", context)


def _which_rule(data: dict) -> str:
    country = normalize_country(data["country"])
    if country is None:
        return f"“{data['country']}” is not a country we recognise."
    state = normalize_state(country, data["state"])
    if state is None:
        return f"“{data['state']}” is not a state or region of {country}."
    entity = LegalEntity.objects.get(code=data["legal_entity"])
    rule = selectors.tax_rule_for(legal_entity=entity, country=country, state=state)
    where = f"{country}/{state}" if state else country
    if rule is None:
        return f"No rule applies to {where} for {entity.code}: a taxed deal there is blocked."
    return f"For {where}, {entity.code} uses: {rule}."


@require_POST
@role_required("integration.add_taxrule")
def tax_rule_add(request: HttpRequest) -> HttpResponse:
    return _save(request, None, TaxRuleForm(request.POST, entity_codes=_codes()))


@role_required("integration.change_taxrule")
def tax_rule_edit(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = get_object_or_404(TaxRule.objects.select_related("legal_entity"), pk=rule_id)
    if request.method == "POST":
        return _save(request, rule, TaxRuleForm(request.POST, entity_codes=_codes()))
    form = TaxRuleForm(initial=_rule_row(rule), entity_codes=_codes())
    history = rule.history.select_related("history_user").order_by("-history_date")[:20]
    return render(request, "integration/tax_rule_edit.html", {"rule": rule, "form": form, "history": history})


def _save(request: HttpRequest, rule: TaxRule | None, form: TaxRuleForm) -> HttpResponse:
    if form.is_valid():
        try:
            saved = tax_rule_save(rule=rule, row=form.cleaned_data)
        except CsvImportError as exc:
            add_problems(form, exc.errors)
        else:
            messages.success(request, f"Saved: {saved}.")
            return redirect("integration:tables")
    template = "integration/tax_rule_edit.html" if rule else "integration/tables.html"
    context = {"rule": rule, "form": form}
    if rule is None:
        context |= {**selectors.configuration_tables(), "tester": RuleTesterForm(entity_codes=_codes())}
    return render(request, template, context, status=400)


@require_POST
@role_required("integration.delete_taxrule")
def tax_rule_remove(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = get_object_or_404(TaxRule, pk=rule_id)
    label = str(rule)
    tax_rule_delete(rule=rule)
    messages.success(request, f"Deleted: {label}.")
    return redirect("integration:tables")


@require_POST
@role_required("integration.change_legalentity")
def entity_test_connection(request: HttpRequest, code: str) -> HttpResponse:
    """Read the entity's Books organization now: name, currency, edition, home state."""
    entity = get_object_or_404(LegalEntity, code=code)
    try:
        legal_entity_refresh(entity=entity)
    except ZohoError as exc:
        messages.error(request, f"{entity.code}: Books organization {entity.books_org_id} could not be read: {exc}")
    else:
        messages.success(
            request,
            f"{entity.code}: connected to {entity.books_org_name} ({entity.books_currency}), {entity.edition_label}.",
        )
    return redirect("integration:tables")


@role_required("integration.change_legalentity")
def entity_edit(request: HttpRequest, code: str | None = None) -> HttpResponse:
    """Add a legal entity, or change one (its code stays): the CSV import's checks, one organization per entity."""
    entity = get_object_or_404(LegalEntity, code=code) if code else None
    if request.method == "POST":
        form = LegalEntityForm(request.POST)
        if form.is_valid():
            try:
                saved = legal_entity_save(entity=entity, row=form.cleaned_data)
            except CsvImportError as exc:
                add_problems(form, exc.errors)
            else:
                messages.success(request, f"Saved: {saved}. Test its connection to read its Books edition.")
                return redirect("integration:tables")
        return render(request, "integration/entity_edit.html", {"entity": entity, "form": form}, status=400)
    initial = (
        {
            "code": entity.code,
            "name": entity.name,
            "books_org_id": entity.books_org_id,
            "require_review": entity.require_review,
            "invoice_delivery": entity.invoice_delivery,
            "books_daily_cap": entity.books_daily_cap,
        }
        if entity
        else None
    )
    history = entity.history.select_related("history_user").order_by("-history_date")[:20] if entity else []
    return render(
        request,
        "integration/entity_edit.html",
        {"entity": entity, "form": LegalEntityForm(initial=initial), "history": history},
    )


@require_POST
@role_required("integration.change_taxrule")
def tables_import(request: HttpRequest) -> HttpResponse:
    """A CSV for either table, from the screen: all or nothing, every bad row named by its line."""
    form = CsvUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose a table and a CSV file.")
        return redirect("integration:tables")
    table, upload = form.cleaned_data["table"], form.cleaned_data["file"]
    importer = tax_map_import if table == "tax_map" else legal_entities_import
    try:
        if problem := size_problem(upload.size):
            raise CsvImportError([problem])
        content = upload.read().decode("utf-8-sig")
        if "\x00" in content:
            raise CsvImportError(["the file contains a NUL character (is it a spreadsheet file rather than CSV?)"])
        if content.count("\n") > INLINE_ROWS:  # a large file: a worker applies it, the page shows how far it got
            job = csv_import_start(table=table, filename=upload.name, content=content, user=request.user)
            return redirect("integration:csv-import", import_id=job.pk)
        summary = importer(file=io.StringIO(content, newline=""), source="CSV upload on the screen")
    except (CsvImportError, UnicodeDecodeError) as exc:
        errors = exc.errors if isinstance(exc, CsvImportError) else ["the file is not UTF-8 text"]
        messages.error(request, "Nothing was imported: " + " · ".join(errors))
    else:
        messages.success(request, f"Imported: {summary}.")
    return redirect("integration:tables")


@role_required("integration.view_taxrule")
def csv_import_page(request: HtmxHttpRequest, import_id: int) -> HttpResponse:
    """How far a large CSV import has got; the partial refreshes itself until it is done."""
    job = get_object_or_404(CsvImport.objects.defer("content"), pk=import_id)
    partial = request.htmx and not request.htmx.boosted
    template = "integration/csv_import.html#progress" if partial else "integration/csv_import.html"
    return render(request, template, {"job": job})


@role_required("integration.view_taxrule")
def tables_export(request: HttpRequest, table: str) -> HttpResponse:
    """Download either table as the CSV the import takes."""
    exporter = {"tax_map": tax_map_export, "legal_entities": legal_entities_export}.get(table)
    if exporter is None:
        raise Http404
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{table}.csv"'
    exporter(out=response)
    return response


@require_POST
@role_required("integration.change_taxrule")
def entity_check_taxes(request: HttpRequest, code: str) -> HttpResponse:
    """Check the tax map against the entity's Books organization now (authorities, taxes and their rates)."""
    entity = get_object_or_404(LegalEntity, code=code)
    try:
        findings = tax_map_check(entity=entity)
    except ZohoError as exc:
        messages.error(request, f"{entity.code}: Books could not be read: {exc}")
    else:
        for finding in findings:
            (messages.error if "has no tax" in finding or "blocked" in finding else messages.info)(
                request, f"{entity.code} — {finding}"
            )
    return redirect("integration:tables")
