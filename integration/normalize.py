"""Normalization shared by matching (customers, SKUs) and the tax map (countries, states).

CONTRACT.md §5/§6: names compare after Unicode NFKC with case, punctuation and whitespace ignored;
SKUs the same way with dash look-alikes unified; countries as ISO 3166-1 alpha-2, states as the
ISO 3166-2 subdivision code (without the country prefix) or its name.
"""

from __future__ import annotations

import functools
import unicodedata

import pycountry

# Hyphen, non-breaking hyphen, figure dash, en/em dash, horizontal bar, minus, small/fullwidth
# hyphen-minus... NFKC folds some of these; the rest are dropped with the other punctuation below.
DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d\u2043"


def normalize_name(value: str | None) -> str:
    """`Initech, LLC` and ` initech llc ` both become `initechllc`."""
    text = unicodedata.normalize("NFKC", value or "").casefold()
    return "".join(ch for ch in text if ch.isalnum())


def normalize_sku(value: str | None) -> str:
    """`AB-100`, ` ab 100` and `AB‐100` (U+2010) all become `ab100`."""
    text = unicodedata.normalize("NFKC", value or "")
    text = text.translate({ord(d): "-" for d in DASHES})
    return normalize_name(text)


def _fold(value: str) -> str:
    """Case- and accent-insensitive key for place names (`Karnātaka` = `karnataka`)."""
    text = unicodedata.normalize("NFKD", value.strip()).casefold()
    return "".join(ch for ch in text if ch.isalnum())


_COUNTRY_ALIASES = {
    "uk": "GB",
    "greatbritain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northernireland": "GB",
    "usa": "US",
    "us": "US",
    "america": "US",
    "unitedstatesofamerica": "US",
}


@functools.cache
def normalize_country(value: str | None) -> str | None:
    """ISO 3166-1 alpha-2 code for a country code or name, or None if it is not a country."""
    if not value or not value.strip():
        return None
    key = _fold(value)
    if key in _COUNTRY_ALIASES:
        return _COUNTRY_ALIASES[key]
    try:
        return pycountry.countries.lookup(value.strip()).alpha_2
    except LookupError:
        pass
    for country in pycountry.countries:
        names = (country.name, getattr(country, "official_name", ""), getattr(country, "common_name", ""))
        if key in {_fold(n) for n in names if n}:
            return country.alpha_2
    return None


# The names and codes people write where ISO's differ: ISO calls Dubai "Dubayy", files Wales as
# "Wales [Cymru GB-CYM]", and knows Odisha, not Orissa; Books writes Indian states in its own codes (AD for
# Andhra Pradesh, where ISO says AP).
_STATE_ALIASES = {
    "GB": {
        "Cymru": "WLS",
        "CYM": "WLS",
        "N Ireland": "NIR",
        "NI": "NIR",
        "Ulster": "NIR",
        "Alba": "SCT",
    },
    "IN": {
        "Orissa": "OD",
        "OR": "OD",
        "Pondicherry": "PY",
        "Uttaranchal": "UK",
        "UA": "UK",
        "UT": "UK",
        "New Delhi": "DL",
        "NCT of Delhi": "DL",
        "National Capital Territory of Delhi": "DL",
        "Jammu & Kashmir": "JK",
        "Andaman & Nicobar Islands": "AN",
        "Andaman & Nicobar": "AN",
        "Andaman and Nicobar": "AN",
        "Dadra and Nagar Haveli": "DH",
        "Daman and Diu": "DH",
        "DN": "DH",
        "DD": "DH",
        "AD": "AP",
        "CT": "CG",
        "TG": "TS",
        "Telengana": "TS",
    },
    "US": {
        "Washington DC": "DC",
        "Washington D.C.": "DC",
        "D.C.": "DC",
        "Puerto Rico": "PR",
    },
    "AE": {
        "Abu Dhabi": "AZ",
        "Ajman": "AJ",
        "Dubai": "DU",
        "Fujairah": "FU",
        "Ras al Khaimah": "RK",
        "Sharjah": "SH",
        "Umm al Quwain": "UQ",
    },
}


@functools.cache
def _subdivisions(country: str) -> dict[str, str]:
    """Map folded code and folded name → subdivision code (without the `US-` prefix)."""
    index: dict[str, str] = {}
    for sub in pycountry.subdivisions.get(country_code=country) or []:
        short = sub.code.split("-", 1)[1]
        index[_fold(short)] = short
        index[_fold(sub.code)] = short
        # ISO adds other names in brackets: "Wales [Cymru GB-CYM]" is Wales, and Cymru.
        name, _, other = sub.name.partition(" [")
        index.setdefault(_fold(name), short)
        for word in other.rstrip("]").split():
            if not word.startswith(f"{country}-"):
                index.setdefault(_fold(word), short)
    for name, short in _STATE_ALIASES.get(country, {}).items():
        index.setdefault(_fold(name), short)
    return index


def normalize_state(country: str, value: str | None) -> str | None:
    """ISO 3166-2 subdivision code (`CA`) for a code or name within `country`; '' for blank.

    Returns None when the value names no subdivision of that country.
    """
    if not value or not value.strip():
        return ""
    return _subdivisions(country).get(_fold(value))


# Letters that look like Latin ones (Cyrillic, Greek) and letters that pass for digits. Folding them
# gives a "skeleton": SKUs with equal skeletons but different normal forms are near-duplicates to flag,
# never to merge silently.
_CONFUSABLES = str.maketrans(
    "АВЕКМНОРСТУХЅІЈаеорсухѕіјԁԛԝΑΒΕΖΗΙΚΜΝΟΡΤΥΧαοκνρτυχ",
    "ABEKMHOPCTYXSIJaeopcyxsijdqwABEZHIKMNOPTYXaokvptux",
)
_DIGIT_LIKE = str.maketrans({"o": "0", "i": "1", "l": "1", "z": "2", "s": "5", "b": "8"})


def sku_skeleton(value: str | None) -> str:
    """`DHK-5OO`, `dhk 500` and `DНK-500` (Cyrillic Н) share the skeleton `dhk500`."""
    text = unicodedata.normalize("NFKC", value or "").translate(_CONFUSABLES)
    return normalize_sku(text).translate(_DIGIT_LIKE)


def sku_skeleton_segments(value: str | None) -> list[str]:
    """The skeleton, segment by segment: `ТЕЕ-1234-XL` (Cyrillic) → `['tee', '1234', 'x1']`."""
    text = unicodedata.normalize("NFKC", value or "").translate(_CONFUSABLES).casefold()
    text = "".join(ch if ch.isalnum() else " " for ch in text)
    return [part.translate(_DIGIT_LIKE) for part in text.split()]
