"""Import and export of the two configuration tables as CSV (CONTRACT.md §6).

Imports are all-or-nothing: every row is validated first, every bad row is reported with its line
number (the header is line 1), and only a clean file is applied, inside one transaction.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TextIO

from django.db import transaction
from django.db.models import F

from integration.csvsafe import unneutralize, writerow
from integration.editions import tax_rule_problems
from integration.models import LegalEntity, TaxRule
from integration.normalize import normalize_country, normalize_state

LEGAL_ENTITY_COLUMNS = ["code", "name", "books_org_id", "require_review"]
# The screen's settings: an export with every column carries them, an import takes them when present (a file with
# the four contract columns leaves them as they are).
LEGAL_ENTITY_EXTRA = ["active", "invoice_delivery", "books_daily_cap"]
TAX_MAP_COLUMNS = ["legal_entity", "country", "state", "tax_authority", "tax_treatment"]
TAX_MAP_OPTIONAL = ["tax_treatment"]  # a four-column file stays valid


# A file larger than this is refused before it is read: both tables are small (a tax map for every US state of
# ten entities is ~600 rows), and a bounded file is checked and applied within one request.
MAX_BYTES = 1_000_000
MAX_ROWS = 5_000
MAX_CELL = 1_000
MAX_ERRORS_SHOWN = 50
PROBLEM = "__problem__"  # a row that cannot be read carries only this: what is wrong with it


class CsvImportError(Exception):
    """A file that cannot be applied; `errors` are human-readable lines like 'line 3: …' (the first
    MAX_ERRORS_SHOWN, then how many more)."""

    def __init__(self, errors: list[str]):
        self.total = len(errors)
        if len(errors) > MAX_ERRORS_SHOWN:
            errors = [*errors[:MAX_ERRORS_SHOWN], f"… and {len(errors) - MAX_ERRORS_SHOWN} more lines with problems"]
        self.errors = errors
        super().__init__("\n".join(errors))


def size_problem(size: int) -> str:
    """Why a file of `size` bytes is refused before reading ('' when it is not)."""
    if size > MAX_BYTES:
        return f"the file is {size:,} bytes; the limit is {MAX_BYTES:,} (split it, or check it is the right file)"
    return ""


@dataclass
class ImportSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"


Progress = Callable[[str, int], None]  # (phase "checking" or "applying", rows so far); for imports run by a worker


def _rows(
    file: TextIO, columns: list[str], optional: tuple[str, ...] | list[str] = (), progress: Progress | None = None
) -> Iterable[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(file)
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
        if not header:
            raise CsvImportError(["line 1: the file is empty; expected the header " + ",".join(columns)])
        twice = sorted({h for h in header if header.count(h) > 1})
        missing = [c for c in columns if c not in header and c not in optional]
        unknown = [h for h in header if h not in columns]
        if missing or unknown or twice:
            parts = []
            if twice:
                parts.append("column(s) " + ", ".join(twice) + " appear more than once")
            if missing:
                parts.append("missing column(s) " + ", ".join(missing))
            if unknown:
                parts.append("unknown column(s) " + ", ".join(unknown))
            raise CsvImportError([f"line 1: {'; '.join(parts)}; expected the header {','.join(columns)}"])
        reader.fieldnames = header
        for count, raw in enumerate(reader, start=1):
            if count > MAX_ROWS:
                raise CsvImportError([f"the file has more than {MAX_ROWS:,} rows; split it into smaller files"])
            if progress and count % 100 == 0:
                progress("checking", count)
            if None in raw:
                yield reader.line_num, {PROBLEM: "more values than columns"}
                continue
            row = {k: unneutralize((v or "").strip()) for k, v in raw.items()}
            for column in optional:
                row.setdefault(column, "")
            if not any(row.values()):
                continue  # blank lines are not rows
            if any("\x00" in v for v in row.values()):
                yield reader.line_num, {PROBLEM: "a cell holds a NUL character (is it a spreadsheet file, not CSV?)"}
                continue
            if any(len(v) > MAX_CELL for v in row.values()):
                yield reader.line_num, {PROBLEM: f"a cell is over {MAX_CELL} characters"}
                continue
            yield reader.line_num, row
    except csv.Error as exc:
        why = "it contains a NUL character (is it a spreadsheet file rather than CSV?)" if "NUL" in str(exc) else exc
        raise CsvImportError([f"line {reader.line_num + 1}: the file cannot be read as CSV: {why}"]) from None


def _parse_bool(value: str) -> bool | None:
    return {"true": True, "false": False}.get(value.lower())


def legal_entity_clean(row: dict[str, str]) -> tuple[dict, list[str]]:
    """One legal-entity row as the CSV or the screen gives it → (values, problems in plain words)."""
    problems = []
    code, name, org_id = row.get("code", "").strip(), row.get("name", "").strip(), row.get("books_org_id", "").strip()
    raw_review = row.get("require_review", "")
    require_review = raw_review if isinstance(raw_review, bool) else _parse_bool(str(raw_review).strip())
    if not code:
        problems.append("code is empty")
    elif len(code) > 40:
        problems.append("code is longer than 40 characters")
    if not name:
        problems.append("name is empty")
    if not org_id.isdigit():
        problems.append(f"books_org_id {org_id!r} is not a Books organization id (digits only)")
    if require_review is None:
        problems.append(f"require_review must be true or false, not {raw_review!r}")
    values = {"code": code, "name": name, "books_org_id": org_id, "require_review": require_review}
    if row.get("books_daily_cap"):  # the screen's setting, like invoice_delivery: a CSV file leaves it as it is
        cap = row["books_daily_cap"]
        if not str(cap).isdigit() or int(cap) < 1:
            problems.append("books_daily_cap must be a whole number of calls above 0")
        else:
            values["books_daily_cap"] = int(cap)
    if row.get("active"):  # switched off or on; a file without the column leaves it as it is
        active = row["active"] if isinstance(row["active"], bool) else _parse_bool(str(row["active"]).strip())
        if active is None:
            problems.append(f"active must be true or false, not {row['active']!r}")
        else:
            values["active"] = active
    if row.get("invoice_delivery"):  # the screen's setting; a CSV file (CONTRACT.md §6) leaves it as it is
        delivery = str(row["invoice_delivery"])
        if delivery not in LegalEntity.Delivery.values:
            problems.append(f"invoice_delivery must be one of {', '.join(LegalEntity.Delivery.values)}")
        values["invoice_delivery"] = delivery
    return values, problems


def org_taken(org_id: str, code: str) -> str:
    """The code of another entity already on this Books organization, or ''."""
    other = LegalEntity.objects.filter(books_org_id=org_id).exclude(code=code).values_list("code", flat=True).first()
    return other or ""


def apply_entity(entity: LegalEntity | None, values: dict, source: str) -> tuple[LegalEntity, str]:
    """Create or update one entity; 'created', 'updated' or 'unchanged'."""
    if entity is None:
        entity = LegalEntity(**values)
        entity._change_reason = source
        entity.save()
        return entity, "created"
    changed = {k: v for k, v in values.items() if getattr(entity, k) != v}
    if not changed:
        return entity, "unchanged"
    if "books_org_id" in changed:
        # Another organization: what was read from Books about the old one no longer holds.
        entity.books_edition = entity.books_org_name = entity.books_currency = ""
        entity.books_country = entity.books_home_state = entity.books_time_zone = ""
        entity.books_currency_decimals = 2
        entity.books_checked_at = None
    for k, v in changed.items():
        setattr(entity, k, v)
    entity._change_reason = source
    entity.save()
    return entity, "updated"


def legal_entities_import(
    *, file: TextIO, source: str = "CSV import", progress: Progress | None = None
) -> ImportSummary:
    """Upsert legal entities by `code` from a CSV with columns code,name,books_org_id,require_review.
    A Books organization belongs to one legal entity only."""
    parsed = legal_entities_parse(file=file, progress=progress)
    if progress:
        progress("applying", len(parsed))
    summary = ImportSummary()
    with transaction.atomic():
        existing = {e.code: e for e in LegalEntity.objects.select_for_update().filter(code__in=parsed)}
        for code, values in parsed.items():
            _, outcome = apply_entity(existing.get(code), values, source)
            setattr(summary, outcome, getattr(summary, outcome) + 1)
    return summary


def legal_entities_parse(*, file: TextIO, progress: Progress | None = None) -> dict[str, dict]:
    """Every row of a legal-entities CSV checked, by code; `CsvImportError` naming every bad line."""
    errors: list[str] = []
    parsed: dict[str, dict] = {}
    seen_at: dict[str, int] = {}
    org_at: dict[str, tuple[int, str]] = {}
    for line, row in _rows(file, LEGAL_ENTITY_COLUMNS + LEGAL_ENTITY_EXTRA, LEGAL_ENTITY_EXTRA, progress):
        if PROBLEM in row:
            errors.append(f"line {line}: {row[PROBLEM]}")
            continue
        values, problems = legal_entity_clean(row)
        code, org_id = values["code"], values["books_org_id"]
        if code in seen_at:
            problems.append(f"code {code} already appears on line {seen_at[code]}")
        if not problems:
            if org_id in org_at:
                problems.append(
                    f"Books organization {org_id} is already {org_at[org_id][1]}'s (line {org_at[org_id][0]})"
                )
            elif (taken := org_taken(org_id, code)) and taken not in parsed:
                problems.append(f"Books organization {org_id} already belongs to legal entity {taken}")
        if problems:
            errors.append(f"line {line}: " + "; ".join(problems))
            continue
        seen_at[code], org_at[org_id] = line, (line, code)
        parsed[code] = values
    if errors:
        raise CsvImportError(errors)
    return parsed


def legal_entity_save(*, entity: LegalEntity | None, row: dict, source: str = "Legal entities screen") -> LegalEntity:
    """Add or change one legal entity from the screen, with the CSV import's checks; `CsvImportError` (its
    `errors` in plain words) when it cannot be saved, and then nothing changes."""
    values, problems = legal_entity_clean(row)
    if entity is not None and values["code"] != entity.code:
        problems.append("the code cannot change (Accounts point at it); add a new legal entity instead")
    if entity is None and LegalEntity.objects.filter(code=values["code"]).exists():
        problems.append(f"legal entity {values['code']} already exists: edit it instead")
    if not problems and (taken := org_taken(values["books_org_id"], values["code"])):
        problems.append(f"Books organization {values['books_org_id']} already belongs to legal entity {taken}")
    if problems:
        raise CsvImportError(problems)
    with transaction.atomic():
        saved, _ = apply_entity(entity, values, source)
    return saved


def tax_rule_clean(row: dict[str, str], entities: dict[str, LegalEntity]) -> tuple[dict, list[str]]:
    """One tax-map row as the CSV or the screen gives it → (values for a `TaxRule`, problems in plain words).
    Countries and states are normalized; the row is checked against its entity's Books edition when known."""
    problems = []
    entity_code = row.get("legal_entity", "").strip()
    authority, treatment = row.get("tax_authority", "").strip(), row.get("tax_treatment", "").strip()
    entity = entities.get(entity_code)
    if entity_code and entity is None:
        problems.append(f"legal_entity {entity_code!r} is not a known legal entity code")
    raw_country, raw_state = row.get("country", "").strip(), row.get("state", "").strip()
    country = normalize_country(raw_country)
    state: str | None = ""
    if not raw_country:
        problems.append("country is empty")
    elif country is None:
        problems.append(f"country {raw_country!r} is not a country (use an ISO code such as US, GB or IN)")
    else:
        state = normalize_state(country, raw_state)
        if state is None:
            problems.append(f"state {raw_state!r} is not a state or region of {country}")
    problems += tax_rule_problems(
        entity.books_edition if entity else "",
        tax_authority=authority,
        tax_treatment=treatment,
        entity_label=f"legal entity {entity_code}",
        country=entity.books_country if entity else "",
    )
    if authority and not problems:  # a value Books does not have is refused at the door, with what Books has
        from integration.services.taxes import authority_problem

        scope = [entity] if entity else [e for e in entities.values() if e.active]
        if problem := authority_problem(authority, scope):
            problems.append(problem)
    values = {
        "legal_entity": entity,
        "country": country or "",
        "state": state or "",
        "tax_authority": authority,
        "tax_treatment": treatment,
    }
    return values, problems


def tax_map_import(*, file: TextIO, source: str = "CSV import", progress: Progress | None = None) -> ImportSummary:
    """Upsert tax rules by (legal_entity, country, state) from a CSV:
    legal_entity,country,state,tax_authority[,tax_treatment]. Each row is checked by `tax_rule_clean`, the
    same check the tax-map screen uses."""
    parsed = tax_map_parse(file=file, progress=progress)
    if progress:
        progress("applying", len(parsed))
    summary = ImportSummary()
    with transaction.atomic():
        for _, values in parsed.values():
            _, outcome = tax_rule_apply(values, source)
            setattr(summary, outcome, getattr(summary, outcome) + 1)
    return summary


def tax_map_parse(*, file: TextIO, progress: Progress | None = None) -> dict[tuple[str, str, str], tuple[int, dict]]:
    """Every row of a tax-map CSV checked, by (legal_entity, country, state) → (line, values); `CsvImportError`
    naming every bad line."""
    errors: list[str] = []
    entities = {e.code: e for e in LegalEntity.objects.all()}
    parsed: dict[tuple[str, str, str], tuple[int, dict]] = {}
    for line, row in _rows(file, TAX_MAP_COLUMNS, TAX_MAP_OPTIONAL, progress):
        if PROBLEM in row:
            errors.append(f"line {line}: {row[PROBLEM]}")
            continue
        values, problems = tax_rule_clean(row, entities)
        key = (row["legal_entity"], values["country"], values["state"])
        if not problems and key in parsed:
            where = f"{values['country']}/{values['state']}" if values["state"] else values["country"]
            problems.append(
                f"{where} for {row['legal_entity'] or 'all entities'} already appears on line {parsed[key][0]}"
            )
        if problems:
            errors.append(f"line {line}: " + "; ".join(problems))
            continue
        parsed[key] = (line, values)
    if errors:
        raise CsvImportError(errors)
    return parsed


def tax_rule_apply(values: dict, source: str) -> tuple[TaxRule, str]:
    """Create or update the rule for the values' region (inside the caller's transaction); 'created', 'updated'
    or 'unchanged'."""
    rule = (
        TaxRule.objects.select_for_update()
        .order_by()  # the default ordering joins legal entities, which FOR UPDATE refuses
        .filter(legal_entity=values["legal_entity"], country=values["country"], state=values["state"])
        .first()
    )
    if rule is None:
        rule = TaxRule(**values)
        rule._change_reason = source
        rule.save()
        return rule, "created"
    if (rule.tax_authority, rule.tax_treatment) == (values["tax_authority"], values["tax_treatment"]):
        return rule, "unchanged"
    rule.tax_authority, rule.tax_treatment = values["tax_authority"], values["tax_treatment"]
    rule._change_reason = source
    rule.save()
    return rule, "updated"


def tax_rule_save(*, rule: TaxRule | None, row: dict[str, str], source: str = "Tax map screen") -> TaxRule:
    """Add or change one tax rule from the screen, with the CSV import's checks; `CsvImportError` (its
    `errors` in plain words) when it cannot be saved, and then nothing changes."""
    values, problems = tax_rule_clean(row, {e.code: e for e in LegalEntity.objects.all()})
    if not problems:
        clash = TaxRule.objects.filter(
            legal_entity=values["legal_entity"], country=values["country"], state=values["state"]
        ).exclude(pk=rule.pk if rule else None)
        if clash.exists():
            where = f"{values['country']}/{values['state']}" if values["state"] else values["country"]
            entity = values["legal_entity"].code if values["legal_entity"] else "all entities"
            problems.append(f"there is already a rule for {where} for {entity}: edit that one")
    if problems:
        raise CsvImportError(problems)
    rule = rule or TaxRule()
    for key, value in values.items():
        setattr(rule, key, value)
    rule._change_reason = source
    rule.save()
    return rule


def tax_rule_delete(*, rule: TaxRule, source: str = "Tax map screen") -> None:
    rule._change_reason = source
    rule.delete()


def legal_entities_export(*, out: TextIO, every_column: bool = False) -> int:
    """Write every legal entity as CSV — the contract's four import columns, or `every_column` (the screen's
    download: also active, invoice_delivery and books_daily_cap, which the import takes too); returns the count."""
    writerow(out, LEGAL_ENTITY_COLUMNS + (LEGAL_ENTITY_EXTRA if every_column else []))
    entities = LegalEntity.objects.order_by("code")
    for e in entities:
        row = [e.code, e.name, e.books_org_id, "true" if e.require_review else "false"]
        if every_column:
            row += ["true" if e.active else "false", e.invoice_delivery, str(e.books_daily_cap)]
        writerow(out, row)
    return len(entities)


def tax_map_export(*, out: TextIO) -> int:
    """Write every tax rule as CSV (import columns); returns the row count."""
    writerow(out, TAX_MAP_COLUMNS)
    rules = TaxRule.objects.select_related("legal_entity").order_by(
        F("legal_entity__code").asc(nulls_first=True), "country", "state"
    )
    for r in rules:
        writerow(
            out, [r.legal_entity.code if r.legal_entity else "", r.country, r.state, r.tax_authority, r.tax_treatment]
        )
    return len(rules)
