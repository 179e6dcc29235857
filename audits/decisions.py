"""Resolving duplicates a push stopped on: finance says which Books record a CRM record *is*, or that
it is genuinely new. Detection is in matching.py next door; these are the decisions, each written to the
push's timeline. The push is then replayed.

A decision is refused while a worker runs the push: the run saves its own copy of the plan as it goes
and would write over a decision made meanwhile. Each decision holds the push's row lock, so a run
that claims the push right after it reads the decision."""

from __future__ import annotations

from django.db import transaction

from integration.models import CustomerLink, InvoicePush, ItemLink
from integration.normalize import normalize_sku
from integration.services.review import PushStateError, push_replay
from integration.services.timeline import push_event
from integration.zoho.books import BooksClient, books_id

Step = InvoicePush.Step


def _lock_idle(push: InvoicePush, pending: tuple[str, str, str] | None = None) -> InvoicePush:
    """The push's row, locked, or `PushStateError` while a worker is running it (call inside atomic).

    With `pending` (kind, subject, choice) — a decision posted from the push page — the push must still be failed
    and waiting for that very decision, with `choice` one of its options: a stale or forged post changes nothing."""
    locked = InvoicePush.objects.select_for_update().get(pk=push.pk)
    if locked.state == InvoicePush.State.RUNNING:
        raise PushStateError(
            f"Push #{push.pk} is being worked on right now; wait until it stops (a few seconds), then decide."
        )
    if pending is not None:
        kind, subject, choice = pending
        decision = next(
            (
                d
                for d in locked.plan.get("decisions") or []
                if d.get("kind") == kind and (kind == "customer" or d.get("product_id") == subject)
            ),
            None,
        )
        options = set() if decision is None else {c["id"] for c in decision.get("candidates", [])}
        if decision and decision.get("allow_new"):
            options.add("new")
        if locked.state != InvoicePush.State.FAILED or choice not in options:
            raise PushStateError(
                f"Push #{push.pk} is not waiting for this decision (any more); nothing was changed. "
                "Reload the page to see where it stands."
            )
    return locked


def item_link_choose(*, push: InvoicePush, product_id: str, item_id: str, user, pending: bool = False) -> ItemLink:
    """Finance decides a CRM product *is* an existing Books item (resolving a near-duplicate)."""
    org = push.organization_id
    item = BooksClient().item_get(org, books_id(item_id))
    line = next((ln for ln in push.plan.get("lines", []) if ln["product_id"] == product_id), None)
    if line is None:
        raise PushStateError(f"Product {product_id} is not on push #{push.pk}.")
    with transaction.atomic():
        locked = _lock_idle(push, ("item", product_id, item_id) if pending else None)
        link, _ = ItemLink.objects.update_or_create(
            organization_id=org,
            crm_product_id=product_id,
            defaults={
                "books_item_id": item["item_id"],
                "sku": item.get("sku") or "",
                "created_in_books": False,
                "sku_normalized": normalize_sku(line["sku"]),
            },
        )
        item_ids = {k: v for k, v in locked.plan.get("item_ids", {}).items() if k != product_id}
        locked.plan = {**locked.plan, "item_ids": item_ids, "decisions": _settled(locked.plan, product_id)}
        locked.save(update_fields=["plan", "updated_at"])
        push_event(
            push,
            f"{user} linked “{line['name']}” to Books item “{item['name']}” ({item['item_id']})",
            step=Step.ITEMS,
            actor=user,
        )
    push.refresh_from_db()
    return link


def item_confirm_new(*, push: InvoicePush, product_id: str, user, pending: bool = False) -> None:
    """Finance confirms a CRM product is new although Books has look-alikes: the next run creates it."""
    line = next((ln for ln in push.plan.get("lines", []) if ln["product_id"] == product_id), None)
    if line is None:
        raise PushStateError(f"Product {product_id} is not on push #{push.pk}.")
    with transaction.atomic():
        locked = _lock_idle(push, ("item", product_id, "new") if pending else None)
        confirmed = set(locked.plan.get("confirmed_new", [])) | {product_id}
        locked.plan = {
            **locked.plan,
            "confirmed_new": sorted(confirmed),
            "decisions": _settled(locked.plan, product_id),
        }
        locked.save(update_fields=["plan", "updated_at"])
        push_event(
            push,
            f"{user} confirmed “{line['name']}” (SKU {line['sku']}) as a new Books item",
            step=Step.ITEMS,
            actor=user,
        )
    push.refresh_from_db()


def customer_link_choose(*, push: InvoicePush, contact_id: str, user, pending: bool = False) -> CustomerLink:
    """Finance decides which existing Books customer an Account is (when several match)."""
    org, account = push.organization_id, push.plan["account"]
    contact = BooksClient().contact_get(org, books_id(contact_id))
    with transaction.atomic():
        locked = _lock_idle(push, ("customer", "", contact_id) if pending else None)
        link, _ = CustomerLink.objects.update_or_create(
            organization_id=org,
            crm_account_id=account["id"],
            defaults={"books_contact_id": contact["contact_id"], "contact_name": contact["contact_name"]},
        )
        locked.plan = {k: v for k, v in locked.plan.items() if k != "customer_id"}  # resolved again on replay
        locked.plan["decisions"] = [d for d in locked.plan.get("decisions", []) if d["kind"] != "customer"]
        locked.save(update_fields=["plan", "updated_at"])
        push_event(
            push,
            f"{user} linked Account “{account['name']}” to Books customer “{contact['contact_name']}”",
            step=Step.CUSTOMER,
            actor=user,
        )
    push.refresh_from_db()
    return link


def _settled(plan: dict, product_id: str) -> list[dict]:
    """The push's open decisions without the one about this product."""
    return [d for d in plan.get("decisions", []) if d.get("product_id") != product_id]


def decision_settle(*, push: InvoicePush, kind: str, subject: str, choice: str, user) -> bool:
    """Settle one decision from the push page — `choice` is a candidate's Books id or "new" — and replay the
    push once none is left. Returns True when the push was replayed."""
    if kind == "item" and choice == "new":
        item_confirm_new(push=push, product_id=subject, user=user, pending=True)
    elif kind == "item":
        item_link_choose(push=push, product_id=subject, item_id=choice, user=user, pending=True)
    elif kind == "customer" and choice != "new":
        customer_link_choose(push=push, contact_id=choice, user=user, pending=True)
    else:
        raise PushStateError(f"There is no {kind!r} decision to make on push #{push.pk}.")
    push.refresh_from_db()
    if push.plan.get("decisions") or push.state != InvoicePush.State.FAILED:
        return False
    push_replay(push=push, user=user, why=f"Replayed by {user} once every decision was made")
    return True
