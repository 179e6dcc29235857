"""The preflight check of a live setup (CONTRACT.md §9): `manage.py zoho_check` and the Setup screen's "Check
everything" run this. Read-only against Zoho and cheap on the Books budget — per organization one read of the
organization and one of its taxes (every page); in CRM one field-metadata read per module. Every problem is
said in plain words with its fix, naming the entity, tax-map row or CRM field."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from integration.editions import LABELS, WITH_AUTHORITIES, has_treatments
from integration.models import LegalEntity
from integration.services.entities import legal_entity_refresh, organization_zone
from integration.services.taxes import org_taxes, tax_rule_problem, tax_rules_of
from integration.setup_guide import (
    CRM_FIELDS,
    LOOPBACK_HOSTS,
    SUBFORM,
    SUBFORM_COLUMNS,
    CrmField,
    public_url_problem,
)
from integration.zoho.auth import TokenManager, scope_refusals
from integration.zoho.books import BooksClient
from integration.zoho.crm import CrmClient
from integration.zoho.errors import ZohoError


@dataclass(frozen=True)
class Finding:
    where: str  # "Zoho", "CRM", "Setup" or a legal entity code
    text: str
    problem: bool = True


def zoho_check(*, entity_code: str | None = None) -> list[Finding]:
    """Check the token, each active legal entity's organization and tax map (or one entity's), and the CRM
    fields. Findings with `problem` False say what was found to be right."""
    findings: list[Finding] = []
    if problem := public_url_problem():
        # Zoho in Zoho's cloud cannot call such an address; a Zoho on this machine (the sandbox) can.
        local = urlsplit(settings.ZOHO_API_DOMAIN).hostname in LOOPBACK_HOSTS
        findings.append(Finding("Setup", problem + (" (Zoho here is local, so it can.)" if local else ""), not local))
    try:
        TokenManager.from_settings().get()
    except ZohoError as exc:
        return [*findings, Finding("Zoho", f"The access token cannot be refreshed: {exc}")]
    findings.append(Finding("Zoho", "The access token refreshes.", problem=False))
    for scope, refusal in scope_refusals().items():
        findings.append(
            Finding(
                "Zoho",
                f"Zoho refused {refusal.get('call', 'a call')} for want of the scope {scope}: generate a new refresh "
                "token with every scope of the setup guide.",
            )
        )
    entities = LegalEntity.objects.filter(active=True).order_by("code")
    if entity_code:
        entities = LegalEntity.objects.filter(code=entity_code)
    books = BooksClient()
    for entity in entities:
        findings += _organization(books, entity)
    return findings + _crm_fields(CrmClient(), [e.code for e in LegalEntity.objects.filter(active=True)])


def _organization(books: BooksClient, entity: LegalEntity) -> list[Finding]:
    where = entity.code
    try:
        legal_entity_refresh(entity=entity, books=books)
        taxes = org_taxes(books, entity.books_org_id, fresh=True)
    except ZohoError as exc:
        return [Finding(where, f"Books organization {entity.books_org_id} cannot be read: {exc}. Check its id.")]
    findings = [
        Finding(
            where,
            f"Books organization {entity.books_org_id} “{entity.books_org_name}”: "
            f"{LABELS.get(entity.books_edition, 'unknown')} edition (home state {entity.books_home_state or '—'}), "
            f"{entity.books_currency}, time zone {entity.books_time_zone or 'not given'}; {len(taxes)} active taxes.",
            problem=False,
        )
    ]
    if not entity.books_country:
        findings.append(Finding(where, "Books gives the organization no country, so its edition is unknown."))
    if not organization_zone(entity.books_time_zone):
        findings.append(
            Finding(
                where,
                f"The organization's time zone “{entity.books_time_zone}” is not one we can place: invoices go "
                "without a date and Books dates them itself.",
            )
        )
    rules = list(tax_rules_of(entity))
    for rule in rules:
        if problem := tax_rule_problem(rule=rule, entity=entity, taxes=taxes):
            findings.append(Finding(where, problem))
    needs_rows = entity.books_edition in WITH_AUTHORITIES or has_treatments(entity.books_edition)
    if not rules and needs_rows:
        findings.append(
            Finding(
                where,
                f"No tax-map row applies to {entity.code} ({LABELS.get(entity.books_edition, '?')} edition): its "
                "taxed deals are blocked until one does.",
                problem=False,
            )
        )
    return findings


def _crm_fields(crm: CrmClient, entity_codes: list[str]) -> list[Finding]:
    findings: list[Finding] = []
    metadata: dict[str, dict[str, dict]] = {}
    for module in dict.fromkeys(f.module for f in CRM_FIELDS):
        try:
            metadata[module] = {f.get("api_name"): f for f in crm.fields(module)}
        except ZohoError as exc:
            findings.append(Finding("CRM", f"The fields of {module} cannot be read: {exc}"))
    for wanted in CRM_FIELDS:
        if wanted.module in metadata:
            findings += _field(wanted, metadata[wanted.module], entity_codes)
    subform = metadata.get("Deals", {}).get(SUBFORM)
    if subform and subform.get("data_type") == "subform":
        module = (subform.get("associated_module") or {}).get("module") or (subform.get("subform") or {}).get("module")
        try:
            columns = {f.get("api_name"): f for f in crm.fields(str(module))} if module else None
        except ZohoError as exc:
            columns = None
            findings.append(Finding("CRM", f"The columns of the Deals subform {SUBFORM} cannot be read: {exc}"))
        if columns is not None:
            for wanted in SUBFORM_COLUMNS:
                findings += _field(wanted, columns, entity_codes, label=f"Deals subform {SUBFORM}, column")
        elif not module:
            findings.append(Finding("CRM", f"CRM does not say which module holds the Deals subform {SUBFORM}."))
    if not any(f.problem for f in findings):
        findings.append(Finding("CRM", "Every CRM field the bridge uses is there, with the right type.", False))
    return findings


def _field(wanted: CrmField, fields: dict[str, dict], codes: list[str], label: str = "") -> list[Finding]:
    name = f"{label or wanted.module} {wanted.api_name}".strip()
    meta = fields.get(wanted.api_name)
    if meta is None:
        if wanted.optional:
            return []
        return [Finding("CRM", f"{name} is missing: add it ({wanted.kind}) with API name {wanted.api_name}.")]
    found = []
    kind = str(meta.get("data_type") or "")
    if kind not in wanted.data_types:
        found.append(Finding("CRM", f"{name} is a {kind or 'field of unknown type'} field; make it {wanted.kind}."))
    target = meta.get("lookup") or {}
    target = target.get("module") if isinstance(target, dict) else None
    target = target.get("api_name") if isinstance(target, dict) else target
    if wanted.lookup and target and target != wanted.lookup:
        found.append(Finding("CRM", f"{name} looks up {target}; it must look up {wanted.lookup}."))
    values = {str(v.get("actual_value")) for v in meta.get("pick_list_values") or [] if isinstance(v, dict)}
    needed = [*wanted.values, *(codes if wanted.api_name == "Legal_Entity" else [])]
    if values and (missing := [v for v in needed if v not in values]):
        found.append(Finding("CRM", f"{name} has no picklist value {', '.join(missing)}: add it."))
    return found
