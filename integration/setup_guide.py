"""What an administrator needs to wire Zoho to this installation, generated for it: the CRM button's Deluge
function, the CRM fields, each organization's Books webhook settings and the OAuth scopes. No secret appears."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from integration.models import PAYMENT_STATUSES
from integration.zoho import scopes

SECRET_VARIABLE = "invoice_bridge_secret"

DELUGE_TEMPLATE = """// Invoice Bridge: the "Generate Invoice" button on Deals (Setup > Customization > Modules >
// Deals > Links and Buttons > New button, action "Writing function"). Argument: deal_id = the Deal's ID.
// The shared secret lives in a CRM variable named {variable} (Setup > Developer Space > Zoho CRM
// Variables), holding the value of CRM_BUTTON_SECRET: it is never pasted into this code.
string button.generate_invoice(String deal_id)
{{
    secret = zoho.crm.getOrgVariable("{variable}");
    payload = {{"deal_id": deal_id, "user": zoho.loginuserid}}.toString();
    ts = zoho.currenttime.toLong().toString();
    signature = zoho.encryption.hmacsha256(secret, ts + "." + payload, "hex");
    headers = Map();
    headers.put("Content-Type", "application/json");
    headers.put("X-Timestamp", ts);
    headers.put("X-Signature", signature);
    response = invokeurl
    [
        url: "{url}"
        type: POST
        parameters: payload
        headers: headers
    ];
    return response.get("message");
}}
"""


@dataclass(frozen=True)
class CrmField:
    """A CRM field the bridge reads or writes: what the administrator creates (`kind`, as CRM's layout editor
    names the type) and what CRM's field metadata then says (`data_types`: any of these is right)."""

    module: str
    api_name: str
    kind: str
    data_types: tuple[str, ...]
    use: str
    custom: bool = True
    lookup: str = ""  # the module a lookup points at
    values: tuple[str, ...] = ()  # picklist values that must exist
    optional: bool = False


TEXT, NUMBER, MONEY = ("text",), ("double", "integer", "decimal"), ("currency", "double", "decimal")
SUBFORM = "Products"  # the custom line subform on Deals (CONTRACT.md §4)

CRM_FIELDS = [
    CrmField("Deals", "Deal_Name", "Deal Name (standard)", TEXT, "read", custom=False),
    CrmField(
        "Deals", "Stage", "Stage (standard)", ("picklist",), "read: must be Closed Won", False, "", ("Closed Won",)
    ),
    CrmField(
        "Deals",
        "Currency",
        "Currency (standard once CRM has more than one currency)",
        ("picklist", "text"),
        "read: the invoice's currency; without it, the Books organization's own",
        custom=False,
        optional=True,
    ),
    CrmField("Deals", "Amount", "Amount (standard)", MONEY, "not used: the invoice's figures are its lines'", False),
    CrmField("Deals", "Account_Name", "Account Name (standard lookup)", ("lookup",), "read", False, "Accounts"),
    CrmField(
        "Deals",
        "Contact_Name",
        "Contact Name (standard lookup)",
        ("lookup",),
        "not used: customers are per Account",
        False,
        "Contacts",
    ),
    CrmField("Deals", "Owner", "Deal Owner (standard)", ("ownerlookup",), "read: kept with the push", custom=False),
    CrmField("Deals", SUBFORM, "Subform named Products, columns below", ("subform",), "read: the invoice lines"),
    CrmField("Deals", "Invoice_Id", "Single Line", TEXT, "written when the invoice exists"),
    CrmField("Deals", "Invoice_Number", "Single Line", TEXT, "written when the invoice exists"),
    CrmField("Deals", "Invoice_URL", "URL", ("website", "text"), "written when the invoice exists"),
    CrmField(
        "Deals",
        "Payment_Status",
        "Pick List: " + ", ".join(PAYMENT_STATUSES),
        ("picklist",),
        "written from Books",
        values=PAYMENT_STATUSES,
    ),
    CrmField("Deals", "Credited_Amount", "Currency", MONEY, "written: non-void credit notes on the invoice"),
    CrmField("Deals", "Refunded_Amount", "Currency", MONEY, "written: those credit notes' refunds"),
    CrmField("Deals", "Written_Off_Amount", "Currency", MONEY, "written: the invoice's write-off"),
    CrmField("Accounts", "Account_Name", "Account Name (standard)", TEXT, "read", custom=False),
    CrmField("Accounts", "Billing_State", "Billing State (standard)", TEXT, "read: the tax region", custom=False),
    CrmField("Accounts", "Billing_Country", "Billing Country (standard)", TEXT, "read: the tax region", custom=False),
    CrmField(
        "Accounts",
        "Legal_Entity",
        "Pick List: one value per legal entity code",
        ("picklist",),
        "read: the organization",
    ),
    CrmField("Accounts", "Books_Customer_Id", "Single Line", TEXT, "written; set by hand to choose a Books customer"),
    CrmField("Products", "Product_Name", "Product Name (standard)", TEXT, "read", custom=False),
    CrmField("Products", "Product_Code", "Product Code (standard)", TEXT, "read: the SKU", custom=False),
    CrmField("Products", "Unit_Price", "Unit Price (standard)", MONEY, "read: a new item's rate", custom=False),
    CrmField("Products", "Description", "Description (standard)", ("textarea", "text"), "read", custom=False),
    CrmField("Products", "Books_Item_Id", "Single Line", TEXT, "written, for information"),
]
# The columns of the Deals' `Products` subform (module: the subform's own, as CRM names it).
SUBFORM_COLUMNS = [
    CrmField(SUBFORM, "Product", "Lookup to Products", ("lookup",), "the product", lookup="Products"),
    CrmField(SUBFORM, "Quantity", "Number or Decimal", NUMBER, "more than 0"),
    CrmField(SUBFORM, "Unit_Price", "Currency", MONEY, "0 or more; blank: the product's Unit_Price"),
    CrmField(SUBFORM, "Tax", "Percent", ("percent", *NUMBER), "the line's tax %; blank or 0: untaxed"),
]

WEBHOOK_RULES = [
    ("Invoices", "created or edited"),
    ("Customer Payments", "created or edited"),
    ("Credit Notes", "created or edited"),
    ("Credit Note Refunds", "created (where the module offers it; refunds also arrive as credit-note edits)"),
]

# Every scope some call needs (integration/zoho/scopes.py), and nothing else.
OAUTH_SCOPES = list(scopes.ALL)


def button_endpoint() -> str:
    return f"{settings.PUBLIC_BASE_URL}/api/crm/generate-invoice/"


LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def public_url_problem() -> str:
    """Why CRM (in Zoho's cloud) cannot call the button endpoint at PUBLIC_BASE_URL, or ''."""
    url = urlsplit(settings.PUBLIC_BASE_URL)
    if url.scheme != "https":
        return (
            f"PUBLIC_BASE_URL is {settings.PUBLIC_BASE_URL}, not an https:// address: CRM's function runs in Zoho's "
            "cloud and must reach this installation over HTTPS at its public name. Set PUBLIC_BASE_URL to it."
        )
    if url.hostname in LOOPBACK_HOSTS or (url.hostname or "").endswith(".local"):
        return f"PUBLIC_BASE_URL names {url.hostname}, which Zoho's cloud cannot reach: use the public name."
    return ""


def webhook_endpoint(organization_id: str) -> str:
    return f"{settings.PUBLIC_BASE_URL}/api/books/webhook/{organization_id}/"


def deluge_function() -> str:
    """The complete Deluge function for the CRM button, signing exactly as the endpoint checks."""
    return DELUGE_TEMPLATE.format(variable=SECRET_VARIABLE, url=button_endpoint())
