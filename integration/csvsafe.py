"""CSV that spreadsheets cannot be tricked by, and that reads back as written.

A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to Excel and LibreOffice (OWASP's
"CSV injection"): it is written with a leading `'`, which spreadsheets show as text, and our imports take off
again. A cell holding a carriage return or a line break is quoted, so it never splits its row."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any, TextIO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralize(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def unneutralize(text: str) -> str:
    """What an import reads from a cell we exported (a `'` before a formula character is ours, not the data's)."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text


def writerow(out: TextIO, cells: Iterable[Any]) -> None:
    """One row, every cell neutralized; lines end in `\\n`, and a cell with `\\r` or `\\n` in it is quoted."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([neutralize(c) for c in cells])
    out.write(buffer.getvalue()[:-2] + "\n")
