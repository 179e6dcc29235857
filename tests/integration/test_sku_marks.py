"""Choices that show the difference: two SKUs a font draws alike are shown with the differing characters marked
and named."""

from __future__ import annotations

from integration.templatetags.skus import char_name, sku_compare


def test_letters_for_digits_cyrillic_letters_and_dash_look_alikes_are_marked_and_named():
    assert char_name("0") == "digit zero" and char_name("О") == "Cyrillic capital letter O"
    assert sku_compare("DHK-500", "DHK-5OO").endswith(
        "— digit zero where the other has Latin capital letter O (2 times)</span>"
    )
    dash = sku_compare("AB‐100", "AB-100")
    assert '<mark class="diff" title="hyphen">‐</mark>' in dash and "hyphen where the other has hyphen-minus" in dash
    longer = sku_compare("AB-1000", "AB-100")
    assert "digit zero (the other has nothing here)" in longer


def test_equal_skus_are_plain_and_text_is_escaped():
    assert sku_compare("AB-100", "AB-100") == '<span class="sku">AB-100</span>'
    assert "<script>" not in sku_compare("<script>", "x") and "&lt;" in sku_compare("<script>", "x")
    assert sku_compare("", "AB") == "—"
