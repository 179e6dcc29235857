"""`{% sku_compare sku other %}`: a SKU with the characters that differ from another marked and named — the letter O
where the other has the digit zero, a Cyrillic letter, a dash look-alike — so a choice between two SKUs that a
font draws alike shows the difference."""

from __future__ import annotations

import unicodedata
from difflib import SequenceMatcher

from django import template
from django.utils.html import escape, format_html, format_html_join

register = template.Library()

SCRIPTS = {"LATIN", "CYRILLIC", "GREEK", "ARMENIAN", "FULLWIDTH"}


def char_name(ch: str) -> str:
    """`0` → "digit zero", `О` → "Cyrillic capital letter O", `‐` → "hyphen", " " → "space"."""
    name = unicodedata.name(ch, f"character U+{ord(ch):04X}")
    words = name.split()
    shown = [w.capitalize() if w in SCRIPTS else w.lower() for w in words]
    if len(words) > 1 and len(words[-1]) == 1:  # the letter itself stays as it is written
        shown[-1] = words[-1]
    return " ".join(shown)


@register.simple_tag
def sku_compare(sku: str, other: str) -> str:
    """`sku` in a monospace span, each character that differs from `other` (or is not plain ASCII) marked and
    named in its title, then the differences in words."""
    sku, other = str(sku or ""), str(other or "")
    if not sku:
        return "—"
    parts, said = [], []
    matcher = SequenceMatcher(None, sku, other, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        for offset, ch in enumerate(sku[a1:a2]):
            theirs = other[b1 + offset] if op == "replace" and b1 + offset < b2 else ""
            odd = op != "equal" or ord(ch) > 127
            if not odd:
                parts.append(escape(ch))
                continue
            parts.append(format_html('<mark class="diff" title="{}">{}</mark>', char_name(ch), ch))
            words = f"{char_name(ch)}" + (f" where the other has {char_name(theirs)}" if theirs else "")
            if op == "equal":
                words = f"{char_name(ch)} (not a plain letter or digit)"
            elif not theirs:
                words += " (the other has nothing here)"
            said.append(words)
    text = format_html('<span class="sku">{}</span>', format_html_join("", "{}", ((part,) for part in parts)))
    if not said:
        return text
    counted = {w: said.count(w) for w in dict.fromkeys(said)}
    listed = "; ".join(w if n == 1 else f"{w} ({n} times)" for w, n in counted.items())
    return format_html('{} <span class="muted">— {}</span>', text, listed)
