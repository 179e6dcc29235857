"""The steps of a push attempt — plan, customer (in `customer_step.py`), items, invoice, send, stamp — each Zoho
call written to the timeline before it is made and completed after, so a crash always leaves a row that says
where it stopped."""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal

from django.utils import timezone

from audits.matching import (
    PushNeedsDecision,
    describe_items,
    item_choice,
    items_exact,
    items_near,
)
from audits.models import DuplicateFlag
from integration.models import BooksCreate, InvoicePush, ItemLink, LegalEntity, PushEvent
from integration.normalize import normalize_sku
from integration.redaction import redact_text
from integration.services.catalog import item_index, item_index_add, item_index_cached
from integration.services.currencies import base_currency
from integration.services.customer_step import CustomerStep
from integration.services.entities import organization_today
from integration.services.fence import create_once, invoice_record
from integration.services.planning import deal_plan
from integration.services.timeline import push_event
from integration.services.webhooks import parked_release
from integration.zoho.books import BooksClient
from integration.zoho.crm import CrmClient
from integration.zoho.errors import (
    ZohoAuthError,
    ZohoError,
    ZohoRateLimited,
    ZohoRejected,
)

logger = logging.getLogger(__name__)

State = InvoicePush.State
Step = InvoicePush.Step


def books_figures(invoice: dict) -> dict:
    """What Books says of an invoice it created, kept on the plan: once an invoice exists, screens show these."""
    return {
        key: str(invoice.get(key) if invoice.get(key) is not None else "")
        for key in ("date", "status", "currency_code", "sub_total", "tax_total", "total")
    }


class LeaseLost(Exception):
    """Someone else (the sweeper, a reviewer) took the push away from this run."""


class NeedsReview(Exception):
    """The worker planned the push and found it needs review first."""


class PushAttempt(CustomerStep):
    """One attempt at one push, holding its lease."""

    def __init__(self, push: InvoicePush, lease: uuid.UUID):
        self.push = push
        self.lease = lease
        self.books = BooksClient()
        self.crm = CrmClient()
        self._merges: dict[str, dict[str, str]] = {}

    def merges(self, kind: str) -> dict[str, str]:
        """The Books ids finance merged away in this organization → the one kept (read once per attempt)."""
        if kind not in self._merges:
            self._merges[kind] = DuplicateFlag.merges(self.org, kind)
        return self._merges[kind]

    # -- bookkeeping --
    def _update(self, **fields) -> None:
        updated = InvoicePush.objects.filter(pk=self.push.pk, lease=self.lease, state=State.RUNNING).update(
            updated_at=timezone.now(), **fields
        )
        if not updated:
            raise LeaseLost()
        expressions = [key for key, value in fields.items() if hasattr(value, "resolve_expression")]
        for key, value in fields.items():
            if key not in expressions:
                setattr(self.push, key, value)
        if expressions:
            self.push.refresh_from_db(fields=expressions)

    def check_lease(self) -> None:
        """Before any Books/CRM write: make sure this run still owns the push."""
        self._update()

    def save_plan(self) -> None:
        self._update(plan=self.push.plan)

    def set_step(self, step: str) -> None:
        if self.push.step != step:
            self._update(step=step)

    def finish(self, state: str, action: str, **fields) -> None:
        if "error" in fields:
            fields["error"] = redact_text(fields["error"])  # stored and shown: never a secret
        try:
            self._update(state=state, lease=None, running_since=None, **fields)
        except LeaseLost:
            return
        message = fields.get("error") or ""
        outcome = (
            PushEvent.Outcome.OK
            if state == State.PUSHED
            else (PushEvent.Outcome.ERROR if state in (State.FAILED, State.BLOCKED) else PushEvent.Outcome.INFO)
        )
        push_event(
            self.push,
            action
            if action.lower() == self.push.get_state_display().lower()
            else f"{action}: {self.push.get_state_display().lower()}",
            step=self.push.step,
            outcome=outcome,
            message=message,
        )

    @contextlib.contextmanager
    def zoho_call(self, action: str, detail: dict | None = None) -> Iterator[PushEvent]:
        """Record a Zoho call on the timeline before it happens, then its outcome and duration."""
        event = push_event(self.push, action, step=self.push.step, outcome=PushEvent.Outcome.STARTED, detail=detail)
        started = time.monotonic()
        try:
            yield event
        except Exception as exc:
            event.outcome, event.message = PushEvent.Outcome.ERROR, redact_text(str(exc))
            raise
        else:
            event.outcome = PushEvent.Outcome.OK
        finally:
            event.duration_ms = int((time.monotonic() - started) * 1000)
            event.save(update_fields=["outcome", "message", "duration_ms", "detail"])

    @property
    def org(self) -> str:
        return self.push.organization_id

    # -- steps --
    def run_steps(self) -> None:
        if self.push.plan.pop("decisions", None) is not None:
            self.save_plan()  # this run will find out afresh what still needs a person
        if not self.push.plan:
            self.step_plan()
        if not self.push.plan.get("customer_id"):
            self.step_customer()
        self.step_items()
        if not self.push.invoice_id:
            self.step_invoice()
        self.step_send()
        self.step_stamp()
        self.finish(State.PUSHED, "Invoice created and deal stamped", step=Step.DONE, error="")
        parked_release(organization_id=self.org, invoice_id=self.push.invoice_id)

    def step_plan(self) -> None:
        self.set_step(Step.PLAN)
        with self.zoho_call("Read the deal, account and products from CRM"):
            plan = deal_plan(deal_id=self.push.deal_id, crm=self.crm, books=self.books)
        entity = LegalEntity.objects.get(code=plan["entity"])
        self._update(
            plan=plan, legal_entity=entity, organization_id=entity.books_org_id, deal_name=plan["deal"]["name"]
        )
        if entity.require_review:
            raise NeedsReview()

    def _currency(self) -> dict:
        """The plan's currency; a plan made before currencies were planned is in the organization's base currency."""
        return self.push.plan.get("currency") or base_currency(self.push.legal_entity)

    def step_items(self) -> None:
        self.set_step(Step.ITEMS)
        plan = self.push.plan
        item_ids: dict[str, str] = plan.setdefault("item_ids", {})
        lines = list({ln["product_id"]: ln for ln in plan["lines"] if ln["product_id"] not in item_ids}.values())
        if not lines:
            return
        merges = self.merges("item")
        for link in ItemLink.objects.filter(
            organization_id=self.org, crm_product_id__in=[ln["product_id"] for ln in lines]
        ):
            item_ids[link.crm_product_id] = merges.get(link.books_item_id, link.books_item_id)
        problems, decisions = [], []
        for line in (ln for ln in lines if ln["product_id"] not in item_ids):
            try:
                item_ids[line["product_id"]] = self._item_resolve(line)
            except PushNeedsDecision as decision:
                problems.append(str(decision))
                decisions += decision.decisions
        self.save_plan()
        if problems:
            raise PushNeedsDecision(" ".join(problems), decisions=decisions)

    def _item_index(self, *, fresh: bool = False) -> list[dict]:
        cached = None if fresh else item_index_cached(self.org)
        if cached is not None:
            return cached  # no Books call, so nothing for the timeline
        asked = time.time()
        with self.zoho_call("List every Books item (all pages, active and inactive)" + (" afresh" if fresh else "")):
            return item_index(self.books, self.org, since=asked if fresh else None)

    def _item_resolve(self, line: dict) -> str:
        exact = self._item_exact(self._item_index(), line)
        if exact:
            return exact

        fresh: list[dict] = []

        def look(earlier: bool) -> str | None:
            fresh[:] = self._item_index(fresh=True)  # decide to create only on a fresh list
            return self._item_exact(fresh, line)

        def make() -> dict:
            near = items_near(fresh, sku=line["sku"], name=line["name"])
            if near and line["product_id"] not in self.push.plan.get("confirmed_new", []):
                raise PushNeedsDecision(
                    f"Product “{line['name']}” (SKU {line['sku']}) has no exact match in Books organization "
                    f"{self.org}, but looks like {describe_items(near)}. Link it to one of these or confirm it "
                    "as a new item, then replay.",
                    decisions=[item_choice(line, near, allow_new=True)],
                )
            return self._item_create(line)

        found, created = create_once(
            BooksCreate.Kind.ITEM, self.org, normalize_sku(line["sku"]), label="item", look=look, make=make
        )
        if not created:
            return found
        self._item_link(line, found, created_in_books=True)
        return found["item_id"]

    def _item_exact(self, index: list[dict], line: dict) -> str | None:
        exact = items_exact(index, line["sku"])
        # An item finance merged away is never adopted, linked or reactivated: the one it kept stands for it.
        merges = self.merges("item") if exact else {}
        by_id = {i["item_id"]: i for i in index}
        kept = [by_id.get(merges[i["item_id"]]) if i["item_id"] in merges else i for i in exact]
        exact = list({i["item_id"]: i for i in kept if i is not None}.values())
        if len(exact) > 1:
            raise PushNeedsDecision(
                f"SKU {line['sku']} of “{line['name']}” matches {len(exact)} Books items: {describe_items(exact)}. "
                "Link the product to one of them (or keep one on the Duplicates screen), then replay.",
                decisions=[item_choice(line, exact, allow_new=False)],
            )
        if not exact:
            return None
        item = exact[0]
        if item.get("status") == "inactive":
            self.check_lease()
            with self.zoho_call(f"Reactivate Books item “{item['name']}” (SKU {item.get('sku')})"):
                self.books.item_mark_active(self.org, item["item_id"])
            item_index_add(self.org, {**item, "status": "active"})
        self._item_link(line, item, created_in_books=False)
        return item["item_id"]

    def _item_link(self, line: dict, item: dict, *, created_in_books: bool) -> None:
        """Record (organization, product) → item, and note the item on the CRM Product (informational:
        the link table is the truth; a failure here is recorded, never fatal)."""
        _, new = ItemLink.objects.get_or_create(
            organization_id=self.org,
            crm_product_id=line["product_id"],
            defaults={
                "books_item_id": item["item_id"],
                "sku": item.get("sku") or line["sku"],
                "sku_normalized": normalize_sku(line["sku"]),
                "created_in_books": created_in_books,
            },
        )
        if not new:
            return
        self.check_lease()
        with contextlib.suppress(ZohoError), self.zoho_call(f"Note Books_Item_Id on CRM Product “{line['name']}”"):
            self.crm.record_update("Products", line["product_id"], {"Books_Item_Id": item["item_id"]})

    def _item_create(self, line: dict) -> dict:
        payload = {
            "name": line["name"],
            "rate": Decimal(line["list_price"]),
            "sku": line["sku"],
            "description": line.get("description", ""),
            "product_type": "goods",
        }
        self.check_lease()
        try:
            with self.zoho_call(f"Create Books item “{line['name']}” (SKU {line['sku']})"):
                item = self.books.item_create(self.org, payload)
        except ZohoRejected as exc:
            if exc.code != 1001:  # 1001: an item of that *name* exists (with another SKU)
                raise
            payload["name"] = f"{line['name']} ({line['sku']})"
            with self.zoho_call(f"Create Books item “{payload['name']}” (the plain name is taken)"):
                item = self.books.item_create(self.org, payload)
        item_index_add(self.org, item)
        return item

    def step_invoice(self) -> None:
        self.set_step(Step.INVOICE)
        if self._earlier_create_recorded():
            return
        plan = self.push.plan

        def look(earlier: bool) -> dict | None:
            if not (earlier or plan.get("invoice_attempted")):
                return None
            # An earlier attempt may have created it and lost the answer: look before creating again.
            with self.zoho_call(f"Look up Books invoices with reference number {self.push.deal_id}"):
                found = [
                    i
                    for i in self.books.invoices_by_reference(self.org, self.push.deal_id)
                    if i.get("status") != "void"
                ]
            if len(found) > 1:
                numbers = ", ".join(i.get("invoice_number") or i["invoice_id"] for i in found)
                raise PushNeedsDecision(
                    f"Books already has {len(found)} invoices with reference number {self.push.deal_id} "
                    f"(this deal): {numbers}. Void the extra ones in Books, then replay: the push adopts the one left."
                )
            if not found:
                return None
            with self.zoho_call(f"Read invoice {found[0]['invoice_number']} found by reference number"):
                return self.books.invoice_get(self.org, found[0]["invoice_id"])

        def make() -> dict:
            payload = self._invoice_payload()
            email = self._delivery() == LegalEntity.Delivery.EMAIL
            self.books.reserve_slot(self.org)  # wait for the rate limit *before* recording the attempt
            plan["invoice_attempted"] = True  # recorded before the call: a lost answer is looked up next time
            self.save_plan()
            what = "Create the Books invoice" + (" and have Books email it to the customer" if email else "")
            try:
                with self.zoho_call(what, {"line_items": len(payload["line_items"]), "date": payload.get("date", "")}):
                    invoice = self.books.invoice_create(self.org, payload, send=email)
            except (ZohoRateLimited, ZohoRejected, ZohoAuthError):
                # A definite refusal: Books did not act, so the next attempt need not look it up first.
                plan["invoice_attempted"] = False
                self.save_plan()
                raise
            # The invoice exists in Books: record it even if this run lost its lease while waiting.
            invoice_record(push_id=self.push.pk, invoice=invoice)
            return invoice

        invoice, _ = create_once(
            BooksCreate.Kind.INVOICE,
            self.org,
            self.push.deal_id,
            label="invoice",
            look=look,
            make=make,
            sole_holder=True,
        )
        plan["invoice"] = books_figures(invoice)
        self._update(
            invoice_id=invoice["invoice_id"],
            invoice_number=invoice.get("invoice_number") or "",
            invoice_url=invoice.get("invoice_url") or "",
            plan=plan,
        )

    def _delivery(self) -> str:
        entity = self.push.legal_entity
        return entity.invoice_delivery if entity else LegalEntity.Delivery.DRAFT

    def step_send(self) -> None:
        """For an entity whose invoices are marked sent: mark this one sent unless Books shows it is already past
        draft (an earlier attempt may have done it and lost the answer: read before marking again)."""
        if self._delivery() != LegalEntity.Delivery.SENT or self.push.plan.get("sent"):
            return
        self.set_step(Step.SEND)
        status = (self.push.plan.get("invoice") or {}).get("status", "draft")
        if self.push.plan.get("send_attempted"):
            with self.zoho_call(f"Read invoice {self.push.invoice_number}: was it marked sent?"):
                status = self.books.invoice_get(self.org, self.push.invoice_id).get("status", "draft")
        if status == "draft":
            self.push.plan["send_attempted"] = True
            self.save_plan()
            self.check_lease()
            with self.zoho_call(f"Mark invoice {self.push.invoice_number} as sent (no email)"):
                self.books.invoice_mark_sent(self.org, self.push.invoice_id)
        self.push.plan["sent"] = True
        self.save_plan()

    def _earlier_create_recorded(self) -> bool:
        """An earlier attempt's create may have answered after its run lost the push (the sweeper re-queued it
        while its worker waited on Books) and recorded the invoice on the row: carry on with that one."""
        row = InvoicePush.objects.values("invoice_id", "invoice_number", "invoice_url").get(pk=self.push.pk)
        if row["invoice_id"]:
            self.push.invoice_id, self.push.invoice_number = row["invoice_id"], row["invoice_number"]
            self.push.invoice_url = row["invoice_url"]
            return True
        return False

    def _invoice_payload(self) -> dict:
        plan = self.push.plan
        lines = []
        for line in plan["lines"]:
            item = {
                "item_id": plan["item_ids"][line["product_id"]],
                "quantity": Decimal(line["quantity"]),
                "rate": Decimal(line["rate"]),
            }
            if Decimal(line["tax_percentage"]) > 0:
                item["tax_id"] = line["tax_id"]  # planned under the region's authority; never blank
            lines.append(item)
        payload = {"customer_id": plan["customer_id"], "reference_number": self.push.deal_id, "line_items": lines}
        # The organization's own day, now (not when the deal was planned: a push approved days later is dated
        # the day it is created). An organization whose time zone we cannot place is dated by Books itself.
        today = organization_today(entity=self.push.legal_entity) if self.push.legal_entity else None
        if today is not None:
            payload["date"] = today.isoformat()
        currency = self._currency()
        if not currency["base"]:
            payload["exchange_rate"] = Decimal(currency["exchange_rate"])  # required off the base currency
        tax = plan.get("tax") or {}
        authority = plan.get("tax_authority")
        if authority and authority.get("invoice_level", True) and any("tax_id" in ln for ln in lines):
            payload["tax_authority_id"] = authority["id"]  # the US edition only
        if tax.get("treatment_field") and tax.get("treatment"):
            payload[tax["treatment_field"]] = tax["treatment"]  # vat_treatment, gst_treatment or tax_treatment
        if tax.get("place_of_supply"):
            payload["place_of_supply"] = tax["place_of_supply"]
        return payload

    def step_stamp(self) -> None:
        self.set_step(Step.STAMP)
        self.check_lease()
        with self.zoho_call(f"Stamp invoice {self.push.invoice_number} on the CRM deal"):
            self.crm.record_update(
                "Deals",
                self.push.deal_id,
                {
                    "Invoice_Id": self.push.invoice_id,
                    "Invoice_Number": self.push.invoice_number,
                    "Invoice_URL": self.push.invoice_url,
                },
            )
