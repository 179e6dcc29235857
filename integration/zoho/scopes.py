"""The OAuth scope each Zoho call needs, as the `security` block of its Zoho document names it.

Books: contacts.yml (contacts, and marking one active/inactive: `contacts.CREATE`), items.yml, taxes.yml,
organizations.yml and currency.yml (all `settings`; creating an item and marking it active/inactive:
`settings.CREATE`), invoices.yml (`invoices.CREATE` also for status/sent and email), credit-notes.yml,
customer-payments.yml. CRM: ZohoCRM.modules.{module}.{READ|UPDATE} for records, ZohoCRM.settings.fields.READ
for field metadata, ZohoCRM.modules.notes.CREATE for a note on a Deal. A grant is made once with the scopes the
operator types in, so the setup guide lists exactly `ALL` — every scope some call below needs, and nothing else.
"""

from __future__ import annotations

BOOKS_CONTACTS_READ = "ZohoBooks.contacts.READ"
BOOKS_CONTACTS_CREATE = "ZohoBooks.contacts.CREATE"
BOOKS_SETTINGS_READ = "ZohoBooks.settings.READ"
BOOKS_SETTINGS_CREATE = "ZohoBooks.settings.CREATE"
BOOKS_INVOICES_READ = "ZohoBooks.invoices.READ"
BOOKS_INVOICES_CREATE = "ZohoBooks.invoices.CREATE"
BOOKS_CREDITNOTES_READ = "ZohoBooks.creditnotes.READ"
BOOKS_CUSTOMERPAYMENTS_READ = "ZohoBooks.customerpayments.READ"
CRM_FIELDS_READ = "ZohoCRM.settings.fields.READ"
# Create Notes (v2.1+ "Create Notes": the record's module scope *and* ZohoCRM.modules.notes.CREATE); a note on the
# Deal tells the AE that finance rejected the push or that it gave up.
CRM_NOTES_CREATE = "ZohoCRM.modules.notes.CREATE"

CRM_MODULES = ("Deals", "Accounts", "Products")


def crm_module(module: str, operation: str) -> str:
    """`ZohoCRM.modules.deals.READ` and the like (CRM names the module in lower case in its scopes)."""
    return f"ZohoCRM.modules.{module.lower()}.{operation}"


ALL = (
    BOOKS_CONTACTS_CREATE,
    BOOKS_CONTACTS_READ,
    BOOKS_CREDITNOTES_READ,
    BOOKS_CUSTOMERPAYMENTS_READ,
    BOOKS_INVOICES_CREATE,
    BOOKS_INVOICES_READ,
    BOOKS_SETTINGS_CREATE,
    BOOKS_SETTINGS_READ,
    *(crm_module(module, op) for module in sorted(CRM_MODULES) for op in ("READ", "UPDATE")),
    CRM_FIELDS_READ,
    CRM_NOTES_CREATE,
)
