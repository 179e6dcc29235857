"""Zoho Books v3 in the sandbox: what every Books endpoint shares (envelopes, pages, filters), organizations and
their settings (currencies, taxes, tax authorities), contacts and items. Invoices, payments and credit notes are
in sales.py. List rows carry only the fields Zoho's documents list for them (the detail carries the rest), from
the Books OpenAPI documents: organizations.yml, currency.yml, taxes.yml, contacts.yml, items.yml."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.editions import WITH_AUTHORITIES, contact_tax_fields
from sandbox.state import SandboxState
from sandbox.wire import Request, Response, Route, money, zone

PER_PAGE_MAX = 200
B = "/books/v3"

# The `security` block of each endpoint's document.
SETTINGS_READ, SETTINGS_CREATE, SETTINGS_UPDATE = (f"ZohoBooks.settings.{op}" for op in ("READ", "CREATE", "UPDATE"))
CONTACTS_READ, CONTACTS_CREATE, CONTACTS_UPDATE = (f"ZohoBooks.contacts.{op}" for op in ("READ", "CREATE", "UPDATE"))

CURRENCY_FIELDS = (
    "currency_id",
    "currency_code",
    "currency_name",
    "currency_symbol",
    "price_precision",
    "currency_format",
    "is_base_currency",
    "exchange_rate",
    "effective_date",
)
CONTACT_LIST_FIELDS = (  # contacts.yml, list-contacts-response
    "contact_id",
    "contact_name",
    "company_name",
    "contact_type",
    "status",
    "payment_terms",
    "payment_terms_label",
    "currency_id",
    "currency_code",
    "outstanding_receivable_amount",
    "unused_credits_receivable_amount",
    "first_name",
    "last_name",
    "email",
    "phone",
    "mobile",
    "created_time",
    "last_modified_time",
)
ITEM_LIST_FIELDS = (  # items.yml, list-items-response
    "item_id",
    "name",
    "status",
    "description",
    "rate",
    "unit",
    "tax_id",
    "tax_name",
    "tax_percentage",
    "tax_type",
    "sku",
    "product_type",
    "custom_fields",
)
TAX_LIST_FIELDS = (  # taxes.yml, list-taxes-response — and `status`, which it does not document (see FIDELITY)
    "tax_id",
    "tax_name",
    "tax_percentage",
    "tax_type",
    "tax_specific_type",
    "tax_authority_id",
    "tax_authority_name",
    "is_value_added",
    "is_default_tax",
    "is_editable",
    "status",
)


@dataclass
class Org:
    id: str
    name: str
    currency_code: str  # the base currency
    edition: str = "us"  # us, canada, uk, india, gcc, other: what tax fields the organization takes (editions.py)
    country: str = "U.S.A"  # the address as Books shows it: a country name, not a code
    state: str = ""  # the home state's name
    state_code: str = ""  # India: Books' code for the home state (intra- or inter-state supply)
    time_zone: str = "UTC"  # as Books writes it: an IANA name or an abbreviation such as PST
    payment_terms_days: int = 30
    contacts: dict[str, dict] = field(default_factory=dict)
    items: dict[str, dict] = field(default_factory=dict)
    taxes: dict[str, dict] = field(default_factory=dict)
    authorities: dict[str, dict] = field(default_factory=dict)
    currencies: dict[str, dict] = field(default_factory=dict)
    invoices: dict[str, dict] = field(default_factory=dict)
    payments: dict[str, dict] = field(default_factory=dict)
    creditnotes: dict[str, dict] = field(default_factory=dict)
    invoice_seq: int = 0
    creditnote_seq: int = 0
    payment_seq: int = 0

    @property
    def uses_tax_authorities(self) -> bool:
        return self.edition in WITH_AUTHORITIES

    @property
    def base_currency(self) -> dict:
        return next(c for c in self.currencies.values() if c["is_base_currency"])

    def currency_by_code(self, code: str) -> dict | None:
        return next((c for c in self.currencies.values() if c["currency_code"] == code), None)

    def today(self, sb: SandboxState) -> date:
        """The organization's own calendar day (its time zone), on the sandbox clock."""
        return sb.now().astimezone(zone(self.time_zone)).date()

    def public(self) -> dict:
        """`GET /organizations/{id}`'s `organization` (the fields of organizations.yml we model)."""
        base = self.base_currency
        return {
            "organization_id": self.id,
            "name": self.name,
            "time_zone": self.time_zone,
            "is_org_active": True,
            "currency_id": base["currency_id"],
            "currency_code": base["currency_code"],
            "currency_symbol": base["currency_symbol"],
            "currency_format": base["currency_format"],
            "price_precision": base["price_precision"],
            "address": {
                "street_address1": "",
                "street_address2": "",
                "city": "",
                "state": self.state,
                "country": self.country,
                "zip": "",
            },
        }


def new_org(sb: SandboxState, org_id: str, name: str, currency_code: str, *, others: dict | None = None, **kw) -> Org:
    """An organization with its base currency and, from `others` ({code: exchange rate}), more currencies."""
    org = sb.orgs[org_id] = Org(org_id, name, currency_code, **kw)
    new_currency(sb, org, currency_code, base=True)
    for code, rate in (others or {}).items():
        new_currency(sb, org, code, rate=rate)
    return org


SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "INR": "₹", "CAD": "$", "JPY": "¥", "AED": "AED"}
PRECISION = {"JPY": 0, "KWD": 3, "BHD": 3, "OMR": 3}


def new_currency(sb: SandboxState, org: Org, code: str, *, rate: Any = 1, base: bool = False) -> dict:
    currency = {
        "currency_id": sb.new_id(),
        "currency_code": code,
        "currency_name": f"{code}- {code}",
        "currency_symbol": SYMBOLS.get(code, code),
        "price_precision": PRECISION.get(code, 2),
        "currency_format": "1,234,567.89",
        "is_base_currency": base,
        "exchange_rate": Decimal("1") if base else Decimal(str(rate)),
        "effective_date": org.today(sb).isoformat(),
    }
    org.currencies[currency["currency_id"]] = currency
    return currency


def envelope(message: str = "success", **entities: Any) -> dict:
    return {"code": 0, "message": message, **entities}


def bad(message: str, code: int = 4, status: int = 400) -> Response:
    return Response(status, {"code": code, "message": message})


def not_found(what: str) -> Response:
    return Response(404, {"code": 1002, "message": f"{what} does not exist."})


def number(value: Any, name: str, *, positive: bool = False) -> Decimal:
    """A JSON number (or numeric string) as Decimal; ValueError reads as Books' code 4."""
    if isinstance(value, bool) or value is None or value == "":
        raise ValueError(f"Invalid value passed for {name}")
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"Invalid value passed for {name}") from None
    if not result.is_finite() or (positive and result <= 0) or result < 0:
        raise ValueError(f"Invalid value passed for {name}")
    return result


def paginate(req: Request, rows: list[dict], key: str, fields: tuple[str, ...] | None = None) -> Response:
    """One page of `rows` (each cut to the documented list `fields`, when given) with Books' page_context."""
    try:
        page = int(req.query.get("page") or 1)
        per_page = int(req.query.get("per_page") or PER_PAGE_MAX)
    except ValueError:
        return bad("Invalid value passed for page")
    if page < 1 or per_page < 1:
        return bad("Invalid value passed for page")
    per_page = min(per_page, PER_PAGE_MAX)
    start = (page - 1) * per_page
    rows_here = rows[start : start + per_page]
    if fields is not None:
        rows_here = [{k: r[k] for k in fields if k in r} for r in rows_here]
    return Response(
        200,
        envelope(
            **{key: rows_here},
            page_context={
                "page": page,
                "per_page": per_page,
                "has_more_page": len(rows) > start + per_page,
                "applied_filter": req.query.get("filter_by", ""),
                "sort_column": "created_time",
                "sort_order": "A",
            },
        ),
    )


def text_filters(rows: list[dict], req: Request, fields: tuple[str, ...]) -> list[dict]:
    """Books' `field`, `field_startswith`, `field_contains` filters (case-insensitive)."""
    for name in fields:
        for suffix, test in (
            ("", lambda a, b: a == b),
            ("_startswith", str.startswith),
            ("_contains", lambda a, b: b in a),
        ):
            wanted = req.query.get(name + suffix)
            if wanted is not None:
                rows = [r for r in rows if test(str(r.get(name) or "").lower(), wanted.lower())]
    return rows


def status_filter(rows: list[dict], req: Request, default: str = "Status.Active") -> list[dict]:
    wanted = req.query.get("filter_by") or default
    if wanted == "Status.All":
        return rows
    if wanted == "Status.Inactive":
        return [r for r in rows if r["status"] == "inactive"]
    return [r for r in rows if r["status"] == "active"]


def touch(sb: SandboxState, entity: dict) -> None:
    entity["last_modified_time"] = sb.stamp()
    remember(sb, entity)


def remember(sb: SandboxState, entity: dict) -> None:
    """Keep each version of an invoice or credit note, for the `stale` fault (a lagging read)."""
    ident = entity.get("creditnote_id") or entity.get("invoice_id")
    if ident and ("creditnote_id" in entity or "invoice_number" in entity):
        sb.versions[str(ident)].append(copy.deepcopy(entity))


def check_name(
    records: dict[str, dict], field: str, value: Any, *, code: int, noun: str, except_id: str = ""
) -> str | Response:
    """The stripped name, or Books' error when it is blank or already used (case-insensitive) by another record."""
    name = str(value or "").strip()
    if not name:
        return bad(f"Invalid value passed for {field}")
    if any(r[field].lower() == name.lower() and rid != except_id for rid, r in records.items()):
        return bad(f"The {noun} name already exists. Please specify a different name.", code=code)
    return name


# --- organizations and their settings ------------------------------------------------------------
def organizations_list(sb: SandboxState, req: Request, org: Org | None) -> Response:
    """Every organization of the account; the list carries no address (so no country)."""
    rows = [{k: v for k, v in o.public().items() if k != "address"} for o in sb.orgs.values()]
    return Response(200, envelope(organizations=rows))


def organization_get(sb: SandboxState, req: Request, org: Org, org_path_id: str) -> Response:
    return Response(200, envelope(organization=org.public()))


def currencies_list(sb: SandboxState, req: Request, org: Org) -> Response:
    rows = list(org.currencies.values())
    if req.query.get("filter_by") == "Currencies.ExcludeBaseCurrency":
        rows = [c for c in rows if not c["is_base_currency"]]
    return paginate(req, rows, "currencies", CURRENCY_FIELDS)


def taxes_list(sb: SandboxState, req: Request, org: Org) -> Response:
    return paginate(req, list(org.taxes.values()), "taxes", TAX_LIST_FIELDS)


def tax_authorities_list(sb: SandboxState, req: Request, org: Org) -> Response:
    if not org.uses_tax_authorities:
        return Response(404, {"code": 5, "message": "Invalid URL Passed"})
    return Response(200, envelope(tax_authorities=list(org.authorities.values())))


def tax_create(sb: SandboxState, req: Request, org: Org) -> Response:
    data = req.json()
    name = str(data.get("tax_name") or "").strip()
    if not name:
        return bad("Invalid value passed for tax_name")
    pct = number(data.get("tax_percentage"), "tax_percentage")
    authority = org.authorities.get(str(data.get("tax_authority_id") or ""))
    if data.get("tax_authority_id") and authority is None:
        return bad("Invalid value passed for tax_authority_id")
    return Response(201, envelope("The tax has been added.", tax=new_tax(sb, org, name, pct, authority)))


def new_authority(sb: SandboxState, org: Org, name: str, description: str = "") -> dict:
    authority = {"tax_authority_id": sb.new_id(), "tax_authority_name": name, "description": description}
    org.authorities[authority["tax_authority_id"]] = authority
    return authority


def new_tax(
    sb: SandboxState,
    org: Org,
    name: str,
    pct: Any,
    authority: dict | None,
    *,
    specific: str = "",
    status: str = "active",
) -> dict:
    """A tax; in the UK it carries `country_code`, in India its `tax_specific_type` (igst, cgst, sgst). An inactive
    tax stays listed (with `status: inactive`) and is refused on invoices."""
    tax = {
        "tax_id": sb.new_id(),
        "tax_name": name,
        "tax_percentage": Decimal(str(pct)),
        "tax_type": "tax",
        "tax_authority_id": authority["tax_authority_id"] if authority else "",
        "tax_authority_name": authority["tax_authority_name"] if authority else "",
        "is_value_added": org.edition not in WITH_AUTHORITIES,
        "is_default_tax": False,
        "is_editable": True,
        "status": status,
    }
    if org.edition == "uk":
        tax["country_code"] = "GB"
    if specific:
        tax["tax_specific_type"] = specific
    org.taxes[tax["tax_id"]] = tax
    return tax


def new_tax_group(sb: SandboxState, org: Org, name: str, components: list[dict]) -> dict:
    """A tax group (India: CGST + SGST for intra-state supply), listed among the taxes with `tax_type: tax_group`."""
    group = {
        "tax_id": sb.new_id(),
        "tax_name": name,
        "tax_percentage": sum((Decimal(str(c["tax_percentage"])) for c in components), Decimal("0")),
        "tax_type": "tax_group",
        "tax_authority_id": "",
        "tax_authority_name": "",
        "is_value_added": True,
        "is_default_tax": False,
        "is_editable": True,
        "status": "active",
        "taxes": [
            {"tax_id": c["tax_id"], "tax_name": c["tax_name"], "tax_percentage": c["tax_percentage"]}
            for c in components
        ],
    }
    org.taxes[group["tax_id"]] = group
    return group


# --- contacts ---------------------------------------------------------------------------------
def contacts_list(sb: SandboxState, req: Request, org: Org) -> Response:
    rows = status_filter(list(org.contacts.values()), req)
    if req.query.get("contact_type"):
        rows = [r for r in rows if r["contact_type"] == req.query["contact_type"]]
    rows = text_filters(rows, req, ("contact_name", "company_name", "email"))
    if req.query.get("search_text"):
        # contacts.yml: "Search contacts by contact name or notes" — never the company name or email.
        needle = req.query["search_text"].lower()
        rows = [r for r in rows if any(needle in str(r.get(f) or "").lower() for f in ("contact_name", "notes"))]
    rows = sorted(rows, key=lambda r: r["contact_name"].lower())
    return paginate(req, rows, "contacts", CONTACT_LIST_FIELDS)


def contact_create(sb: SandboxState, req: Request, org: Org) -> Response:
    data = req.json()
    name = check_name(org.contacts, "contact_name", data.get("contact_name"), code=3062, noun="contact")
    if isinstance(name, Response):
        return name
    kind = data.get("contact_type") or "customer"
    if kind not in ("customer", "vendor"):
        return bad("Invalid value passed for contact_type")
    currency = org.currencies.get(str(data["currency_id"])) if data.get("currency_id") else org.base_currency
    if currency is None:
        return bad("Invalid value passed for currency_id")
    tax_fields, error = contact_tax_fields(org, data)
    if error:
        return bad(error)
    return Response(
        201,
        envelope(
            "The contact has been added.",
            contact=new_contact(
                sb,
                org,
                name=name,
                company=str(data.get("company_name") or ""),
                kind=kind,
                email=str(data.get("email") or ""),
                currency=currency,
                billing_address=data.get("billing_address") or {},
                custom_fields=data.get("custom_fields") or [],
                notes=str(data.get("notes") or ""),
                **tax_fields,
            ),
        ),
    )


def new_contact(
    sb: SandboxState,
    org: Org,
    *,
    name: str,
    company: str = "",
    kind: str = "customer",
    email: str = "",
    currency: dict | None = None,
    contact_id: str = "",
    status: str = "active",
    **fields: Any,
) -> dict:
    currency = currency or org.base_currency
    contact = {
        "billing_address": {},
        "custom_fields": [],
        "notes": "",
        **fields,
        "contact_id": contact_id or sb.new_id(),
        "contact_name": name,
        "company_name": company,
        "contact_type": kind,
        "status": status,
        "email": email,
        "first_name": "",
        "last_name": "",
        "phone": "",
        "mobile": "",
        "payment_terms": org.payment_terms_days,
        "payment_terms_label": f"Net {org.payment_terms_days}",
        "currency_id": currency["currency_id"],
        "currency_code": currency["currency_code"],
        "outstanding_receivable_amount": Decimal("0.00"),
        "unused_credits_receivable_amount": Decimal("0.00"),
        "created_time": sb.stamp(),
        "last_modified_time": sb.stamp(),
    }
    org.contacts[contact["contact_id"]] = contact
    return contact


def contact_get(sb: SandboxState, req: Request, org: Org, contact_id: str) -> Response:
    contact = org.contacts.get(contact_id)
    return Response(200, envelope(contact=contact)) if contact else not_found("Contact")


def contact_update(sb: SandboxState, req: Request, org: Org, contact_id: str) -> Response:
    contact = org.contacts.get(contact_id)
    if not contact:
        return not_found("Contact")
    data = req.json()
    if "contact_name" in data:
        name = check_name(
            org.contacts, "contact_name", data["contact_name"], code=3062, noun="contact", except_id=contact_id
        )
        if isinstance(name, Response):
            return name
        contact["contact_name"] = name
    for key in ("company_name", "email", "billing_address", "custom_fields", "notes"):
        if key in data:
            contact[key] = data[key]
    touch(sb, contact)
    return Response(200, envelope("Contact information has been saved.", contact=contact))


def contact_status(sb: SandboxState, req: Request, org: Org, contact_id: str, status: str) -> Response:
    contact = org.contacts.get(contact_id)
    if not contact:
        return not_found("Contact")
    contact["status"] = status
    touch(sb, contact)
    return Response(200, envelope(f"The contact has been marked as {status}."))


# --- items ------------------------------------------------------------------------------------
def items_list(sb: SandboxState, req: Request, org: Org) -> Response:
    rows = status_filter(list(org.items.values()), req)  # ACTIVE only unless told otherwise
    rows = text_filters(rows, req, ("name", "description"))
    if req.query.get("search_text"):
        needle = req.query["search_text"].lower()
        rows = [r for r in rows if needle in r["name"].lower() or needle in str(r.get("description") or "").lower()]
    rows = sorted(rows, key=lambda r: (r["name"].lower(), r["item_id"]))
    return paginate(req, rows, "items", ITEM_LIST_FIELDS)


def item_create(sb: SandboxState, req: Request, org: Org) -> Response:
    data = req.json()
    name = check_name(org.items, "name", data.get("name"), code=1001, noun="item")
    if isinstance(name, Response):
        return name
    rate = number(data.get("rate"), "rate")
    tax = org.taxes.get(str(data.get("tax_id") or "")) if data.get("tax_id") else None
    if data.get("tax_id") and tax is None:
        return bad("Invalid value passed for tax_id")
    product_type = data.get("product_type") or "goods"
    if product_type not in ("goods", "service", "digital_service"):
        return bad("Invalid value passed for product_type")
    item = new_item(
        sb,
        org,
        name=name,
        rate=rate,
        sku=str(data.get("sku") or ""),
        description=str(data.get("description") or ""),
        product_type=product_type,
        tax=tax,
    )
    return Response(201, envelope("The item has been added.", item=public_item(item)))


def new_item(
    sb: SandboxState,
    org: Org,
    *,
    name: str,
    rate: Any,
    sku: str = "",
    description: str = "",
    product_type: str = "goods",
    status: str = "active",
    tax: dict | None = None,
) -> dict:
    item = {
        "item_id": sb.new_id(),
        "name": name,
        "sku": sku,
        "rate": money(rate),
        "unit": "",
        "description": description,
        "product_type": product_type,
        "status": status,
        "tax_id": tax["tax_id"] if tax else "",
        "tax_name": tax["tax_name"] if tax else "",
        "tax_percentage": tax["tax_percentage"] if tax else 0,
        "tax_type": tax["tax_type"] if tax else "",
        "custom_fields": [],
        "created_time": sb.stamp(),
        "last_modified_time": sb.stamp(),
    }
    org.items[item["item_id"]] = item
    return item


def public_item(item: dict) -> dict:
    """items.yml's item-response: no created or modified time (the sandbox keeps them for itself)."""
    return {k: v for k, v in item.items() if k not in ("created_time", "last_modified_time")}


def item_get(sb: SandboxState, req: Request, org: Org, item_id: str) -> Response:
    item = org.items.get(item_id)
    return Response(200, envelope(item=public_item(item))) if item else not_found("Item")


def item_update(sb: SandboxState, req: Request, org: Org, item_id: str) -> Response:
    item = org.items.get(item_id)
    if not item:
        return not_found("Item")
    data = req.json()
    if "name" in data:
        name = check_name(org.items, "name", data["name"], code=1001, noun="item", except_id=item_id)
        if isinstance(name, Response):
            return name
        item["name"] = name
    if "rate" in data:
        item["rate"] = money(number(data["rate"], "rate"))
    for key in ("sku", "description"):
        if key in data:
            item[key] = str(data[key] or "")
    touch(sb, item)
    return Response(200, envelope("The item details have been updated.", item=public_item(item)))


def item_status(sb: SandboxState, req: Request, org: Org, item_id: str, status: str) -> Response:
    item = org.items.get(item_id)
    if not item:
        return not_found("Item")
    item["status"] = status
    touch(sb, item)
    return Response(200, envelope(f"The item has been marked as {status}."))


def bind(sb: SandboxState, fn, **fixed):
    """A route handler taking (req, org, **path params), with the sandbox and any fixed arguments bound."""
    return lambda req, org, **kw: fn(sb, req, org, **kw, **fixed)


def routes(sb: SandboxState) -> list[Route]:
    return [
        Route("GET", B + "/organizations", bind(sb, organizations_list), SETTINGS_READ),
        Route("GET", B + r"/organizations/(?P<org_path_id>\d+)", bind(sb, organization_get), SETTINGS_READ),
        Route("GET", B + "/settings/currencies", bind(sb, currencies_list), SETTINGS_READ),
        Route("GET", B + "/settings/taxes", bind(sb, taxes_list), SETTINGS_READ),
        Route("POST", B + "/settings/taxes", bind(sb, tax_create), SETTINGS_CREATE),
        Route("GET", B + "/settings/taxauthorities", bind(sb, tax_authorities_list), SETTINGS_READ),
        Route("GET", B + "/contacts", bind(sb, contacts_list), CONTACTS_READ),
        Route("POST", B + "/contacts", bind(sb, contact_create), CONTACTS_CREATE),
        Route("GET", B + r"/contacts/(?P<contact_id>\d+)", bind(sb, contact_get), CONTACTS_READ),
        Route("PUT", B + r"/contacts/(?P<contact_id>\d+)", bind(sb, contact_update), CONTACTS_UPDATE),
        Route(
            "POST",
            B + r"/contacts/(?P<contact_id>\d+)/active",
            bind(sb, contact_status, status="active"),
            CONTACTS_CREATE,
        ),
        Route(
            "POST",
            B + r"/contacts/(?P<contact_id>\d+)/inactive",
            bind(sb, contact_status, status="inactive"),
            CONTACTS_CREATE,
        ),
        Route("GET", B + "/items", bind(sb, items_list), SETTINGS_READ),
        Route("POST", B + "/items", bind(sb, item_create), SETTINGS_CREATE),
        Route("GET", B + r"/items/(?P<item_id>\d+)", bind(sb, item_get), SETTINGS_READ),
        Route("PUT", B + r"/items/(?P<item_id>\d+)", bind(sb, item_update), SETTINGS_UPDATE),
        Route("POST", B + r"/items/(?P<item_id>\d+)/active", bind(sb, item_status, status="active"), SETTINGS_CREATE),
        Route(
            "POST", B + r"/items/(?P<item_id>\d+)/inactive", bind(sb, item_status, status="inactive"), SETTINGS_CREATE
        ),
    ]
