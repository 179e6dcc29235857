from __future__ import annotations

from decimal import Decimal

import pytest

from integration.zoho.books import BooksClient
from integration.zoho.errors import ZohoNotFound, ZohoRateLimited, ZohoRejected, ZohoRetryable

pytestmark = pytest.mark.django_db
US_ORG, UK_ORG = "60001001", "60002002"


@pytest.fixture
def books(sandbox):
    return BooksClient()


def tax(books, org, name):
    return next(t for t in books.taxes(org) if t["tax_name"] == name)


def first_item(books, org=US_ORG):
    return next(i for i in books.items_all(org) if i["status"] == "active")


def test_items_all_reads_every_page_active_and_inactive(books, sandbox):
    items = books.items_all(US_ORG)
    assert len(items) == len(sandbox.orgs[US_ORG].items) == 247
    assert {i["status"] for i in items} == {"active", "inactive"}
    assert len(sandbox.calls_to("GET", r"/items$")) == 2  # 200 + 47


def test_contact_search_sees_inactive_contacts(books, sandbox):
    contact = books.contact_create(US_ORG, {"contact_name": "Dormant Co", "contact_type": "customer"})
    sandbox.orgs[US_ORG].contacts[contact["contact_id"]]["status"] = "inactive"
    assert [c["contact_id"] for c in books.contacts_search(US_ORG, contact_name="Dormant Co")] == [
        contact["contact_id"]
    ]


def test_an_invoice_round_trips_with_money_as_decimal(books):
    customer = books.contact_create(US_ORG, {"contact_name": "Globex Corporation", "contact_type": "customer"})
    ca = tax(books, US_ORG, "CA Sales Tax")
    invoice = books.invoice_create(
        US_ORG,
        {
            "customer_id": customer["contact_id"],
            "reference_number": "5725767000000400002",
            "date": "2026-11-25",
            "tax_authority_id": ca["tax_authority_id"],
            "line_items": [
                {
                    "item_id": first_item(books)["item_id"],
                    "quantity": 3,
                    "rate": Decimal("19.99"),
                    "tax_id": ca["tax_id"],
                }
            ],
        },
    )
    assert invoice["invoice_number"] == "INV-00001"
    assert invoice["total"] == Decimal("64.32") and isinstance(invoice["total"], Decimal)  # 59.97 + 4.35 tax
    assert invoice["invoice_url"].startswith("http://zoho-sandbox.test/books/portal/")
    assert books.invoice_get(US_ORG, invoice["invoice_id"])["reference_number"] == "5725767000000400002"
    assert [i["invoice_id"] for i in books.invoices_by_reference(US_ORG, "5725767000000400002")] == [
        invoice["invoice_id"]
    ]
    assert books.invoices_by_reference(US_ORG, "57257670000004000") == []


def test_a_validation_error_carries_books_code_and_message(books):
    customer = books.contact_create(US_ORG, {"contact_name": "Hooli Inc"})
    blank = tax(books, US_ORG, "Sales Tax 7.25%")  # what the native connector leaves: no authority
    with pytest.raises(ZohoRejected) as excinfo:
        books.invoice_create(
            US_ORG,
            {
                "customer_id": customer["contact_id"],
                "line_items": [{"item_id": first_item(books)["item_id"], "tax_id": blank["tax_id"]}],
            },
        )
    error = excinfo.value
    assert not error.retryable and error.code == 4 and error.status == 400
    assert 'the tax "Sales Tax 7.25%" is not associated with a tax authority' in error.message


def test_a_missing_record_is_not_found(books):
    with pytest.raises(ZohoNotFound) as excinfo:
        books.invoice_get(US_ORG, "999")
    assert excinfo.value.code == 1002 and not excinfo.value.retryable


def test_rate_limits_are_retryable_with_or_without_retry_after(books, sandbox):
    sandbox.books_rate_limit_per_minute = 3
    for _ in range(3):
        books.organization_get(US_ORG)
    with pytest.raises(ZohoRateLimited) as excinfo:
        books.organization_get(US_ORG)
    assert excinfo.value.retryable and excinfo.value.code == 44 and excinfo.value.retry_after is None
    sandbox.books_send_retry_after = True
    with pytest.raises(ZohoRateLimited) as excinfo:
        books.organization_get(US_ORG)
    assert 0 < excinfo.value.retry_after <= 60
    books.organization_get(UK_ORG)  # the limit is per organization
    sandbox.clock.advance(61)
    books.organization_get(US_ORG)


def test_server_errors_and_code_1000_are_retryable(books, sandbox):
    sandbox.add_fault("error", path="/settings/taxes")
    with pytest.raises(ZohoRetryable) as excinfo:
        books.taxes(US_ORG)
    assert excinfo.value.code == 1000 and excinfo.value.status == 500
    assert books.taxes(US_ORG)  # the fault was for one call only


def test_timeouts_are_retryable_and_name_no_secret(books, sandbox):
    sandbox.add_fault("timeout", path="/invoices")
    with pytest.raises(ZohoRetryable, match="did not answer in time") as excinfo:
        books.invoices_by_reference(US_ORG, "x")
    assert "oauthtoken" not in str(excinfo.value).lower()


def test_a_lost_response_after_a_create_is_retryable_and_the_invoice_exists(books, sandbox):
    customer = books.contact_create(US_ORG, {"contact_name": "Umbrella Corp"})
    sandbox.add_fault("drop", method="POST", path="/invoices")
    with pytest.raises(ZohoRetryable, match="may or may not have acted"):
        books.invoice_create(
            US_ORG,
            {
                "customer_id": customer["contact_id"],
                "reference_number": "D-LOST",
                "line_items": [{"item_id": first_item(books)["item_id"]}],
            },
        )
    assert len(books.invoices_by_reference(US_ORG, "D-LOST")) == 1


def test_reactivating_an_inactive_item(books, sandbox):
    sprocket = next(i for i in books.items_all(US_ORG) if i["name"] == "Sprocket")
    assert sprocket["status"] == "inactive"
    books.item_mark_active(US_ORG, sprocket["item_id"])
    assert sandbox.orgs[US_ORG].items[sprocket["item_id"]]["status"] == "active"


def test_unknown_organization_is_refused(books):
    with pytest.raises(ZohoRejected):
        books.taxes("123")


def test_the_client_works_over_real_http(http_sandbox):
    books = BooksClient()
    assert len(books.items_all(US_ORG)) == 247
    customer = books.contact_create(US_ORG, {"contact_name": "Over The Wire Inc"})
    http_sandbox.add_fault("drop", method="POST", path="/invoices")
    with pytest.raises(ZohoRetryable, match="may or may not have acted"):
        books.invoice_create(
            US_ORG,
            {
                "customer_id": customer["contact_id"],
                "reference_number": "D-HTTP",
                "line_items": [{"name": "Consulting", "rate": 100}],
            },
        )
    assert len(books.invoices_by_reference(US_ORG, "D-HTTP")) == 1
