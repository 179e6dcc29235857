"""The customer step of a push attempt (CONTRACT.md §5): the Books customer for the deal's CRM Account — our
link, else the Account's Books_Customer_Id, else one found by contact or company name (never a vendor), else
one created under a lock after a fresh search — in the deal's currency, with the Account stamped.

A part of `PushAttempt` (`steps.py`): it uses the attempt's clients, plan, timeline and lease."""

from __future__ import annotations

import contextlib

from audits.matching import PushNeedsDecision, customer_choice, customer_search_term, describe_customers
from integration.editions import GCC
from integration.models import BooksCreate, CustomerLink, InvoicePush
from integration.normalize import normalize_name
from integration.services.customers import currency_mismatch, customer_search, link_currency, valid_books_id
from integration.services.fence import create_once
from integration.services.planning import PushBlocked
from integration.zoho.errors import ZohoNotFound, ZohoRejected


class CustomerStep:
    def step_customer(self) -> None:
        self.set_step(InvoicePush.Step.CUSTOMER)
        account = self.push.plan["account"]
        link = CustomerLink.objects.filter(organization_id=self.org, crm_account_id=account["id"]).first()
        merges = self.merges("customer")
        if link is not None and link.books_contact_id in merges:
            link.delete()  # a customer finance merged away: found again (by id or name), which leads to the one kept
            link = None
        if link is not None:
            contact = {"contact_id": link.books_contact_id, "contact_name": link.contact_name}
            contact["currency_code"] = link.currency_code or self._customer_currency(link)
            self._customer_currency_check(contact)
        else:
            contact, created = self._customer_find_or_create(account)
            CustomerLink.objects.get_or_create(
                organization_id=self.org,
                crm_account_id=account["id"],
                defaults={
                    "books_contact_id": contact["contact_id"],
                    "contact_name": contact["contact_name"],
                    "currency_code": str(contact.get("currency_code") or "")[:3],
                    "created_in_books": created,
                },
            )
        contact_id = contact["contact_id"]
        self.push.plan["customer_id"] = contact_id
        self.save_plan()
        if account.get("books_customer_id") != contact_id:
            self.check_lease()
            with self.zoho_call(f"Stamp Books_Customer_Id on CRM Account “{account['name']}”"):
                self.crm.record_update("Accounts", account["id"], {"Books_Customer_Id": contact_id})
            self.push.plan["account"]["books_customer_id"] = contact_id
            self.save_plan()

    def _customer_currency(self, link: CustomerLink) -> str:
        with self.zoho_call(f"Read Books customer “{link.contact_name}” for its currency"):
            return link_currency(self.books, link)

    def _customer_currency_check(self, contact: dict) -> None:
        """Block (before anything is written) a deal whose currency is not its customer's."""
        problem = currency_mismatch(
            contact=contact, currency=self._currency()["code"], account_name=self.push.plan["account"]["name"]
        )
        if problem:
            raise PushBlocked([problem], deal_name=self.push.deal_name)

    def _customer_find_or_create(self, account: dict) -> tuple[dict, bool]:
        if valid_books_id(account.get("books_customer_id")):
            merges = self.merges("customer")
            wanted = merges.get(account["books_customer_id"], account["books_customer_id"])
            with contextlib.suppress(ZohoNotFound), self.zoho_call("Check the Account's Books_Customer_Id in Books"):
                contact = self.books.contact_get(self.org, wanted)
                if contact.get("contact_type", "customer") == "customer":
                    return self._customer_adopt(contact), False

        def look(earlier: bool) -> dict | None:
            return self._customer_search(account["name"])  # inside the fence: nobody creates it meanwhile

        def make() -> dict:
            currency = self._currency()
            payload = {
                "contact_name": account["name"],
                "company_name": account["name"],
                "contact_type": "customer",
                "billing_address": {
                    "state": account.get("billing_state", ""),
                    "country": account.get("billing_country", ""),
                },
                **({"currency_id": currency["id"]} if currency.get("id") else {}),
                **self._customer_tax_fields(),
            }
            self.check_lease()
            try:
                with self.zoho_call("Create the Books customer", {"contact_name": account["name"]}):
                    return self.books.contact_create(self.org, payload)
            except ZohoRejected as exc:
                if exc.code != 3062:
                    raise
                # Books wants contact names unique, vendors included: a vendor (never adopted) holds the name.
                raise ZohoRejected(
                    f"Books already has a contact named “{account['name']}” that is not a customer (a vendor), and "
                    "contact names must be unique in Books. Rename the vendor in Books, or set the Account's "
                    "Books_Customer_Id to the customer to use, then replay.",
                    code=exc.code,
                    status=exc.status,
                ) from None

        contact, created = create_once(
            BooksCreate.Kind.CUSTOMER, self.org, normalize_name(account["name"]), label="customer", look=look, make=make
        )
        return (contact, True) if created else (self._customer_adopt(contact), False)

    def _customer_tax_fields(self) -> dict:
        """A new customer carries the invoice's treatment (and its place: in India `place_of_contact`, in the GCC
        `country_code`), so Books' own screens agree with the invoice."""
        tax = self.push.plan.get("tax") or {}
        fields = {}
        if tax.get("treatment_field") and tax.get("treatment"):
            fields[tax["treatment_field"]] = tax["treatment"]
        if tax.get("place_of_supply"):
            fields["country_code" if tax.get("edition") == GCC else "place_of_contact"] = tax["place_of_supply"]
        return fields

    def _customer_search(self, name: str) -> dict | None:
        term = customer_search_term(name)
        with self.zoho_call(f"Search Books customers by contact and company name for “{term}”"):
            matches = customer_search(self.books, self.org, name)
        merges = self.merges("customer")
        if any(m["contact_id"] in merges for m in matches):
            # never adopt or reactivate a customer finance merged away: the one it kept stands for it
            kept = {merges[m["contact_id"]] for m in matches if m["contact_id"] in merges}
            matches = [m for m in matches if m["contact_id"] not in merges]
            for contact_id in kept - {m["contact_id"] for m in matches}:
                with self.zoho_call("Read the customer finance kept when merging"):
                    matches.append(self.books.contact_get(self.org, contact_id))
        if len(matches) > 1:
            raise PushNeedsDecision(
                f"{len(matches)} Books customers match the Account “{name}”: {describe_customers(matches)}. "
                "Link the Account to one of them (or keep one on the Duplicates screen), then replay.",
                decisions=[customer_choice(name, matches)],
            )
        return matches[0] if matches else None

    def _customer_adopt(self, contact: dict) -> dict:
        self._customer_currency_check(contact)  # before reactivating it: nothing written for a blocked deal
        if contact.get("status") == "inactive":
            self.check_lease()
            with self.zoho_call(f"Reactivate Books customer “{contact['contact_name']}”"):
                self.books.contact_mark_active(self.org, contact["contact_id"])
        return contact
