"""Links into Zoho's own screens, built from the configured data centre.

Zoho serves each data centre under its own domain: `accounts.zoho.eu` signs in for `crm.zoho.eu` and
`books.zoho.eu`, `accounts.zohocloud.ca` for `crm.zohocloud.ca` and `books.zohocloud.ca`. A CRM record opens at
`/crm/tab/{Module}/{id}` (CRM picks the user's organization) and a Books record at `/app/{organization_id}#/...`.
ZOHO_CRM_WEB_URL and ZOHO_BOOKS_WEB_URL override the derived hosts; for an accounts server that is not Zoho's
(the sandbox) both default to that server, which serves the same paths."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from django.conf import settings

BOOKS_PATHS = {"invoice": "invoices", "customer": "contacts", "item": "inventory/items", "payment": "paymentsreceived"}
CRM_MODULES = {"deal": "Potentials", "account": "Accounts"}


def web_hosts(accounts_url: str) -> tuple[str, str]:
    """(CRM web URL, Books web URL) for the data centre whose accounts server is `accounts_url`."""
    parts = urlsplit(accounts_url)
    host = parts.hostname or ""
    if host.startswith("accounts.") and (".zoho." in f".{host[9:]}" or host[9:].startswith("zohocloud.")):
        domain = host[len("accounts.") :]
        return f"https://crm.{domain}", f"https://books.{domain}"
    return accounts_url.rstrip("/"), accounts_url.rstrip("/")


def crm_url(kind: str, record_id: str) -> str:
    """The CRM page of a deal or an account; "" without an id."""
    if not record_id:
        return ""
    return f"{settings.ZOHO_CRM_WEB_URL}/crm/tab/{CRM_MODULES[kind]}/{quote(str(record_id))}"


def books_app_url(organization_id: str) -> str:
    """Books' own screens for one organization; "" without an id."""
    return f"{settings.ZOHO_BOOKS_WEB_URL}/app/{quote(str(organization_id))}" if organization_id else ""


def books_url(organization_id: str, kind: str, record_id: str) -> str:
    """The Books page of an invoice, customer, item or payment in its organization; "" without ids."""
    if not (organization_id and record_id):
        return ""
    return f"{books_app_url(organization_id)}#/{BOOKS_PATHS[kind]}/{quote(str(record_id))}"
