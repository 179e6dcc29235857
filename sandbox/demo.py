"""The demo dataset: four Books organizations, one per edition we plan for (US, UK, India, Canada), and a CRM
full of the cases the field actually hits.

Organization ids match demo/legal_entities.csv; authorities and treatments match demo/tax_map.csv. Every
foot-gun is here on purpose: taxes without an authority at the same rate as the right ones (US, Canada),
GST components that are never valid alone and a state whose Books code differs from ISO (India), item SKUs that
differ only by spacing, case, dash or Unicode look-alikes, an inactive item, a customer that the
native connector already created from a Contact under a slightly different name, a customer the connector
named after the Contact person (found by its company name), a vendor with the same name as an Account, filler
items so the item list spans two pages, district taxes so the US tax list spans two pages, an inactive tax at
the right rate, a second currency (EUR) with its own deal, organizations in their own time zones, and deals
that must be refused.

The catalogue also holds duplicates already in Books, for the duplicate audit to find (and nothing else it
should flag): `AUDIT_ITEM_GROUPS` and `AUDIT_CUSTOMER_GROUPS` name them, one group per kind the matching handles.
"""

from __future__ import annotations

from sandbox.books import new_authority, new_contact, new_item, new_org, new_tax, new_tax_group
from sandbox.state import SandboxState

US_ORG, UK_ORG, IN_ORG, CA_ORG = "60001001", "60002002", "60003003", "60004004"


def deal_id(n: int) -> str:
    return f"57257670000004{n:05d}"


def account_id(n: int) -> str:
    return f"57257670000002{n:05d}"


def product_id(n: int) -> str:
    return f"57257670000003{n:05d}"


def contact_id(n: int) -> str:
    return f"57257670000001{n:05d}"


def load_demo(sb: SandboxState) -> None:
    _books(sb)
    _crm(sb)


def _books(sb: SandboxState) -> None:
    # Time zones as Books writes them: its document's example is an abbreviation (PST); others are IANA names.
    us = new_org(
        sb,
        US_ORG,
        "Acme Widgets LLC",
        "USD",
        others={"EUR": "1.08", "GBP": "1.27", "CAD": "0.73"},
        edition="us",
        country="U.S.A",
        state="California",
        time_zone="PST",
    )
    boe = new_authority(sb, us, "BOE_CA", "California Department of Tax and Fee Administration")
    nys = new_authority(sb, us, "NYS_DTF", "New York State Department of Taxation and Finance")
    wa = new_authority(sb, us, "WA_DOR", "Washington State Department of Revenue")
    # A retired tax at the right rate under the right authority, still listed (inactive) and refused on invoices.
    new_tax(sb, us, "CA Sales Tax (before 2017)", "7.25", boe, status="inactive")
    # County and district taxes: the list runs past one page of 200, so the state taxes below are on page two.
    districts = new_authority(sb, us, "CA_DISTRICTS", "California district taxes")
    for n in range(1, 216):
        new_tax(sb, us, f"District tax {n:03d}", f"{(n % 25 + 1) / 10:.2f}", districts)
    new_tax(sb, us, "CA Sales Tax", "7.25", boe)
    new_tax(sb, us, "NY Sales Tax", "8.875", nys)
    new_tax(sb, us, "WA Sales Tax", "6.5", wa)
    # What the native CRM connector leaves behind: same rates, no authority. Books refuses these on invoices.
    new_tax(sb, us, "Sales Tax 7.25%", "7.25", None)
    new_tax(sb, us, "Sales Tax 8.875%", "8.875", None)
    new_tax(sb, us, "TX Sales Tax", "6.25", None)

    # UK edition: no authorities; VAT rates carry the country code; invoices carry a vat_treatment.
    uk = new_org(
        sb,
        UK_ORG,
        "Acme Widgets Ltd",
        "GBP",
        others={"EUR": "0.85", "USD": "0.79"},
        edition="uk",
        country="United Kingdom",
        state="England",
        time_zone="Europe/London",
    )
    new_tax(sb, uk, "Standard Rate", "20", None)
    new_tax(sb, uk, "Reduced Rate", "5", None)
    new_tax(sb, uk, "Zero Rate", "0", None)

    # India (GST): home state Karnataka. Intra-state supply takes a CGST+SGST group, inter-state IGST.
    india = new_org(
        sb,
        IN_ORG,
        "Acme Widgets India Pvt Ltd",
        "INR",
        others={"USD": "83.20"},
        edition="india",
        country="India",
        state="Karnataka",
        state_code="KA",
        time_zone="Asia/Calcutta",
    )
    cgst9 = new_tax(sb, india, "CGST9", "9", None, specific="cgst")
    sgst9 = new_tax(sb, india, "SGST9", "9", None, specific="sgst")
    new_tax_group(sb, india, "GST18", [cgst9, sgst9])
    new_tax(sb, india, "IGST18", "18", None, specific="igst")
    cgst6 = new_tax(sb, india, "CGST6", "6", None, specific="cgst")
    sgst6 = new_tax(sb, india, "SGST6", "6", None, specific="sgst")
    new_tax_group(sb, india, "GST12", [cgst6, sgst6])  # no IGST12: an inter-state 12 % line cannot be taxed

    # Canada: taxes belong to tax agencies; no invoice-level authority.
    canada = new_org(
        sb,
        CA_ORG,
        "Acme Widgets Canada Inc",
        "CAD",
        others={"USD": "1.36"},
        edition="canada",
        country="Canada",
        state="Ontario",
        time_zone="America/Toronto",
    )
    cra = new_authority(sb, canada, "CRA", "Canada Revenue Agency")
    new_tax(sb, canada, "HST ON", "13", cra)
    new_tax(sb, canada, "GST", "5", cra)
    new_tax(sb, canada, "HST 13%", "13", None)  # the connector's agency-less copy

    # Items already in Books, with SKUs as the field writes them.
    new_item(sb, us, name="Widget Pro", rate="1200", sku="WID-100")
    new_item(sb, us, name="Gadget", rate="350", sku="gad 200")  # spacing and case
    new_item(sb, us, name="Sprocket", rate="45", sku="SPR\u2010300", status="inactive")  # U+2010 dash, inactive
    new_item(sb, us, name="Gizmo", rate="99", sku="GZM-400")
    new_item(sb, us, name="Doohickey", rate="75", sku="DHK-5OO")  # letter O for zero: near, not equal
    new_item(sb, us, name="Thingamajig", rate="150", sku="\u0422\u041dG-600")  # Cyrillic Т and Н: near, not equal
    new_item(sb, us, name="Fullwidth Flange", rate="20", sku="\uff26\uff37\uff0d\uff17\uff10\uff10")  # ＦＷ－７００
    for n in range(1, 231):  # filler: the item list spans two pages of 200
        new_item(
            sb,
            us,
            name=f"Spare Part {n:03d}",
            rate="5",
            sku=f"SP-{n:04d}",
            status="inactive" if n % 10 == 0 else "active",
        )
    new_item(sb, uk, name="Widget Pro", rate="950", sku="wid 100")
    new_item(sb, uk, name="Gadget", rate="280", sku="GAD-200")
    new_item(sb, india, name="Widget Pro", rate="99000", sku="WID\u2013100")  # en dash

    _audit_seeds(sb)

    # The customer the native connector created from a Contact push: "Initech LLC" (CRM says "Initech, LLC").
    _contact(
        sb,
        US_ORG,
        "Initech LLC",
        "Initech LLC",
        "bill.lumbergh@initech.example",
        contact_id="460000000000501",
        billing_address={"state": "CA", "country": "U.S.A"},
    )
    # One made from a CRM Contact: the person's name, the Account in company_name. Books' search_text never
    # looks at the company name, so only a company-name query finds it for the Account "Hooli Inc".
    _contact(sb, US_ORG, "Gavin Belson", "Hooli Inc", "gavin.belson@hooli.example")
    # A supplier that is also called Globex: vendors are contacts too, and never adopted as customers.
    _contact(sb, US_ORG, "Hank Scorpio", "Globex Corporation", "hank@globex.example", kind="vendor")


def _contact(
    sb: SandboxState,
    org: str,
    name: str,
    company: str,
    email: str,
    *,
    contact_id: str = "",
    kind: str = "customer",
    **fields,
) -> None:
    """A contact already in Books (as the connector or a person made it, not through our API)."""
    new_contact(sb, sb.orgs[org], name=name, company=company, kind=kind, email=email, contact_id=contact_id, **fields)


# Duplicates already in Books (no CRM product or Account uses them, so pushes are unaffected). Books refuses two
# items or contacts with the same name whatever the case, so the names differ at least by punctuation.
AUDIT_ITEM_GROUPS = {
    "same SKU once normalized": [("Hinge Bracket", "HB-1000"), ("Hinge Bracket (old)", "hb 1000")],
    "letter O for zero": [("Cable Tie Pack", "CTP-2000"), ("Cable Tie Pack 100", "CTP-2OOO")],
    "Cyrillic look-alike": [("Mounting Rail", "MR-3000"), ("Mounting Rail EU", "\u041cR-3000")],
    "one typo": [("Bracket Kit", "BRACKETKIT-77"), ("Bracket Kit Deluxe", "BRAKCETKIT-77")],
    "same name": [("Service Plan", "SVC-ANNUAL"), ("Service-Plan", "SVC-12M")],
}
AUDIT_CUSTOMER_GROUPS = {
    # (org, contact_name, company_name, email, tax fields)
    "legal form": [
        (US_ORG, "Vandelay Industries", "Vandelay Industries", "art@vandelay.example", {}),
        (
            US_ORG,
            "Vandelay Industries, Inc.",
            "Vandelay Industries, Inc.",
            "h.pennypacker@vandelay-imports.example",
            {},
        ),
    ],
    "one from the Account, one from a Contact push": [
        (US_ORG, "Kramerica Industries", "Kramerica Industries", "", {}),
        (US_ORG, "Cosmo Kramer", "Kramerica Industries", "cosmo@kramerica.example", {}),
    ],
    "email domain": [
        (US_ORG, "Pendant Publishing", "Pendant Publishing", "j.peterman@pendant.example", {}),
        (US_ORG, "J. Peterman Catalog", "J. Peterman Catalog", "elaine@pendant.example", {}),
    ],
    "VAT number": [
        (UK_ORG, "Bluth Company Ltd", "Bluth Company Ltd", "", {"vat_treatment": "uk", "vat_reg_no": "GB123456789"}),
        (UK_ORG, "Bluth Homes", "Bluth Homes", "", {"vat_treatment": "uk", "vat_reg_no": "GB 123 4567 89"}),
    ],
    "GST number": [
        (IN_ORG, "Sterling Cooper India", "Sterling Cooper India", "", {"gst_no": "29ABCDE1234F1Z5"}),
        (IN_ORG, "SC Advertising Pvt Ltd", "SC Advertising Pvt Ltd", "", {"gst_no": "29ABCDE1234F1Z5"}),
    ],
}
# Look alike to nobody: public mailbox domains are not company domains.
AUDIT_DISTINCT_CUSTOMERS = [
    (US_ORG, "Newman Postal Services", "Newman Postal Services", "newman@gmail.com", {}),
    (US_ORG, "Seinfeld Comedy", "Seinfeld Comedy", "jerry@gmail.com", {}),
]


def _audit_seeds(sb: SandboxState) -> None:
    us = sb.orgs[US_ORG]
    for group in AUDIT_ITEM_GROUPS.values():
        for name, sku in group:
            new_item(sb, us, name=name, rate="10", sku=sku)
    for group in [*AUDIT_CUSTOMER_GROUPS.values(), AUDIT_DISTINCT_CUSTOMERS]:
        for org, name, company, email, tax in group:
            india = {"gst_treatment": "business_gst", "place_of_contact": "KA"} if "gst_no" in tax else {}
            _contact(sb, org, name, company, email, **india, **tax)


def _crm(sb: SandboxState) -> None:
    products = [
        (1, "Widget Pro", "WID-100", 1200, "goods"),
        (2, "Gadget", "GAD-200", 350, "goods"),
        (3, "Sprocket", "SPR-300", 45, "goods"),
        (4, "Gizmo", "GZM-400", 99, "goods"),
        (5, "Doohickey", "DHK-500", 75, "goods"),
        (6, "Thingamajig", "THG-600", 150, "goods"),
        (7, "Flange", " fw 700", 20, "goods"),
        (8, "Quantum Widget", "QW-800", 500, "goods"),
        (9, "Installation", "INST-900", 500, "service"),
    ]
    for n, name, sku, price, _kind in products:
        sb.crm["Products"][product_id(n)] = {
            "id": product_id(n),
            "Product_Name": name,
            "Product_Code": sku,
            "Unit_Price": price,
            "Description": f"{name} ({sku.strip()})",
            "Books_Item_Id": None,
        }
    accounts = [
        (1, "Initech, LLC", "California", "United States", "US-LLC"),
        (2, "Globex Corporation", "NY", "USA", "US-LLC"),
        (3, "Umbrella Corp", "TX", "US", "US-LLC"),
        (4, "Hooli Inc", "Washington", "US", "US-LLC"),
        (5, "Wayne Enterprises Ltd", "England", "United Kingdom", "UK-LTD"),
        (6, "Tata Consulting Pvt Ltd", "Karnataka", "India", "IN-PVT"),
        (7, "Reliance Retail", "Maharashtra", "India", "IN-PVT"),
        (8, "Stark Industries", "CA", "US", "US-INC"),  # no such legal entity
        (9, "Soylent Corp", "CA", "US", None),  # no legal entity at all
        (10, "Himalaya Outfitters", "UT", "India", "IN-PVT"),  # Uttarakhand: ISO UT, Books UK
        (11, "Maple Leaf Kiosks", "Ontario", "Canada", "CA-INC"),
        (12, "Cyberdyne Systems GmbH", "Berlin", "Germany", "US-LLC"),  # invoiced in EUR from the US company
    ]
    for n, name, state, country, entity in accounts:
        sb.crm["Accounts"][account_id(n)] = {
            "id": account_id(n),
            "Account_Name": name,
            "Billing_State": state,
            "Billing_Country": country,
            "Legal_Entity": entity,
            "Books_Customer_Id": None,
        }
    sb.crm["Contacts"][contact_id(1)] = {
        "id": contact_id(1),
        "First_Name": "Bill",
        "Last_Name": "Lumbergh",
        "Email": "bill.lumbergh@initech.example",
        "Account_Name": {"id": account_id(1), "name": "Initech, LLC"},
    }
    sb.crm["Contacts"][contact_id(2)] = {
        "id": contact_id(2),
        "First_Name": "Peter",
        "Last_Name": "Gibbons",
        "Email": "peter@example.com",
        "Account_Name": None,
    }

    def line(n: int, product: int, qty: int, price: float, tax: float | None) -> dict:
        row = {
            "id": f"{deal_id(0)}{n}{product}",
            "Product": {"id": product_id(product), "name": products[product - 1][1]},
            "Quantity": qty,
            "Unit_Price": price,
        }
        if tax is not None:
            row["Tax"] = tax
        return row

    deals = [
        (1, "Initech — widget rollout", "Closed Won", 1, [(1, 2, 1200, 7.25), (3, 10, 45, 7.25)]),
        (2, "Globex annual order", "Closed Won", 2, [(2, 3, 350, 8.875), (4, 1, 99, 8.875)]),
        (3, "Umbrella Texas depot", "Closed Won", 3, [(1, 1, 1200, 6.25)]),
        (4, "Hooli installation", "Closed Won", 4, [(9, 1, 500, 0)]),
        (5, "Wayne Enterprises refit", "Closed Won", 5, [(1, 5, 950, 20), (2, 2, 280, 5), (9, 1, 500, 0)]),
        (6, "Tata Bangalore campus", "Closed Won", 6, [(1, 3, 99000, 18)]),
        (7, "Reliance pilot", "Closed Won", 7, [(8, 4, 40000, 18)]),
        (8, "Initech spares", "Closed Won", 1, [(5, 4, 75, 7.25), (6, 2, 150, 7.25)]),
        (9, "Stark Industries prototype", "Closed Won", 8, [(1, 1, 1200, 7.25)]),
        (10, "Peter's side deal", "Closed Won", None, [(4, 1, 99, None)]),
        (11, "Globex expansion", "Negotiation/Review", 2, [(1, 10, 1200, 8.875)]),
        (12, "Initech flanges", "Closed Won", 1, [(7, 50, 20, 7.25)]),
        (13, "Soylent tasting kit", "Closed Won", 9, [(4, 2, 99, 7.25)]),
        (14, "Himalaya store fit-out", "Closed Won", 10, [(1, 2, 99000, 18)]),
        (15, "Maple Leaf kiosks", "Closed Won", 11, [(1, 3, 1500, 13)]),
        (16, "Cyberdyne EU rollout", "Closed Won", 12, [(1, 2, 1100, None), (9, 1, 450, None)]),
    ]
    currency = {
        1: "USD",
        2: "USD",
        3: "USD",
        4: "USD",
        5: "GBP",
        6: "INR",
        7: "INR",
        8: "USD",
        9: "USD",
        10: "INR",
        11: "CAD",
        12: "EUR",
    }
    for n, name, stage, account, lines in deals:
        rows = [line(n, *ln) for ln in lines]
        amount = sum(r["Quantity"] * r["Unit_Price"] for r in rows)
        acc = sb.crm["Accounts"].get(account_id(account)) if account else None
        sb.crm["Deals"][deal_id(n)] = {
            "id": deal_id(n),
            "Deal_Name": name,
            "Stage": stage,
            "Amount": amount,
            "Currency": currency.get(account, "USD"),
            "Account_Name": {"id": acc["id"], "name": acc["Account_Name"]} if acc else None,
            "Contact_Name": (
                {"id": contact_id(2), "name": "Peter Gibbons"}
                if account is None
                else {"id": contact_id(1), "name": "Bill Lumbergh"}
                if account == 1
                else None
            ),
            "Owner": {"id": "5725767000000000001", "name": "Ava Executive", "email": "ava@acme.example"},
            "Products": rows,
            "Invoice_Id": None,
            "Invoice_Number": None,
            "Invoice_URL": None,
            "Payment_Status": None,
            "Credited_Amount": None,
            "Refunded_Amount": None,
            "Written_Off_Amount": None,
        }
