from __future__ import annotations

import pytest

from integration.normalize import normalize_country, normalize_name, normalize_sku, normalize_state
from integration.selectors import tax_rule_for
from tests.factories import LegalEntityFactory, TaxRuleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def entities():
    return LegalEntityFactory(code="US-LLC"), LegalEntityFactory(code="US-INC")


def authority(entity, country, state=""):
    rule = tax_rule_for(legal_entity=entity, country=country, state=state)
    return rule.tax_authority if rule else None


def test_the_most_specific_rule_wins(entities):
    llc, inc = entities
    TaxRuleFactory(legal_entity=None, country="US", state="", tax_authority="ANY_US")
    TaxRuleFactory(legal_entity=llc, country="US", state="", tax_authority="LLC_US")
    TaxRuleFactory(legal_entity=None, country="US", state="CA", tax_authority="ANY_CA")
    TaxRuleFactory(legal_entity=llc, country="US", state="CA", tax_authority="LLC_CA")
    assert authority(llc, "US", "CA") == "LLC_CA"  # entity + state
    assert authority(inc, "US", "CA") == "ANY_CA"  # state for all entities beats nothing else
    assert authority(llc, "US", "NY") == "LLC_US"  # entity country-wide
    assert authority(inc, "US", "NY") == "ANY_US"  # country for all entities


def test_a_state_rule_for_all_entities_beats_a_country_rule_for_one(entities):
    llc, _ = entities
    TaxRuleFactory(legal_entity=llc, country="US", state="", tax_authority="LLC_US")
    TaxRuleFactory(legal_entity=None, country="US", state="CA", tax_authority="ANY_CA")
    assert authority(llc, "US", "CA") == "ANY_CA"


def test_no_rule_means_no_authority(entities):
    llc, inc = entities
    TaxRuleFactory(legal_entity=inc, country="US", state="TX", tax_authority="INC_TX")
    TaxRuleFactory(legal_entity=None, country="GB", state="", tax_authority="HMRC")
    assert authority(llc, "US", "TX") is None  # another entity's rule never applies
    assert authority(llc, "US") is None
    assert authority(llc, "GB", "ENG") == "HMRC"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("US", "US"),
        ("USA", "US"),
        ("United States", "US"),
        ("united states of america", "US"),
        ("UK", "GB"),
        ("GB", "GB"),
        ("United Kingdom", "GB"),
        ("India", "IN"),
        ("IND", "IN"),
        ("Narnia", None),
        ("", None),
    ],
)
def test_countries_compare_as_iso_alpha_2(raw, expected):
    assert normalize_country(raw) == expected


def test_states_compare_by_code_or_name():
    assert normalize_state("US", "California") == normalize_state("US", "ca") == normalize_state("US", "US-CA") == "CA"
    assert normalize_state("IN", "Karnataka") == "KA"  # pycountry spells it Karnātaka
    assert normalize_state("US", "") == ""
    assert normalize_state("US", "Ontario") is None


def test_skus_and_names_normalize_as_the_contract_says():
    assert (
        normalize_sku("AB-100")
        == normalize_sku(" ab 100")
        == normalize_sku("AB\u2010100")
        == normalize_sku("ＡＢ－１００")
    )
    assert normalize_sku("AB-100") != normalize_sku("АВ-100")  # Cyrillic look-alikes are not the same SKU
    assert normalize_name("Initech LLC") == normalize_name("Initech, LLC") == normalize_name("  INITECH llc. ")
