"""Finding the Books customer for a CRM Account (CONTRACT.md §5): by contact name or company name, equal after
normalization, never a vendor — and in the deal's currency.

Books' `search_text` matches a contact's name or notes only, never its company name (contacts.yml), so a
customer made from a CRM Contact — the person's name, the Account in `company_name` — is found only by a
company-name query. Two queries, then: contact names and company names containing the name's most distinctive
word, customers only."""

from __future__ import annotations

from audits.matching import customer_search_term, customers_matching
from integration.models import CustomerLink
from integration.zoho.books import BooksClient, books_id
from integration.zoho.errors import ZohoNotFound


def customer_search(books: BooksClient, org: str, name: str) -> list[dict]:
    """Every customer of the organization (any status) whose contact or company name equals `name` once
    normalized (`Initech LLC` is `Initech, LLC`). Vendors are contacts too and never returned."""
    term = customer_search_term(name)
    found: dict[str, dict] = {}
    for query in ("contact_name_contains", "company_name_contains"):
        for contact in books.contacts_search(org, contact_type="customer", **{query: term}):
            if contact.get("contact_type", "customer") == "customer":
                found.setdefault(str(contact["contact_id"]), contact)
    return customers_matching(list(found.values()), name)


def currency_mismatch(*, contact: dict, currency: str, account_name: str) -> str:
    """The reason a deal in `currency` cannot be invoiced to this Books customer, or ''. An invoice is in its
    customer's currency, so a customer in another one would turn the deal's figures into the wrong money."""
    theirs = str(contact.get("currency_code") or "")
    if not theirs or not currency or theirs == currency:
        return ""
    return (
        f"The deal is in {currency}, but the Books customer “{contact.get('contact_name', '')}” of Account "
        f"“{account_name}” bills in {theirs}: its invoice would be in {theirs}. Change the deal's currency to "
        f"{theirs}, or give the Account a Books customer in {currency} (set its Books_Customer_Id), then press "
        "Generate Invoice again."
    )


def customer_to_use(books: BooksClient, *, org: str, account: dict) -> dict | None:
    """The Books customer a push for this Account would use, as far as can be known without writing: our link,
    else the Account's Books_Customer_Id, else the one customer matching its name (None: a new one, or a person
    must choose among several). Read to check the deal's currency before anything is written."""
    link = CustomerLink.objects.filter(organization_id=org, crm_account_id=account["id"]).first()
    if link is not None:
        return {
            "contact_id": link.books_contact_id,
            "contact_name": link.contact_name,
            "currency_code": link.currency_code or link_currency(books, link),
        }
    if valid_books_id(account.get("books_customer_id")):
        try:
            contact = books.contact_get(org, account["books_customer_id"])
        except ZohoNotFound:
            contact = {}
        if contact.get("contact_type", "customer") == "customer" and contact:
            return contact
    matches = customer_search(books, org, account["name"])
    return matches[0] if len(matches) == 1 else None


def link_currency(books: BooksClient, link: CustomerLink) -> str:
    """The linked customer's currency, read once from Books for a link made before the bridge kept currencies."""
    contact = books.contact_get(link.organization_id, link.books_contact_id)
    link.currency_code = str(contact.get("currency_code") or "")[:3]
    CustomerLink.objects.filter(pk=link.pk).update(currency_code=link.currency_code)
    return link.currency_code


def valid_books_id(value) -> bool:
    try:
        books_id(value)
    except ValueError:
        return False
    return True
