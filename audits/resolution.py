"""What finance decides about a duplicate group: resolve it by choosing the record to keep (the others are marked
inactive in Books, our links, the CRM fields and pending pushes move to the survivor), dismiss it as "not
duplicates", or undo either. Each decision is recorded with who and when (`FlagEvent`).

Books is changed first and put back if it refuses halfway; then our tables change in one transaction; the CRM
fields last (informational — CONTRACT §4 — so a CRM failure is reported, not fatal)."""

from __future__ import annotations

import contextlib
import itertools

from django.db import transaction
from django.utils import timezone

from audits.models import DuplicateFlag, FlagEvent, SettledPair
from audits.runs import PENDING, SIDES, plan_uses
from integration.models import InvoicePush
from integration.redaction import redact_text
from integration.services.catalog import item_index_forget
from integration.services.timeline import push_event
from integration.zoho.books import BooksClient
from integration.zoho.crm import CrmClient
from integration.zoho.errors import ZohoError

Kind = DuplicateFlag.Kind


class DecisionError(Exception):
    """The decision cannot be made as asked; the message says why in plain words. Nothing was changed."""


def _noun(flag: DuplicateFlag) -> str:
    return "item" if flag.kind == Kind.ITEM else "customer"


def _label(flag: DuplicateFlag, books_id: str) -> str:
    member = next((m for m in flag.members if m["books_id"] == books_id), {"name": books_id})
    sku = f" (SKU {member['sku']})" if member.get("sku") else ""
    return f"“{member['name']}”{sku}"


def _set_status(books: BooksClient, flag: DuplicateFlag, books_id: str, status: str) -> None:
    org = flag.organization_id
    if flag.kind == Kind.ITEM:
        (books.item_mark_active if status == "active" else books.item_mark_inactive)(org, books_id)
    else:
        (books.contact_mark_active if status == "active" else books.contact_mark_inactive)(org, books_id)


def _status(books: BooksClient, flag: DuplicateFlag, books_id: str) -> str:
    get = books.item_get if flag.kind == Kind.ITEM else books.contact_get
    return get(flag.organization_id, books_id).get("status", "active")


def _books_changes(books: BooksClient, flag: DuplicateFlag, changes: list[tuple[str, str]]) -> None:
    """Apply (books_id, status) changes in order; if Books refuses one, put back the ones made and refuse."""
    done: list[tuple[str, str]] = []
    try:
        for books_id, status in changes:
            _set_status(books, flag, books_id, status)
            done.append((books_id, status))
    except ZohoError as exc:
        for books_id, status in reversed(done):
            with contextlib.suppress(ZohoError):
                _set_status(books, flag, books_id, "inactive" if status == "active" else "active")
        raise DecisionError(f"Books refused to change {_label(flag, books_id)}: {exc}. Nothing was changed.") from exc


def _running_push(flag: DuplicateFlag, ids: set[str]) -> InvoicePush | None:
    for push in InvoicePush.objects.filter(organization_id=flag.organization_id, state=InvoicePush.State.RUNNING):
        if ids & plan_uses(push.plan, flag.kind):
            return push
    return None


def _repoint_push(flag: DuplicateFlag, push: InvoicePush, moves: dict[str, str]) -> list[dict]:
    """Point the push's plan at the new ids; returns what moved, for undo."""
    moved = []
    if flag.kind == Kind.ITEM:
        item_ids = dict(push.plan.get("item_ids", {}))
        for product, item in item_ids.items():
            if item in moves:
                item_ids[product] = moves[item]
                moved.append({"push": push.pk, "product": product, "from": item, "to": moves[item]})
        push.plan = {**push.plan, "item_ids": item_ids}
    elif push.plan.get("customer_id") in moves:
        old = push.plan["customer_id"]
        push.plan = {**push.plan, "customer_id": moves[old]}
        moved.append({"push": push.pk, "product": "", "from": old, "to": moves[old]})
    push.save(update_fields=["plan", "updated_at"])
    return moved


def _repoint(flag: DuplicateFlag, moves: dict[str, str], user, why: str) -> tuple[list[dict], list[dict]]:
    """Move our links and the pending pushes from each key of `moves` to its value (inside a transaction)."""
    org, side = flag.organization_id, SIDES[flag.kind]
    links: list[dict] = []
    moving = side.link.objects.select_for_update().filter(
        organization_id=org, **{f"{side.books_field}__in": list(moves)}
    )
    for link in moving:
        old = getattr(link, side.books_field)
        links.append({"crm_id": getattr(link, side.crm_field), "from": old, "to": moves[old]})
        setattr(link, side.books_field, moves[old])
        link.save(update_fields=[side.books_field])
    pushes: list[dict] = []
    for push in InvoicePush.objects.select_for_update().filter(organization_id=org, state__in=PENDING):
        if set(moves) & plan_uses(push.plan, flag.kind):
            pushes += _repoint_push(flag, push, moves)
            push_event(push, why, step=side.step, actor=user)
    return links, pushes


def _crm_fields(flag: DuplicateFlag, links: list[dict], *, to: str) -> list[str]:
    """Write Books_Item_Id / Books_Customer_Id on the CRM records our links moved; returns the failures."""
    side = SIDES[flag.kind]
    module, field = side.crm_module, side.crm_books_field
    failed = []
    crm = CrmClient()
    for link in links:
        try:
            crm.record_update(module, link["crm_id"], {field: link[to]})
        except ZohoError as exc:
            failed.append(redact_text(f"CRM {module[:-1]} {link['crm_id']}: {exc}"))
    return failed


def _locked_open(flag_id: int, states=(DuplicateFlag.State.OPEN,)) -> DuplicateFlag:
    return _refuse_unless(DuplicateFlag.objects.select_for_update().get(pk=flag_id), states)


def _refuse_unless(flag: DuplicateFlag, states=(DuplicateFlag.State.OPEN,)) -> DuplicateFlag:
    if flag.state not in states:
        by = f" (by {flag.decided_by} at {flag.decided_at:%Y-%m-%d %H:%M})" if flag.decided_by else ""
        raise DecisionError(f"This group is {flag.get_state_display().lower()} already{by}; reload the page.")
    return flag


def flag_resolve(*, flag_id: int, survivor_id: str, user) -> DuplicateFlag:
    """Keep `survivor_id`: it is made active, every other member inactive, and everything of ours pointing at
    another member points at it."""
    flag = _refuse_unless(DuplicateFlag.objects.get(pk=flag_id))  # checked again under the lock below
    ids = flag.member_ids()
    if survivor_id not in ids:
        raise DecisionError(f"Choose which {_noun(flag)} to keep.")
    losers = [i for i in ids if i != survivor_id]
    running = _running_push(flag, set(losers))
    if running:
        raise DecisionError(f"Push #{running.pk} is using one of these right now; try again in a few seconds.")
    books = BooksClient()
    try:
        statuses = {i: _status(books, flag, i) for i in ids}
    except ZohoError as exc:
        raise DecisionError(f"Could not read the {_noun(flag)}s from Books: {exc}. Nothing was changed.") from exc
    changes = [(survivor_id, "active")] if statuses[survivor_id] != "active" else []
    changes += [(i, "inactive") for i in losers if statuses[i] == "active"]
    _books_changes(books, flag, changes)
    why = (
        f"{user} resolved duplicate {_noun(flag)}s (audit group #{flag.pk}): "
        f"{', '.join(_label(flag, i) for i in losers)} → {_label(flag, survivor_id)}"
    )
    with transaction.atomic():
        flag = _locked_open(flag_id)
        links, pushes = _repoint(flag, {i: survivor_id for i in losers}, user, why)
        flag.state, flag.survivor_id = DuplicateFlag.State.RESOLVED, survivor_id
        flag.decided_by, flag.decided_at = user, timezone.now()
        flag.resolution = {"books": changes, "links": links, "pushes": pushes}
        for member in flag.members:
            member["status"] = "active" if member["books_id"] == survivor_id else "inactive"
        flag.save()
        _settle(flag)
        FlagEvent.objects.create(flag=flag, actor=str(user), action="resolved", message=why)
    if flag.kind == Kind.ITEM:
        item_index_forget(flag.organization_id)
    failed = _crm_fields(flag, links, to="to")
    if failed:
        flag.resolution = {**flag.resolution, "crm_failed": failed}
        flag.save(update_fields=["resolution"])
    return flag


def flag_dismiss(*, flag_id: int, user) -> DuplicateFlag:
    """Not duplicates: remembered, so these records are not flagged together again."""
    with transaction.atomic():
        flag = _locked_open(flag_id)
        flag.state, flag.decided_by, flag.decided_at = DuplicateFlag.State.DISMISSED, user, timezone.now()
        flag.save(update_fields=["state", "decided_by", "decided_at"])
        _settle(flag)
        names = ", ".join(_label(flag, i) for i in flag.member_ids())
        FlagEvent.objects.create(
            flag=flag, actor=str(user), action="dismissed", message=f"{user}: not duplicates — {names}"
        )
    return flag


def flag_undo(*, flag_id: int, user) -> DuplicateFlag:
    """Undo a resolution (members made active again as they were, links and pending pushes moved back where
    they still point at the survivor) or a dismissal. The group is open again."""
    flag = DuplicateFlag.objects.get(pk=flag_id)
    if flag.state not in (DuplicateFlag.State.RESOLVED, DuplicateFlag.State.DISMISSED):
        raise DecisionError("Only a resolved or dismissed group can be undone.")
    back = [(i, "inactive" if status == "active" else "active") for i, status in flag.resolution.get("books", [])]
    books_back = list(reversed(back))
    if flag.state == DuplicateFlag.State.RESOLVED:
        _books_changes(BooksClient(), flag, books_back)
    with transaction.atomic():
        flag = _locked_open(flag_id, states=(DuplicateFlag.State.RESOLVED, DuplicateFlag.State.DISMISSED))
        was = flag.state
        links_back: list[dict] = []
        if was == DuplicateFlag.State.RESOLVED:
            links_back = _undo_links(flag)
            _undo_pushes(flag, user)
            for member in flag.members:
                for books_id, status in books_back:
                    if member["books_id"] == books_id:
                        member["status"] = status
        flag.settled_pairs.all().delete()
        flag.state, flag.survivor_id, flag.resolution = DuplicateFlag.State.OPEN, "", {}
        flag.decided_by, flag.decided_at = None, None
        flag.save()
        action = "resolution" if was == DuplicateFlag.State.RESOLVED else "dismissal"
        FlagEvent.objects.create(flag=flag, actor=str(user), action="undone", message=f"{user} undid the {action}")
    if flag.kind == Kind.ITEM:
        item_index_forget(flag.organization_id)
    _crm_fields(flag, links_back, to="from")
    return flag


def _undo_links(flag: DuplicateFlag) -> list[dict]:
    moved = []
    side = SIDES[flag.kind]
    for link in flag.resolution.get("links", []):
        changed = side.link.objects.filter(
            organization_id=flag.organization_id, **{side.crm_field: link["crm_id"], side.books_field: link["to"]}
        ).update(**{side.books_field: link["from"]})
        if changed:
            moved.append(link)
    return moved


def _undo_pushes(flag: DuplicateFlag, user) -> None:
    by_push: dict[int, list[dict]] = {}
    for move in flag.resolution.get("pushes", []):
        by_push.setdefault(move["push"], []).append(move)
    for push in InvoicePush.objects.select_for_update().filter(pk__in=list(by_push), state__in=PENDING):
        plan = dict(push.plan)
        for move in by_push[push.pk]:
            if flag.kind == Kind.ITEM and plan.get("item_ids", {}).get(move["product"]) == move["to"]:
                plan["item_ids"] = {**plan["item_ids"], move["product"]: move["from"]}
            elif flag.kind == Kind.CUSTOMER and plan.get("customer_id") == move["to"]:
                plan["customer_id"] = move["from"]
        push.plan = plan
        push.save(update_fields=["plan", "updated_at"])
        push_event(push, f"{user} undid the resolution of duplicate group #{flag.pk}", actor=user)


def _settle(flag: DuplicateFlag) -> None:
    SettledPair.objects.bulk_create(
        [
            SettledPair(organization_id=flag.organization_id, kind=flag.kind, first_id=a, second_id=b, flag=flag)
            for a, b in itertools.combinations(sorted(flag.member_ids()), 2)
        ],
        ignore_conflicts=True,
    )
