"""The configuration tables on screen: legal entities (with "test connection") and the tax map (add, edit,
delete with the CSV import's checks, and a tester for which rule applies). Reviewers read; finance-admins edit."""

from __future__ import annotations

import io

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from integration import selectors
from integration.editions import GCC, LABELS, TREATMENTS, UAE_ONLY, WITH_AUTHORITIES, treatment_label
from integration.forms import CsvReplaceForm, CsvUploadForm, LegalEntityForm, RuleTesterForm, TaxRuleForm, add_problems
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
from integration.services.entities import legal_entity_refresh, organization_problem
from integration.services.table_replace import PreviewOutdated, replace_apply, replace_preview
from integration.services.taxes import authority_taxes, tax_map_check
from integration.views.access import role_required
from integration.views.pushes import HtmxHttpRequest
from integration.zoho.errors import ZohoError


def _codes() -> list[str]:
    return list(LegalEntity.objects.values_list("code", flat=True))


def treatment_choices() -> list:
    """The treatment words of the editions our entities use (every edition with treatments before any entity's
    edition is known), grouped by edition, each with its meaning."""
    used = set(LegalEntity.objects.exclude(books_edition="").values_list("books_edition", flat=True))
    groups = [
        (LABELS[edition], [(word, treatment_label(word)) for word in (*words, *(UAE_ONLY if edition == GCC else ()))])
        for edition, words in TREATMENTS.items()
        if edition in used or not used
    ]
    return [("", "none (the entity taxes by tax authority)"), *groups]


def tax_choices() -> dict:
    """The tax authorities each active entity's Books organization has, with their taxes and rates (read from
    Books, cached ten minutes), for the tax-map forms to offer; entities Books could not be read for are named."""
    offered, unread = [], []
    for entity in LegalEntity.objects.filter(active=True, books_edition__in=WITH_AUTHORITIES).order_by("code"):
        found = authority_taxes(entity)
        if found is None:
            unread.append(entity.code)
        else:
            offered += [{"entity": entity.code, "name": name, "taxes": taxes} for name, taxes in found.items()]
    return {"authorities": offered, "authorities_unread": unread}


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
    return render(request, "integration/tables.html", _tables_context(request))


def _tables_context(request: HttpRequest, **forms) -> dict:
    """Everything the tables screen shows; `forms` put back a form a person just sent (with its errors), so an
    error in one form never empties another."""
    tester = forms.pop("tester", None) or RuleTesterForm(request.GET or None, entity_codes=_codes())
    context = {
        **selectors.configuration_tables(),
        **tax_choices(),
        "form": TaxRuleForm(entity_codes=_codes(), treatments=treatment_choices()),
        "upload": CsvUploadForm(),
        "tester": tester,
    }
    if tester.is_bound and tester.is_valid():
        context["tested"], context["tested_taxes"] = _which_rule(tester.cleaned_data)
    return context | forms


def _which_rule(data: dict) -> tuple[str, list[dict]]:
    """The rule a region gets, in words, and the tax each rate would get on an invoice line there (read from
    Books, cached): what a deal to that customer would be taxed with."""
    country = normalize_country(data["country"])
    if country is None:
        return f"“{data['country']}” is not a country we recognise.", []
    state = normalize_state(country, data["state"])
    if state is None:
        return f"“{data['state']}” is not a state or region of {country}.", []
    entity = LegalEntity.objects.get(code=data["legal_entity"])
    rule = selectors.tax_rule_for(legal_entity=entity, country=country, state=state)
    where = f"{country}/{state}" if state else country
    if rule is None:
        return f"No rule applies to {where} for {entity.code}: a taxed deal there is blocked.", []
    taxes = []
    if rule.tax_authority:
        found = authority_taxes(entity)
        if found is None:
            return f"For {where}, {entity.code} uses: {rule}. (Books could not be read just now for its taxes.)", []
        taxes = found.get(rule.tax_authority, [])
        if not taxes:
            return f"For {where}, {entity.code} uses: {rule} — but Books has no tax under that authority.", []
    return f"For {where}, {entity.code} uses: {rule}.", taxes


@require_POST
@role_required("integration.add_taxrule")
def tax_rule_add(request: HttpRequest) -> HttpResponse:
    return _save(request, None, TaxRuleForm(request.POST, entity_codes=_codes(), treatments=treatment_choices()))


@role_required("integration.change_taxrule")
def tax_rule_edit(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = get_object_or_404(TaxRule.objects.select_related("legal_entity"), pk=rule_id)
    if request.method == "POST":
        return _save(request, rule, TaxRuleForm(request.POST, entity_codes=_codes(), treatments=treatment_choices()))
    form = TaxRuleForm(initial=_rule_row(rule), entity_codes=_codes(), treatments=treatment_choices())
    return render(request, "integration/tax_rule_edit.html", _rule_context(rule, form))


def _rule_context(rule: TaxRule, form: TaxRuleForm) -> dict:
    history = rule.history.select_related("history_user").order_by("-history_date")[:20]
    return {"rule": rule, "form": form, "history": history, **tax_choices()}


def _save(request: HttpRequest, rule: TaxRule | None, form: TaxRuleForm) -> HttpResponse:
    if form.is_valid():
        try:
            saved = tax_rule_save(rule=rule, row=form.cleaned_data)
        except CsvImportError as exc:
            add_problems(form, exc.errors)
        else:
            messages.success(request, f"Saved: {saved}.")
            return redirect("integration:tables")
    if rule is not None:
        return render(request, "integration/tax_rule_edit.html", _rule_context(rule, form), status=400)
    return render(request, "integration/tables.html", _tables_context(request, form=form), status=400)


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


@require_POST
@role_required("integration.change_legalentity")
def entity_active(request: HttpRequest, code: str) -> HttpResponse:
    """Switch a legal entity off (its deals are refused, its organization is no longer reconciled or audited) or
    on again; recorded in its history."""
    entity = get_object_or_404(LegalEntity, code=code)
    active = request.POST.get("active") == "true"
    if entity.active != active:
        entity.active = active
        entity._change_reason = "Switched on on the tables screen" if active else "Switched off on the tables screen"
        entity.save(update_fields=["active"])
    if active:
        messages.success(request, f"{entity.code} is on: its deals are invoiced and its organization reconciled.")
    else:
        messages.success(request, f"{entity.code} is off: its deals are refused until it is switched on again.")
    return redirect("integration:tables")


@role_required("integration.change_legalentity")
def entity_edit(request: HttpRequest, code: str | None = None) -> HttpResponse:
    """Add a legal entity, or change one (its code stays): the CSV import's checks, one organization per entity."""
    entity = get_object_or_404(LegalEntity, code=code) if code else None
    if request.method == "POST":
        form = LegalEntityForm(request.POST)
        if form.is_valid():
            # Books is asked first (no transaction is open): an organization it does not know is refused here,
            # not found later by a reconciliation failing every minute.
            problem, organization = organization_problem(form.cleaned_data["books_org_id"].strip())
            try:
                if problem:
                    raise CsvImportError([problem])
                saved = legal_entity_save(entity=entity, row=form.cleaned_data)
            except CsvImportError as exc:
                add_problems(form, exc.errors)
            else:
                if organization is None:
                    messages.warning(
                        request,
                        f"Saved: {saved}. Books could not be reached to check organization {saved.books_org_id}; "
                        "use Test connection once it can.",
                    )
                else:
                    legal_entity_refresh(entity=saved, organization=organization)
                    messages.success(
                        request, f"Saved: {saved}, checked in Books: {saved.books_org_name}, {saved.edition_label}."
                    )
                return redirect("integration:tables")
        history = entity.history.select_related("history_user").order_by("-history_date")[:20] if entity else []
        context = {"entity": entity, "form": form, "history": history}
        return render(request, "integration/entity_edit.html", context, status=400)
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
        if form.cleaned_data.get("mode") == "replace":  # first what it would do; applied only when confirmed
            preview = replace_preview(table=table, content=content)
            return render(request, "integration/csv_preview.html", {"preview": preview, "content": content})
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
    if table not in ("tax_map", "legal_entities"):
        raise Http404
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{table}.csv"'
    if table == "tax_map":
        tax_map_export(out=response)
    else:
        legal_entities_export(out=response, every_column=True)
    return response


@require_POST
@role_required("integration.change_taxrule")
def tables_replace(request: HttpRequest) -> HttpResponse:
    """Apply a previewed replacement of a whole table, exactly as previewed (else the new preview, nothing done)."""
    form = CsvReplaceForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Nothing was imported: the preview's form was incomplete. Upload the file again.")
        return redirect("integration:tables")
    table, content = form.cleaned_data["table"], form.cleaned_data["content"]
    try:
        summary = replace_apply(
            table=table,
            content=content,
            fingerprint=form.cleaned_data["fingerprint"],
            source="CSV replace on the screen",
        )
    except CsvImportError as exc:
        messages.error(request, "Nothing was imported: " + " · ".join(exc.errors))
        return redirect("integration:tables")
    except PreviewOutdated:
        preview = replace_preview(table=table, content=content)
        context = {"preview": preview, "content": content, "outdated": True}
        return render(request, "integration/csv_preview.html", context, status=409)
    removed = f", {len(summary.notes)} removed" if summary.notes else ""
    messages.success(request, f"The table is now the file: {summary}{removed}.")
    return redirect("integration:tables")


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
