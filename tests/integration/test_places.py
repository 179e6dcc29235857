"""Places by every common name and code: UK constituent countries (ISO files Wales as "Wales [Cymru GB-CYM]"),
Indian states by old names and Books' own codes, US states and Washington DC."""

from __future__ import annotations

import pytest

from integration.normalize import normalize_state


@pytest.mark.parametrize(
    ("country", "written", "code"),
    [
        ("GB", "Wales", "WLS"),
        ("GB", "wales", "WLS"),
        ("GB", "Cymru", "WLS"),
        ("GB", "GB-WLS", "WLS"),
        ("GB", "Scotland", "SCT"),
        ("GB", "Northern Ireland", "NIR"),
        ("GB", "NI", "NIR"),
        ("GB", "England", "ENG"),
        ("IN", "Orissa", "OD"),
        ("IN", "Odisha", "OD"),
        ("IN", "Tamil Nadu", "TN"),
        ("IN", "IN-TN", "TN"),
        ("IN", "AD", "AP"),  # Books' code for Andhra Pradesh
        ("IN", "Pondicherry", "PY"),
        ("IN", "Jammu & Kashmir", "JK"),
        ("IN", "New Delhi", "DL"),
        ("US", "California", "CA"),
        ("US", "US-CA", "CA"),
        ("US", "Washington DC", "DC"),
        ("US", "District of Columbia", "DC"),
        ("US", "new york", "NY"),
    ],
)
def test_a_region_is_known_by_every_common_name_and_code(country, written, code):
    assert normalize_state(country, written) == code


def test_an_unknown_region_is_still_refused():
    assert normalize_state("GB", "Atlantis") is None and normalize_state("US", "Wales") is None
