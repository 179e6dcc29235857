"""Replacing a whole configuration table from a CSV file, with a preview first.

The preview says what applying would do — rows added, rows changed (before → after), rows removed (tax rules
deleted; legal entities switched off, since pushes and history point at them) — and carries a fingerprint of the
file and of the table as it was read. Applying checks the fingerprint again inside its transaction: when the table
changed in between (someone edited it), nothing is applied and the new preview is shown instead."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field

from django.db import transaction

from integration.models import LegalEntity, TaxRule
from integration.services.config_tables import (
    ImportSummary,
    apply_entity,
    legal_entities_parse,
    tax_map_parse,
    tax_rule_apply,
)


class PreviewOutdated(Exception):
    """The table (or the file) changed since the preview was shown: nothing was applied."""


@dataclass
class Preview:
    table: str
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    fingerprint: str = ""

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.removed)


def _rule_label(entity: str, country: str, state: str, authority: str, treatment: str) -> str:
    where = f"{country}/{state}" if state else country
    return f"{where} ({entity or 'all entities'}) → {authority or treatment}"


def _entity_values(e: LegalEntity) -> dict:
    return {
        "name": e.name,
        "books_org_id": e.books_org_id,
        "require_review": e.require_review,
        "active": e.active,
        "invoice_delivery": e.invoice_delivery,
        "books_daily_cap": e.books_daily_cap,
    }


def _entity_preview(content: str) -> Preview:
    parsed = legal_entities_parse(file=io.StringIO(content, newline=""))
    current = {e.code: e for e in LegalEntity.objects.order_by("code")}
    preview = Preview(table="legal_entities")
    for code, values in parsed.items():
        entity = current.get(code)
        if entity is None:
            preview.added.append(f"{code} — {values['name']}, Books organization {values['books_org_id']}")
            continue
        before = _entity_values(entity)
        changes = [f"{k}: {before[k]} → {v}" for k, v in values.items() if k in before and before[k] != v]
        if changes:
            preview.changed.append(f"{code}: " + "; ".join(changes))
        else:
            preview.unchanged += 1
    for code, entity in current.items():
        if code not in parsed and entity.active:
            preview.removed.append(f"{code} — {entity.name} (switched off: its deals are refused)")
    return preview


def _rule_preview(content: str) -> Preview:
    parsed = tax_map_parse(file=io.StringIO(content, newline=""))
    current = {
        (r.legal_entity.code if r.legal_entity else "", r.country, r.state): r
        for r in TaxRule.objects.select_related("legal_entity")
    }
    preview = Preview(table="tax_map")
    for key, (_, values) in parsed.items():
        rule = current.get(key)
        after = _rule_label(*key, values["tax_authority"], values["tax_treatment"])
        if rule is None:
            preview.added.append(after)
        elif (rule.tax_authority, rule.tax_treatment) != (values["tax_authority"], values["tax_treatment"]):
            preview.changed.append(f"{_rule_label(*key, rule.tax_authority, rule.tax_treatment)} becomes {after}")
        else:
            preview.unchanged += 1
    for key, rule in current.items():
        if key not in parsed:
            preview.removed.append(_rule_label(*key, rule.tax_authority, rule.tax_treatment))
    return preview


def _fingerprint(table: str, content: str) -> str:
    """The file and the table as they are now, in one hash: a preview holds only while both are unchanged."""
    if table == "tax_map":
        state = sorted(
            TaxRule.objects.order_by().values_list(
                "legal_entity__code", "country", "state", "tax_authority", "tax_treatment"
            )
        )
    else:
        state = sorted((e.code, *_entity_values(e).values()) for e in LegalEntity.objects.order_by())
    # A browser sends a textarea back with CRLF line ends: the same file either way.
    text = content.replace("\r\n", "\n")
    return hashlib.sha256(json.dumps([text, state], default=str).encode()).hexdigest()


def replace_preview(*, table: str, content: str) -> Preview:
    """What replacing `table` with this file would do; `CsvImportError` when the file has bad rows."""
    preview = (_rule_preview if table == "tax_map" else _entity_preview)(content)
    preview.fingerprint = _fingerprint(table, content)
    return preview


def replace_apply(*, table: str, content: str, fingerprint: str, source: str) -> ImportSummary:
    """Make the table exactly the file, as previewed: `PreviewOutdated` (nothing applied) when the table or the
    file is not the one the preview was made from. The file is checked first (a tax authority against Books, which
    is never asked inside a transaction); then one transaction locks the table, checks the fingerprint and writes,
    each change recorded in the history."""
    if table == "tax_map":
        rules = tax_map_parse(file=io.StringIO(content, newline=""))
    else:
        entities = legal_entities_parse(file=io.StringIO(content, newline=""))
    summary = ImportSummary()
    with transaction.atomic():
        model = TaxRule if table == "tax_map" else LegalEntity
        list(model.objects.select_for_update().order_by().values_list("pk", flat=True))
        if _fingerprint(table, content) != fingerprint:
            raise PreviewOutdated("the table changed since the preview")
        if table == "tax_map":
            for _, values in rules.values():
                _, outcome = tax_rule_apply(values, source)
                setattr(summary, outcome, getattr(summary, outcome) + 1)
            for rule in TaxRule.objects.select_related("legal_entity"):
                if (rule.legal_entity.code if rule.legal_entity else "", rule.country, rule.state) not in rules:
                    summary.notes.append(f"removed {rule}")
                    rule._change_reason = source
                    rule.delete()
        else:
            existing = {e.code: e for e in LegalEntity.objects.all()}
            for code, values in entities.items():
                _, outcome = apply_entity(existing.get(code), values, source)
                setattr(summary, outcome, getattr(summary, outcome) + 1)
            for code, entity in existing.items():
                if code not in entities and entity.active:
                    summary.notes.append(f"switched off {code}")
                    entity.active = False
                    entity._change_reason = f"{source}: not in the file, switched off"
                    entity.save(update_fields=["active"])
    return summary
