from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from integration.models import LegalEntity, TaxRule
from tests.factories import LegalEntityFactory, TaxRuleFactory

pytestmark = pytest.mark.django_db


def write(tmp_path: Path, text: str, name: str = "in.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def run_failing(*args: str) -> tuple[str, str]:
    err = io.StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command(*args, stdout=io.StringIO(), stderr=err)
    return str(excinfo.value), err.getvalue()


def test_it_imports_legal_entities_and_prints_a_summary(tmp_path):
    path = write(
        tmp_path,
        "code,name,books_org_id,require_review\nUS-LLC,Acme LLC,60001001,false\nUK-LTD,Acme Ltd,60002002,TRUE\n",
    )
    out, _ = run("import_legal_entities", str(path))
    assert out.strip() == "Legal entities: 2 created, 0 updated, 0 unchanged."
    uk = LegalEntity.objects.get(code="UK-LTD")
    assert (uk.name, uk.books_org_id, uk.require_review, uk.active) == ("Acme Ltd", "60002002", True, True)


def test_it_upserts_legal_entities_by_code_and_records_history(tmp_path):
    LegalEntityFactory(code="US-LLC", name="Old name", books_org_id="1", require_review=False)
    path = write(tmp_path, "code,name,books_org_id,require_review\nUS-LLC,Acme LLC,60001001,true\n")
    out, _ = run("import_legal_entities", str(path))
    assert "0 created, 1 updated" in out
    entity = LegalEntity.objects.get(code="US-LLC")
    assert (entity.name, entity.books_org_id, entity.require_review) == ("Acme LLC", "60001001", True)
    latest = entity.history.first()
    assert latest.history_type == "~" and latest.history_change_reason == "import_legal_entities in.csv"
    out, _ = run("import_legal_entities", str(path))
    assert "0 created, 0 updated, 1 unchanged" in out


def test_a_bad_legal_entities_file_reports_every_line_and_changes_nothing(tmp_path):
    LegalEntityFactory(code="US-LLC", name="Keep me", books_org_id="1")
    path = write(
        tmp_path,
        "code,name,books_org_id,require_review\n"
        "US-LLC,Changed,60001001,false\n"  # line 2 is fine but must not be applied
        ",No code,60002002,false\n"  # line 3
        "IN-PVT,India,org-3,maybe\n"  # line 4
        "US-LLC,Twice,60001001,false\n",  # line 5
    )
    message, err = run_failing("import_legal_entities", str(path))
    assert "3 bad row(s); nothing was imported" in message
    assert "line 3: code is empty" in err
    assert (
        "line 4: books_org_id 'org-3' is not a Books organization id (digits only); "
        "require_review must be true or false, not 'maybe'" in err
    )
    assert "line 5: code US-LLC already appears on line 2" in err
    assert "line 2" not in err.replace("on line 2", "")
    assert LegalEntity.objects.get(code="US-LLC").name == "Keep me"
    assert LegalEntity.objects.count() == 1


def test_a_wrong_header_is_reported_as_line_1(tmp_path):
    path = write(tmp_path, "code,name,org\nX,Y,1\n")
    _, err = run_failing("import_legal_entities", str(path))
    assert "line 1: missing column(s) books_org_id, require_review; unknown column(s) org" in err


def test_a_missing_file_is_a_clear_error(tmp_path):
    message, _ = run_failing("import_tax_map", str(tmp_path / "nope.csv"))
    assert "no such file" in message


def test_it_imports_the_tax_map_normalizing_countries_and_states(tmp_path):
    LegalEntityFactory(code="US-LLC")
    path = write(
        tmp_path,
        "legal_entity,country,state,tax_authority\n"
        "US-LLC,United States,California,BOE_CA\n"
        "US-LLC,USA,ny,NYS_DTF\n"
        ",UK,,HMRC\n"
        ",India,Karnataka,GST_KA\n",
    )
    out, _ = run("import_tax_map", str(path))
    assert out.strip() == "Tax map: 4 created, 0 updated, 0 unchanged."
    rows = set(TaxRule.objects.values_list("legal_entity__code", "country", "state", "tax_authority"))
    assert rows == {
        ("US-LLC", "US", "CA", "BOE_CA"),
        ("US-LLC", "US", "NY", "NYS_DTF"),
        (None, "GB", "", "HMRC"),
        (None, "IN", "KA", "GST_KA"),
    }


def test_the_tax_map_upserts_by_entity_country_and_state(tmp_path):
    entity = LegalEntityFactory(code="US-LLC")
    TaxRuleFactory(legal_entity=entity, country="US", state="CA", tax_authority="OLD")
    TaxRuleFactory(legal_entity=None, country="US", state="CA", tax_authority="GLOBAL")
    path = write(tmp_path, "legal_entity,country,state,tax_authority\nUS-LLC,US,CA,BOE_CA\n,US,TX,TX_CPA\n")
    out, _ = run("import_tax_map", str(path))
    assert "1 created, 1 updated, 0 unchanged" in out
    assert TaxRule.objects.get(legal_entity=entity, state="CA").tax_authority == "BOE_CA"
    assert TaxRule.objects.get(legal_entity=None, state="CA").tax_authority == "GLOBAL"  # rows not in the file stay


def test_a_bad_tax_map_reports_line_numbers_and_applies_nothing(tmp_path):
    LegalEntityFactory(code="US-LLC")
    path = write(
        tmp_path,
        "legal_entity,country,state,tax_authority\n"
        "US-LLC,US,CA,BOE_CA\n"
        "NOPE,US,NY,NYS\n"
        ",Narnia,,X\n"
        ",US,Atlantis,X\n"
        ",US,,\n"
        "US-LLC,United States,California,AGAIN\n",
    )
    message, err = run_failing("import_tax_map", str(path))
    assert "5 bad row(s)" in message
    assert "line 3: legal_entity 'NOPE' is not a known legal entity code" in err
    assert "line 4: country 'Narnia' is not a country" in err
    assert "line 5: state 'Atlantis' is not a state or region of US" in err
    assert "line 6: the rule names no tax authority and no tax treatment" in err
    assert "line 7: US/CA for US-LLC already appears on line 2" in err
    assert TaxRule.objects.count() == 0


def test_quoted_newlines_do_not_shift_line_numbers(tmp_path):
    path = write(tmp_path, 'code,name,books_org_id,require_review\nA,"Two\nlines",1,false\nB,Bad,x,false\n')
    _, err = run_failing("import_legal_entities", str(path))
    assert "line 4: books_org_id 'x'" in err


def test_exports_write_the_import_columns_to_stdout_or_a_file(tmp_path):
    entity = LegalEntityFactory(code="US-LLC", name="Acme, LLC", books_org_id="60001001", require_review=True)
    TaxRuleFactory(legal_entity=entity, country="US", state="CA", tax_authority="BOE_CA")
    TaxRuleFactory(legal_entity=None, country="GB", state="", tax_authority="", tax_treatment="uk")
    out, _ = run("export_legal_entities")
    assert out == 'code,name,books_org_id,require_review\nUS-LLC,"Acme, LLC",60001001,true\n'
    out, _ = run("export_tax_map")
    out_expected = "legal_entity,country,state,tax_authority,tax_treatment\n,GB,,,uk\nUS-LLC,US,CA,BOE_CA,\n"
    assert out == out_expected
    target = tmp_path / "tax.csv"
    out, _ = run("export_tax_map", "--output", str(target))
    assert out.strip() == f"Tax map: 2 row(s) written to {target}."
    assert (
        target.read_text() == "legal_entity,country,state,tax_authority,tax_treatment\n,GB,,,uk\nUS-LLC,US,CA,BOE_CA,\n"
    )


def test_an_export_imports_back_unchanged(tmp_path):
    run("import_legal_entities", "demo/legal_entities.csv")
    run("import_tax_map", "demo/tax_map.csv")
    run("export_legal_entities", "--output", str(tmp_path / "le.csv"))
    run("export_tax_map", "--output", str(tmp_path / "tm.csv"))
    out1, _ = run("import_legal_entities", str(tmp_path / "le.csv"))
    out2, _ = run("import_tax_map", str(tmp_path / "tm.csv"))
    assert "0 created, 0 updated, 4 unchanged" in out1
    assert "0 created, 0 updated, 6 unchanged" in out2
