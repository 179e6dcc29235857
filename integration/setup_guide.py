"""What an administrator needs to wire Zoho to this installation, generated for it: the CRM button's Deluge
function, the CRM fields, each organization's Books webhook settings and the OAuth scopes. No secret appears."""

from __future__ import annotations

from django.conf import settings

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

CRM_FIELDS = [
    ("Deals", "Invoice_Id", "Single Line"),
    ("Deals", "Invoice_Number", "Single Line"),
    ("Deals", "Invoice_URL", "URL"),
    ("Deals", "Payment_Status", "Pick List: Unpaid, Partially Paid, Paid, Overdue, Void"),
    ("Deals", "Credited_Amount", "Currency"),
    ("Deals", "Refunded_Amount", "Currency"),
    ("Accounts", "Legal_Entity", "Pick List: one value per legal entity code"),
    ("Accounts", "Books_Customer_Id", "Single Line"),
    ("Products", "Books_Item_Id", "Single Line"),
]

WEBHOOK_RULES = [
    ("Invoices", "created or edited"),
    ("Customer Payments", "created or edited"),
    ("Credit Notes", "created or edited"),
    ("Credit Note Refunds", "created (where the module offers it; refunds also arrive as credit-note edits)"),
]

OAUTH_SCOPES = [
    "ZohoCRM.modules.deals.ALL",
    "ZohoCRM.modules.accounts.ALL",
    "ZohoCRM.modules.products.ALL",
    "ZohoBooks.settings.READ",
    "ZohoBooks.contacts.ALL",
    "ZohoBooks.items.ALL",
    "ZohoBooks.invoices.ALL",
    "ZohoBooks.customerpayments.READ",
    "ZohoBooks.creditnotes.READ",
]


def button_endpoint() -> str:
    return f"{settings.PUBLIC_BASE_URL}/api/crm/generate-invoice/"


def webhook_endpoint(organization_id: str) -> str:
    return f"{settings.PUBLIC_BASE_URL}/api/books/webhook/{organization_id}/"


def deluge_function() -> str:
    """The complete Deluge function for the CRM button, signing exactly as the endpoint checks."""
    return DELUGE_TEMPLATE.format(variable=SECRET_VARIABLE, url=button_endpoint())
