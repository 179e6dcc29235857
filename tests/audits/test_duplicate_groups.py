"""The audit's matching over a whole catalogue: every kind of near-duplicate the push refuses to create, found
in groups without comparing all pairs, and nothing flagged in a catalogue of distinct SKUs."""

from __future__ import annotations

from audits.matching import duplicate_item_groups


def item(sku: str, name: str = "") -> dict:
    return {"sku": sku, "name": name or f"Item {sku}"}


def test_each_kind_of_duplicate_is_grouped_with_its_reason():
    items = [
        item("AB-100"),
        item(" ab 100"),  # spacing and case
        item("AB\u2010100"),  # a dash look-alike
        item("DHK-500"),
        item("DHK-5OO"),  # letter O for zero
        item("THG-600"),
        item("\u0422\u041dG-600"),  # Cyrillic look-alikes
        item("QWERTY-1234"),
        item("QWERTZ-1234"),  # one typo apart
        item("X-1", "Widget Pro"),
        item("X-2", "Widget Pro"),  # same name under another SKU
        item("ZZZ-999"),  # alone
    ]
    groups = duplicate_item_groups(items)
    members = sorted(sorted(g["members"]) for g in groups)
    assert members == [[0, 1, 2], [3, 4], [5, 6], [7, 8], [9, 10]]
    reasons = {frozenset(p): why[0] for g in groups for p, why in g["reasons"].items()}
    assert reasons[frozenset({0, 1})] == "same SKU once normalized"
    assert reasons[frozenset({3, 4})] == "SKUs alike but for look-alike characters"
    assert reasons[frozenset({7, 8})] == "SKUs one typo apart"
    assert reasons[frozenset({9, 10})] == "same name"


def test_a_catalogue_of_distinct_skus_has_no_duplicates():
    # Numbered series (SKU-00001, SKU-00002 … one digit apart) are distinct products, not typos.
    items = [item(f"SKU-{n:05d}", f"Part {n}") for n in range(3000)]
    # …and codes of letters no look-alike folding confuses (no O/0, I/1, L/1, S/5, B/8, Z/2).
    safe = "ACDEFHJKMNPRTUVWXY"
    codes = sorted({f"{safe[n % 18]}{safe[n // 18 % 18]}{safe[n // 324 % 18]}-7" for n in range(500)})
    items += [item(code, f"Kit {code}") for code in codes]
    assert duplicate_item_groups(items) == []


def test_sizes_and_series_are_not_typos_even_beside_a_look_alike_copy():
    items = [item(f"TSHIRT-4261-{size}") for size in ("S", "M", "L", "XL")]  # 0–3: sizes of one model
    items += [item("TSHIRT-426I-L")]  # 4: a look-alike copy of the L (I for 1)
    items += [item(f"AGGC-0536{n:02d}") for n in range(30, 40)]  # 5–14: a numbered series
    items += [item("AGGC-0536O3")]  # 15: a letter O among the digits differs from each member only where they do
    items += [item("HSBLY-REL-2943"), item("HBSLY-REL-2943")]  # 16, 17: S and B pass for digits, still a typo
    groups = sorted(sorted(g["members"]) for g in duplicate_item_groups(items))
    assert groups == [[2, 4], [16, 17]]


def test_one_huge_block_is_split_rather_than_compared_all_at_once():
    from audits import matching

    items = [item(f"ITEM-{n:07d}") for n in range(3 * matching.MAX_BLOCK)] + [item("ITEM-0000001X")]
    groups = duplicate_item_groups(items)
    assert [sorted(g["members"]) for g in groups] == [[1, len(items) - 1]]


def test_what_makes_two_customers_one():
    from audits.matching import company_key, duplicate_customer_groups, email_domain, tax_number_key

    assert company_key("Vandelay Industries, Inc.") == company_key("vandelay industries") == "vandelay industries"
    assert company_key("The Bluth Company") == "bluth"
    assert email_domain("Art@Vandelay.Example") == "vandelay.example"
    assert email_domain("jerry@gmail.com") == email_domain("kramer@comcast.net") == email_domain("nobody") == ""
    assert tax_number_key("GB 123 4567 89") == tax_number_key("123456789") == "123456789"
    assert tax_number_key("29abcde1234f1z5") == "29ABCDE1234F1Z5"
    contacts = [
        {"contact_name": "Initech, LLC", "company_name": "Initech, LLC"},
        {"contact_name": "Bill Lumbergh", "company_name": "Initech LLC", "email": "bill@initech.example"},
        {"contact_name": "Initrode", "company_name": "", "email": "m@initrode.example"},
        {"contact_name": "Jerry", "company_name": "", "email": "jerry@gmail.com"},
        {"contact_name": "Newman", "company_name": "", "email": "newman@gmail.com"},
    ]
    assert [sorted(g["members"]) for g in duplicate_customer_groups(contacts)] == [[0, 1]]
