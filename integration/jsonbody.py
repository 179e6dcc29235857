"""Bodies that machines send us, parsed strictly: what cannot be stored in PostgreSQL's JSON (NaN, Infinity,
numbers beyond a double, NUL characters, lone surrogates) or nests absurdly deep is refused at the door with a
sentence saying why, before anything is written."""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 32


class UnstorableJson(ValueError):
    """The body is JSON Python can read but PostgreSQL cannot store; the text says what to change."""


def _constant(name: str) -> Any:
    raise UnstorableJson(f"The body contains {name}, which is not a JSON number.")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise UnstorableJson(f"The number {text[:20]} is too large.")
    return value


def text_problem(text: str) -> str:
    """Why a string cannot be stored as text in PostgreSQL ('' when it can)."""
    if "\x00" in text:
        return "contains a NUL character (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an unpaired surrogate (not valid Unicode)"
    return ""


def loads(raw: bytes) -> Any:
    """Parse a request body; `ValueError` (with `UnstorableJson` for what PostgreSQL would refuse) when it is
    not JSON we can keep."""
    value = json.loads(raw, parse_constant=_constant, parse_float=_finite)
    deepest, stack = 0, [(value, 1)]
    while stack:  # iteratively: a hostile body cannot exhaust the stack
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                raise UnstorableJson(f"The JSON is nested more than {MAX_DEPTH} levels deep.")
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
        elif isinstance(item, str) and (problem := text_problem(item)):
            raise UnstorableJson(f"A text in the body {problem}.")
        elif isinstance(item, int) and not -(2**63) <= item < 2**63:
            raise UnstorableJson("A whole number in the body is too large.")
    return value
