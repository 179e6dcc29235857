"""Zoho's documents, transcribed for the endpoints the clients call: for each, where it is documented, the OAuth
scope its `security` block names, the query parameters and request fields it documents, and the response fields
it documents (list rows and details apart). Books: the Books v3 OpenAPI documents (the public mirror
fordez/zoho-books-mcp-server-openapi, `mcp_server/openapi-all/` and `openapi-all/`). CRM: the v8 API reference
(Get Records, Update Records, Fields Metadata) and the fields CONTRACT.md §4 names. Accounts: the OAuth refresh.

Written by hand from the documents, never from our code: the contract tests hold the clients to these names."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PAGE_CONTEXT = frozenset(
    {"page", "per_page", "has_more_page", "report_name", "applied_filter", "sort_column", "sort_order"}
)
ENVELOPE = frozenset({"code", "message", "page_context", *(f"page_context.{k}" for k in PAGE_CONTEXT)})
# CRM answers errors as {"code", "details", "message", "status"} (its Status Codes page), any endpoint.
CRM_ENVELOPE = frozenset({"code", "details", "message", "status"})
PAGING = frozenset({"page", "per_page"})


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # a regex over the path after the service's base (/books/v3, /crm/v8, the accounts server)
    source: str
    scope: str
    query: frozenset[str] = frozenset()
    request: frozenset[str] = frozenset()  # body fields; nested ones dotted (line_items.tax_id)
    response: frozenset[str] = frozenset()  # what may be read: entity key, its fields, nested ones dotted
    service: str = "books"
    regex: re.Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", re.compile(f"^{self.path}$"))


def nest(key: str, names: set[str] | frozenset[str]) -> set[str]:
    return {key} | {f"{key}.{n}" for n in names}


# --- Books: organizations.yml, currency.yml, taxes.yml ------------------------------------------------
ORGANIZATION = {
    "organization_id", "name", "is_default_org", "account_created_date", "time_zone", "language_code",
    "date_format", "field_separator", "fiscal_year_start_month", "contact_name", "industry_type", "industry_size",
    "company_id_label", "company_id_value", "tax_id_label", "tax_id_value", "currency_id", "currency_code",
    "currency_symbol", "currency_format", "price_precision", "org_address", "remit_to_address", "phone", "fax",
    "website", "email", "is_org_active", "custom_fields",
    *nest("address", {"street_address1", "street_address2", "city", "state", "country", "zip"}),
}  # fmt: skip
CURRENCY_ROW = {
    "currency_id", "currency_code", "currency_name", "currency_symbol", "price_precision", "currency_format",
    "is_base_currency", "exchange_rate", "effective_date",
}  # fmt: skip
TAX_ROW = {
    "tax_id", "tax_name", "tax_percentage", "tax_type", "tax_factor", "tax_specific_type", "tax_authority_id",
    "tax_authority_name", "is_value_added", "is_default_tax", "is_editable", "output_tax_account_name",
    "purchase_tax_account_name", "tax_account_id", "purchase_tax_account_id",
}  # fmt: skip
TAX_AUTHORITY = {
    "tax_authority_id",
    "tax_authority_name",
    "description",
    "registration_number",
    "registration_number_label",
}

# --- Books: contacts.yml ------------------------------------------------------------------------------
CONTACT_ROW = {  # list-contacts-response
    "contact_id", "contact_name", "company_name", "contact_type", "status", "payment_terms", "payment_terms_label",
    "currency_id", "currency_code", "outstanding_receivable_amount", "unused_credits_receivable_amount",
    "first_name", "last_name", "email", "phone", "mobile", "created_time", "last_modified_time",
}  # fmt: skip
ADDRESS = {"attention", "address", "street2", "state_code", "city", "state", "zip", "country", "fax", "phone"}
CONTACT_TAX = {
    "vat_reg_no", "tax_reg_no", "tax_exemption_certificate_number", "country_code", "vat_treatment", "tax_treatment",
    "tax_regime", "legal_name", "is_tds_registered", "place_of_contact", "gst_no", "gst_treatment",
    "tax_authority_name", "avatax_exempt_no", "avatax_use_code", "tax_exemption_id", "tax_exemption_code",
    "tax_authority_id", "tax_id", "tds_tax_id", "is_taxable", "track_1099", "tax_id_type", "tax_id_value",
}  # fmt: skip
CONTACT_CREATE = {
    "contact_name", "company_name", "website", "language_code", "contact_type", "customer_sub_type", "credit_limit",
    "pricebook_id", "contact_number", "ignore_auto_number_generation", "tags", "is_portal_enabled", "currency_id",
    "payment_terms", "payment_terms_label", "notes", "contact_persons", "default_templates", "custom_fields",
    "opening_balances", "owner_id", "facebook", "twitter", *CONTACT_TAX,
    *nest("billing_address", ADDRESS), *nest("shipping_address", ADDRESS),
}  # fmt: skip
CONTACT = {
    *CONTACT_ROW, *CONTACT_TAX, "website", "language_code", "customer_sub_type", "credit_limit", "pricebook_id",
    "contact_number", "is_portal_enabled", "notes", "custom_fields", "contact_persons", "default_templates",
    "has_transaction", "is_linked_with_zohocrm", "primary_contact_id", "outstanding_receivable_amount_bcy",
    "unused_credits_receivable_amount_bcy", "payment_reminder_enabled", "owner_id", "currency_symbol",
    "facebook", "twitter", *nest("billing_address", ADDRESS), *nest("shipping_address", ADDRESS),
}  # fmt: skip
CONTACT_QUERY = {
    "contact_type", "filter_by", "search_text", "sort_column", "zcrm_contact_id", "zcrm_account_id",
    "zcrm_vendor_id", *PAGING,
    *(f"{name}{suffix}" for name in ("contact_name", "company_name", "first_name", "last_name", "address", "email",
                                     "phone") for suffix in ("", "_startswith", "_contains")),
}  # fmt: skip

# --- Books: items.yml -------------------------------------------------------------------------------
ITEM_ROW = {  # list-items-response
    "item_id", "name", "status", "description", "rate", "unit", "tax_id", "purchase_tax_rule_id",
    "sales_tax_rule_id", "tax_name", "tax_percentage", "tax_type", "sku", "product_type", "sat_item_key_code",
    "unitkey_code", "custom_fields",
}  # fmt: skip
ITEM = {*ITEM_ROW, "hsn_or_sac", "item_tax_preferences", "locations"}  # item-response
ITEM_CREATE = {
    "name", "rate", "description", "tax_id", "locations", "purchase_tax_rule_id", "sales_tax_rule_id",
    "tax_percentage", "sku", "product_type", "hsn_or_sac", "sat_item_key_code", "unitkey_code", "is_taxable",
    "tax_exemption_id", "purchase_tax_exemption_id", "account_id", "avatax_tax_code", "avatax_use_code",
    "item_type", "purchase_description", "purchase_rate", "purchase_account_id", "inventory_account_id",
    "vendor_id", "reorder_level", "item_tax_preferences", "custom_fields",
}  # fmt: skip
ITEM_QUERY = {
    *(f"{n}{s}" for n in ("name", "description") for s in ("", "_startswith", "_contains")),
    "rate", "tax_id", "tax_name", "is_taxable", "tax_exemption_id", "account_id", "filter_by", "search_text",
    "sort_column", "sat_item_key_code", "unitkey_code", *PAGING,
}  # fmt: skip

# --- Books: invoices.yml ------------------------------------------------------------------------------
INVOICE_LINE = {
    "line_item_id", "item_id", "project_id", "project_name", "time_entry_ids", "location_id", "location_name",
    "item_type", "product_type", "expense_id", "expense_receipt_name", "name", "description", "item_order",
    "bcy_rate", "rate", "quantity", "unit", "discount_amount", "discount", "tags", "tax_id", "tds_tax_id",
    "tax_name", "tax_type", "tax_percentage", "tax_treatment_code", "item_total", "header_name", "header_id",
    "sat_item_key_code", "unitkey_code",
}  # fmt: skip
INVOICE = {  # invoice-response / get-an-invoice-response
    "invoice_id", "ach_payment_initiated", "invoice_number", "is_pre_gst", "place_of_supply", "gst_no",
    "gst_treatment", "cfdi_usage", "cfdi_reference_type", "reference_invoice_id", "vat_treatment", "tax_treatment",
    "is_reverse_charge_applied", "vat_reg_no", "date", "status", "payment_terms", "payment_terms_label",
    "due_date", "payment_expected_date", "last_payment_date", "reference_number", "customer_id", "customer_name",
    "contact_persons_associated", "currency_id", "currency_code", "exchange_rate", "discount",
    "is_discount_before_tax", "discount_type", "is_inclusive_tax", "recurring_invoice_id", "is_viewed_by_client",
    "has_attachment", "client_viewed_time", "shipping_charge", "location_id", "location_name", "adjustment",
    "adjustment_description", "sub_total", "tax_total", "total", "taxes", "payment_reminder_enabled",
    "payment_made", "credits_applied", "tax_amount_withheld", "balance", "write_off_amount",
    "allow_partial_payments", "price_precision", "payment_options", "is_emailed", "reminders_sent",
    "last_reminder_sent_date", "billing_address", "shipping_address", "notes", "terms", "custom_fields",
    "template_id", "template_name", "created_time", "last_modified_time", "attachment_name", "can_send_in_mail",
    "salesperson_id", "salesperson_name", "invoice_url", *nest("line_items", INVOICE_LINE),
}  # fmt: skip
INVOICE_ROW = {  # list-invoices-response
    "invoice_id", "ach_payment_initiated", "customer_name", "customer_id", "status", "invoice_number",
    "reference_number", "date", "due_date", "due_days", "currency_id", "schedule_time", "currency_code",
    "is_viewed_by_client", "has_attachment", "client_viewed_time", "total", "balance", "created_time",
    "last_modified_time", "is_emailed", "reminders_sent", "last_reminder_sent_date", "payment_expected_date",
    "last_payment_date", "custom_fields", "documents", "location_id", "location_name", "salesperson_id",
    "salesperson_name", "shipping_charge", "adjustment", "write_off_amount", "exchange_rate",
}  # fmt: skip
INVOICE_CREATE = {  # create-an-invoice-request
    "customer_id", "currency_id", "contact_persons", "contact_persons_associated", "invoice_number",
    "place_of_supply", "vat_treatment", "tax_treatment", "is_reverse_charge_applied", "gst_treatment", "gst_no",
    "cfdi_usage", "reference_number", "template_id", "date", "payment_terms", "payment_terms_label", "due_date",
    "discount", "is_discount_before_tax", "discount_type", "is_inclusive_tax", "exchange_rate", "location_id",
    "recurring_invoice_id", "invoiced_estimate_id", "salesperson_name", "custom_fields", "send", "payment_options",
    "allow_partial_payments", "custom_body", "custom_subject", "notes", "terms", "shipping_charge", "adjustment",
    "adjustment_description", "reason", "tax_authority_id", "tax_exemption_id", "billing_address_id",
    "shipping_address_id", "avatax_use_code", "avatax_exempt_no", "tax_id", "expense_id", "salesorder_item_id",
    "avatax_tax_code", "time_entry_ids", "batch_payments",
    *nest("line_items", {
        "item_id", "project_id", "time_entry_ids", "product_type", "hsn_or_sac", "sat_item_key_code", "unitkey_code",
        "location_id", "expense_id", "bill_id", "bill_item_id", "expense_receipt_name", "name", "description",
        "item_order", "bcy_rate", "rate", "quantity", "unit", "discount_amount", "discount", "tags", "tax_id",
        "tds_tax_id", "tax_name", "tax_type", "tax_percentage", "tax_treatment_code", "header_name",
        "salesorder_item_id",
    }),
}  # fmt: skip
INVOICE_QUERY = {
    *(f"{n}{s}" for n in ("invoice_number", "item_name", "item_description", "custom_field")
      for s in ("", "_startswith", "_contains")),
    "item_id", "reference_number", "customer_name", "recurring_invoice_id", "email", "total", "balance",
    *(f"{n}{s}" for n in ("date", "due_date", "created_date") for s in ("", "_start", "_end", "_before", "_after")),
    "last_modified_time", "status", "customer_id", "filter_by", "search_text", "sort_column", "zcrm_potential_id",
    "response_option", *PAGING,
}  # fmt: skip
INVOICE_PAYMENT = {  # list-invoice-payments-response
    "payment_id", "payment_number", "invoice_id", "invoice_payment_id", "payment_mode", "description", "date",
    "reference_number", "exchange_rate", "amount", "tax_amount_withheld", "online_transaction_id",
    "is_single_invoice_payment",
}  # fmt: skip
CREDIT_APPLIED = {"creditnote_id", "creditnotes_invoice_id", "creditnotes_number", "credited_date", "amount_applied"}

# --- Books: credit-notes.yml, customer-payments.yml ----------------------------------------------------
CREDITNOTE = {  # get-a-credit-note-response: invoices[] — no top-level invoice_id, no last_modified_time
    "creditnote_id", "creditnote_number", "date", "is_pre_gst", "place_of_supply", "vat_treatment", "vat_reg_no",
    "gst_no", "cfdi_usage", "cfdi_reference_type", "gst_treatment", "tax_treatment", "is_reverse_charge_applied",
    "status", "customer_id", "customer_name", "contact_persons_associated", "custom_fields", "reference_number",
    "email", "total", "balance", "location_id", "location_name", "line_items", "taxes", "currency_code",
    "currency_symbol", "billing_address", "shipping_address", "created_time", "updated_time", "template_id",
    "template_name", "notes", "terms", *nest("invoices", {"invoice_id", "invoice_number", "amount"}),
}  # fmt: skip
REFUND_ROW = {  # list-refunds-of-a-credit-note-response: amount_bcy / amount_fcy, no amount
    "creditnote_refund_id", "creditnote_id", "date", "refund_mode", "payment_form", "reference_number",
    "creditnote_number", "customer_name", "description", "amount_bcy", "amount_fcy",
}  # fmt: skip
PAYMENT = {  # payment-response
    "payment_id", "payment_mode", "amount", "amount_refunded", "bank_charges", "date", "status", "reference_number",
    "description", "customer_id", "customer_name", "email", "currency_code", "currency_symbol", "location_id",
    "location_name", "custom_fields",
    *nest("invoices", {"invoice_id", "invoice_number", "date", "invoice_amount", "amount_applied", "balance_amount"}),
}  # fmt: skip

ID = r"/\d+"
BOOKS = [
    Endpoint("GET", rf"/organizations{ID}", "organizations.yml get_organization", "ZohoBooks.settings.READ",
             response=frozenset(nest("organization", ORGANIZATION))),
    Endpoint("GET", "/settings/currencies", "currency.yml list_currencies", "ZohoBooks.settings.READ",
             query=frozenset({"filter_by", *PAGING}), response=frozenset(nest("currencies", CURRENCY_ROW))),
    Endpoint("GET", "/settings/taxes", "taxes.yml list_taxes", "ZohoBooks.settings.READ",
             query=PAGING, response=frozenset(nest("taxes", TAX_ROW))),
    Endpoint("GET", "/settings/taxauthorities", "taxes.yml list_tax_authorities", "ZohoBooks.settings.READ",
             response=frozenset(nest("tax_authorities", TAX_AUTHORITY))),
    Endpoint("GET", "/contacts", "contacts.yml list_contacts", "ZohoBooks.contacts.READ",
             query=frozenset(CONTACT_QUERY), response=frozenset(nest("contacts", CONTACT_ROW))),
    Endpoint("POST", "/contacts", "contacts.yml create_contact", "ZohoBooks.contacts.CREATE",
             request=frozenset(CONTACT_CREATE), response=frozenset(nest("contact", CONTACT))),
    Endpoint("GET", rf"/contacts{ID}", "contacts.yml get_contact", "ZohoBooks.contacts.READ",
             response=frozenset(nest("contact", CONTACT))),
    Endpoint("POST", rf"/contacts{ID}/(active|inactive)", "contacts.yml mark_contact_active/inactive",
             "ZohoBooks.contacts.CREATE"),
    Endpoint("GET", "/items", "items.yml list_items", "ZohoBooks.settings.READ",
             query=frozenset(ITEM_QUERY), response=frozenset(nest("items", ITEM_ROW))),
    Endpoint("POST", "/items", "items.yml create_item", "ZohoBooks.settings.CREATE",
             request=frozenset(ITEM_CREATE), response=frozenset(nest("item", ITEM))),
    Endpoint("GET", rf"/items{ID}", "items.yml get_item", "ZohoBooks.settings.READ",
             response=frozenset(nest("item", ITEM))),
    Endpoint("POST", rf"/items{ID}/(active|inactive)", "items.yml mark_item_active/inactive",
             "ZohoBooks.settings.CREATE"),
    Endpoint("POST", "/invoices", "invoices.yml create_invoice", "ZohoBooks.invoices.CREATE",
             query=frozenset({"send", "ignore_auto_number_generation", "is_quick_create", "batch_payments"}),
             request=frozenset(INVOICE_CREATE), response=frozenset(nest("invoice", INVOICE))),
    Endpoint("GET", "/invoices", "invoices.yml list_invoices", "ZohoBooks.invoices.READ",
             query=frozenset(INVOICE_QUERY), response=frozenset(nest("invoices", INVOICE_ROW))),
    Endpoint("GET", rf"/invoices{ID}", "invoices.yml get_invoice", "ZohoBooks.invoices.READ",
             query=frozenset({"print", "accept"}), response=frozenset(nest("invoice", INVOICE))),
    Endpoint("GET", rf"/invoices{ID}/payments", "invoices.yml list_invoice_payments", "ZohoBooks.invoices.READ",
             response=frozenset(nest("payments", INVOICE_PAYMENT))),
    Endpoint("GET", rf"/invoices{ID}/creditsapplied", "invoices.yml list_invoice_credits_applied",
             "ZohoBooks.invoices.READ", response=frozenset(nest("credits", CREDIT_APPLIED))),
    Endpoint("POST", rf"/invoices{ID}/status/sent", "invoices.yml mark_invoice_sent", "ZohoBooks.invoices.CREATE"),
    Endpoint("GET", rf"/creditnotes{ID}", "credit-notes.yml get_credit_note", "ZohoBooks.creditnotes.READ",
             query=frozenset({"print", "accept"}), response=frozenset(nest("creditnote", CREDITNOTE))),
    Endpoint("GET", rf"/creditnotes{ID}/refunds", "credit-notes.yml list_credit_note_refunds",
             "ZohoBooks.creditnotes.READ", query=PAGING, response=frozenset(nest("creditnote_refunds", REFUND_ROW))),
    Endpoint("GET", rf"/customerpayments{ID}", "customer-payments.yml get_customer_payment",
             "ZohoBooks.customerpayments.READ", response=frozenset(nest("payment", PAYMENT))),
]  # fmt: skip

# --- CRM v8: records (Get/Update Records) and Fields Metadata; the fields of CONTRACT.md §4 --------------
LOOKUP = {"id", "name"}
CRM_RECORD = {
    "id", "Deal_Name", "Stage", "Amount", "Currency", "Invoice_Id", "Invoice_Number", "Invoice_URL",
    "Payment_Status", "Credited_Amount", "Refunded_Amount", "Written_Off_Amount", "Account_Name", "Billing_State",
    "Billing_Country", "Legal_Entity", "Books_Customer_Id", "Product_Name", "Product_Code", "Unit_Price",
    "Description", "Books_Item_Id", "Modified_Time",
    *nest("Account_Name", LOOKUP), *nest("Contact_Name", LOOKUP), *nest("Owner", {"id", "name", "email"}),
    *nest("Products", {"id", "Quantity", "Unit_Price", "Tax", *nest("Product", LOOKUP)}),
}  # fmt: skip
CRM_WRITE_RESULT = {
    "code",
    "message",
    "status",
    *nest("details", {"id", "Modified_Time", "Modified_By", "api_name", "json_path", "expected_data_type"}),
}
CRM_FIELD = {
    "api_name", "field_label", "display_label", "data_type", "json_type", "id", "custom_field",
    *nest("lookup", {"display_label", "api_name", "id", *nest("module", {"api_name", "id"})}),
    *nest("associated_module", {"module", "id"}), *nest("subform", {"module", "id"}),
    *nest("pick_list_values", {"display_value", "actual_value"}),
}  # fmt: skip
MODULE = r"/(Deals|Accounts|Products)"
CRM = [
    Endpoint("GET", rf"{MODULE}{ID}", "CRM v8 Get Records (a record by id)", "ZohoCRM.modules.{module}.READ",
             response=frozenset({"status", "code", *nest("data", CRM_RECORD)}), service="crm"),
    Endpoint("GET", MODULE, "CRM v8 Get Records (ids, up to 100)", "ZohoCRM.modules.{module}.READ",
             query=frozenset({"ids", "fields"}),
             response=frozenset({"status", "code", *nest("data", CRM_RECORD),
                                 *nest("info", {"count", "more_records"})}),
             service="crm"),
    Endpoint("PUT", rf"{MODULE}{ID}", "CRM v8 Update Records", "ZohoCRM.modules.{module}.UPDATE",
             request=frozenset({"trigger", *nest("data", CRM_RECORD)}),
             response=frozenset({"status", "details", *nest("data", CRM_WRITE_RESULT)}), service="crm"),
    Endpoint("POST", r"/Deals/\d+/Notes", "CRM v8 Create Notes (notes of a specific record)",
             "ZohoCRM.modules.notes.CREATE", request=frozenset(nest("data", {"Note_Title", "Note_Content"})),
             response=frozenset({"status", "details", *nest("data", CRM_WRITE_RESULT)}), service="crm"),
    Endpoint("GET", "/settings/fields", "CRM v8 Fields Metadata", "ZohoCRM.settings.fields.READ",
             query=frozenset({"module", "type", "include"}), response=frozenset(nest("fields", CRM_FIELD)),
             service="crm"),
]  # fmt: skip

CLIQ = [
    Endpoint("POST", r"/api/v2/channelsbyname/[^/]+/message", "Cliq REST API: post a message to a channel", "",
             query=frozenset({"zapikey", "bot_unique_name"}),
             request=frozenset({"text", "bot", "bot.name", "bot.image", "card", "card.title", "card.theme",
                                "card.thumbnail", "slides", "buttons"}),
             response=frozenset(), service="cliq"),
]  # fmt: skip

ACCOUNTS = [
    Endpoint("POST", "/oauth/v2/token", "Zoho Accounts: refreshing an access token", "",
             request=frozenset({"grant_type", "client_id", "client_secret", "refresh_token"}),
             response=frozenset({"access_token", "expires_in", "api_domain", "token_type", "error",
                                 "error_description", "status"}), service="oauth"),
]  # fmt: skip

ENDPOINTS = [*BOOKS, *CRM, *CLIQ, *ACCOUNTS]

# Read although Zoho's document does not list it, and why (each is a decision, written down in the README):
ASSUMED = {
    ("GET", "/settings/taxes", "taxes.status"): "the issue and Books' screens: retired taxes stay listed; one "
    "marked inactive must never be chosen. Without the field, every tax counts as active.",
}


def endpoint_for(service: str, method: str, path: str) -> Endpoint | None:
    return next((e for e in ENDPOINTS if e.service == service and e.method == method and e.regex.match(path)), None)
