"""What finance decides about a duplicate group: resolve it by choosing the record to keep (the others are marked
inactive in Books, our links, the CRM fields and pending pushes move to the survivor), dismiss it as "not
duplicates", or undo either. Each decision is recorded with who and when (`FlagEvent`).

Books is changed first and put back if it refuses halfway; then our tables change in one transaction; the CRM
fields last (informational — CONTRACT §4 — so a CRM failure is reported, not fatal)."""

from __future__ import annotations

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


def _opposite(status: str) -> str:
    return "inactive" if status == "active" else "active"


def _reread(books: BooksClient, flag: DuplicateFlag, books_id: str) -> str | None:
    """The record's status as Books shows it now, or None when Books cannot say."""
    try:
        return _status(books, flag, books_id)
    except ZohoError:
        return None


def _write(books: BooksClient, flag: DuplicateFlag, changes: list[tuple[str, str]], *, stop: bool) -> tuple:
    """Apply (books_id, status) changes in order. A failure that may have acted (a timeout, a lost answer) is
    re-read before it counts as refused. Returns (done, failed, error): with `stop`, at the first refusal; without,
    every change is tried."""
    done, failed, error = [], [], ""
    for books_id, status in changes:
        try:
            _set_status(books, flag, books_id, status)
        except ZohoError as exc:
            if exc.maybe_acted and _reread(books, flag, books_id) == status:
                done.append((books_id, status))
                continue
            failed.append((books_id, status))
            error = error or f"Books refused to mark {_label(flag, books_id)} {status}: {exc}"
            if stop:
                break
            continue
        done.append((books_id, status))
    return done, failed, error


def _books_changes(books: BooksClient, flag: DuplicateFlag, changes: list[tuple[str, str]], before: dict) -> list:
    """Make the changes, recording each on the claimed group as it is made. On a refusal, put every member back as
    it was `before`; raise `DecisionError` saying plainly what happened — and, when something could not be put
    back, leave the group "needs attention" with what is left."""
    done, failed, error = _write(books, flag, changes, stop=True)
    _operation(flag, done=done)
    if not failed:
        return done
    now = {**{i: s for i, s in changes}, **dict(failed)}  # what we believe Books shows: unknown for `failed`
    back = [(i, before[i]) for i, _ in reversed(done) if before.get(i) and before[i] != now.get(i)]
    _, left, _ = _write(books, flag, back, stop=False)
    if not left:
        _release(flag, error=error)
        raise DecisionError(f"{error}. Nothing was changed: everything was put back as it was.")
    stuck = [{"books_id": i, "should_be": s, "label": _label(flag, i)} for i, s in left]
    shown = {**before, **dict(done), **{i: _opposite(s) for i, s in left}}  # what Books shows now, as far as we know
    flag.members = [{**m, "status": shown.get(m["books_id"], m["status"])} for m in flag.members]
    DuplicateFlag.objects.filter(pk=flag.pk).update(members=flag.members)
    _operation(flag, stuck=stuck, error=error, state=DuplicateFlag.State.STUCK)
    names = ", ".join(f"{x['label']} (should be {x['should_be']})" for x in stuck)
    raise DecisionError(
        f"{error}. Books also refused to put back {names}: the group needs attention. "
        "Try the decision again, or put the records back, from the group."
    )


def _claim(flag_id: int, states: tuple, to: str, user, **operation) -> DuplicateFlag:
    """Claim the group for one decision (a single conditional update): a second decision on it, at once or
    later, is refused until this one has finished. Records what is intended."""
    op = {**operation, "by": str(user), "started": timezone.now().isoformat()}
    claimed = DuplicateFlag.objects.filter(pk=flag_id, state__in=states).update(state=to, operation=op)
    flag = DuplicateFlag.objects.get(pk=flag_id)
    if not claimed:
        _refuse_unless(flag, states)
    return flag


def _operation(flag: DuplicateFlag, *, state: str | None = None, **fields) -> None:
    flag.operation = {**flag.operation, **fields}
    DuplicateFlag.objects.filter(pk=flag.pk).update(operation=flag.operation, **({"state": state} if state else {}))
    if state:
        flag.state = state


def _release(flag: DuplicateFlag, *, error: str) -> None:
    """Nothing changed in Books: the group goes back to where it was, the refusal written in its history."""
    back = flag.operation.get("from", DuplicateFlag.State.OPEN)
    DuplicateFlag.objects.filter(pk=flag.pk).update(state=back, operation={})
    FlagEvent.objects.create(
        flag=flag, actor=flag.operation.get("by", ""), action="refused", message=f"{error}. Nothing was changed."
    )


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


def _refuse_unless(flag: DuplicateFlag, states=(DuplicateFlag.State.OPEN,)) -> DuplicateFlag:
    if flag.state not in states:
        if flag.state in (DuplicateFlag.State.RESOLVING, DuplicateFlag.State.UNDOING):
            raise DecisionError(
                f"{flag.operation.get('by') or 'Someone'} is deciding about this group right now; reload the page "
                "in a few seconds."
            )
        by = f" (by {flag.decided_by} at {flag.decided_at:%Y-%m-%d %H:%M})" if flag.decided_by else ""
        raise DecisionError(f"This group is {flag.get_state_display().lower()} already{by}; reload the page.")
    return flag


def _statuses(books: BooksClient, flag: DuplicateFlag) -> dict[str, str]:
    try:
        return {i: _status(books, flag, i) for i in flag.member_ids()}
    except ZohoError as exc:
        error = f"Could not read the {_noun(flag)}s from Books: {exc}"
        _release(flag, error=error)
        raise DecisionError(f"{error}. Nothing was changed.") from exc


def flag_resolve(*, flag_id: int, survivor_id: str, user) -> DuplicateFlag:
    """Keep `survivor_id`: it is made active, every other member inactive, and everything of ours pointing at
    another member points at it. Claimed first; Books written next, put back on a refusal; our tables last."""
    flag = DuplicateFlag.objects.get(pk=flag_id)
    ids = flag.member_ids()
    if survivor_id not in ids:
        raise DecisionError(f"Choose which {_noun(flag)} to keep.")
    losers = [i for i in ids if i != survivor_id]
    running = _running_push(flag, set(losers))
    if running:
        raise DecisionError(f"Push #{running.pk} is using one of these right now; try again in a few seconds.")
    was = flag.state
    before = flag.operation.get("before") if was == DuplicateFlag.State.STUCK else None
    flag = _claim(
        flag_id,
        (DuplicateFlag.State.OPEN, DuplicateFlag.State.STUCK),
        DuplicateFlag.State.RESOLVING,
        user,
        action="resolve",
        survivor=survivor_id,
        **{"from": was},
    )
    books = BooksClient()
    statuses = _statuses(books, flag)
    before = before or statuses
    target = {i: "active" if i == survivor_id else "inactive" for i in ids}
    changes = [(i, target[i]) for i in [survivor_id, *losers] if statuses[i] != target[i]]
    _operation(flag, before=before, intent=changes)
    _books_changes(books, flag, changes, before)
    why = (
        f"{user} resolved duplicate {_noun(flag)}s (audit group #{flag.pk}): "
        f"{', '.join(_label(flag, i) for i in losers)} → {_label(flag, survivor_id)}"
    )
    with transaction.atomic():
        flag = DuplicateFlag.objects.select_for_update().get(pk=flag_id)
        links, pushes = _repoint(flag, {i: survivor_id for i in losers}, user, why)
        flag.state, flag.survivor_id = DuplicateFlag.State.RESOLVED, survivor_id
        flag.decided_by, flag.decided_at = user, timezone.now()
        made = [(i, s) for i, s in target.items() if before.get(i) != s]
        flag.resolution = {"books": made, "before": before, "links": links, "pushes": pushes}
        for member in flag.members:
            member["status"] = target[member["books_id"]]
        flag.operation = {}
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
    """Not duplicates: remembered, so these records are not flagged together again. No Books write: the claim
    itself decides (one conditional update), so a dismiss and a resolve landing together cannot both win."""
    with transaction.atomic():
        now = timezone.now()
        if not DuplicateFlag.objects.filter(pk=flag_id, state=DuplicateFlag.State.OPEN).update(
            state=DuplicateFlag.State.DISMISSED, decided_by=user, decided_at=now
        ):
            _refuse_unless(DuplicateFlag.objects.get(pk=flag_id))
        flag = DuplicateFlag.objects.get(pk=flag_id)
        _settle(flag)
        names = ", ".join(_label(flag, i) for i in flag.member_ids())
        FlagEvent.objects.create(
            flag=flag, actor=str(user), action="dismissed", message=f"{user}: not duplicates — {names}"
        )
    return flag


def _in_use_since(flag: DuplicateFlag, books_id: str) -> int:
    """Links and pending pushes made since the group was resolved that use `books_id`."""
    side = SIDES[flag.kind]
    moved = {link["crm_id"] for link in flag.resolution.get("links", [])}
    links = side.link.objects.filter(
        organization_id=flag.organization_id, created_at__gt=flag.decided_at, **{side.books_field: books_id}
    ).exclude(**{f"{side.crm_field}__in": moved})
    pushes = InvoicePush.objects.filter(
        organization_id=flag.organization_id, state__in=PENDING, created_at__gt=flag.decided_at
    )
    return links.count() + sum(books_id in plan_uses(p.plan, flag.kind) for p in pushes.only("plan"))


def flag_undo(*, flag_id: int, user) -> DuplicateFlag:
    """Undo a resolution or a dismissal; the group is open again. Undoing a resolution puts back in Books what the
    resolution changed and is still as it left it (what someone changed since is left alone), except a record
    that links or pushes made since then use: it stays active, and the answer says so. Links and pending pushes
    move back where they still point at the survivor."""
    flag = DuplicateFlag.objects.get(pk=flag_id)
    if flag.state not in (DuplicateFlag.State.RESOLVED, DuplicateFlag.State.DISMISSED):
        _refuse_unless(flag, (DuplicateFlag.State.RESOLVED, DuplicateFlag.State.DISMISSED))
    was = flag.state
    flag = _claim(flag_id, (was,), DuplicateFlag.State.UNDOING, user, action="undo", **{"from": was})
    kept: list[str] = []
    if was == DuplicateFlag.State.RESOLVED:
        books = BooksClient()
        statuses = _statuses(books, flag)
        back = []
        for books_id, status in flag.resolution.get("books", []):
            if statuses.get(books_id) != status:
                continue  # changed since by someone else: theirs to keep
            if status == "active" and _in_use_since(flag, books_id):
                kept.append(_label(flag, books_id))
                continue
            back.append((books_id, _opposite(status)))
        _operation(flag, before=statuses, intent=back)
        _books_changes(books, flag, back, statuses)
    with transaction.atomic():
        flag = DuplicateFlag.objects.select_for_update().get(pk=flag_id)
        links_back: list[dict] = []
        if was == DuplicateFlag.State.RESOLVED:
            links_back = _undo_links(flag)
            _undo_pushes(flag, user)
            done = dict(flag.operation.get("done", []))
            for member in flag.members:
                member["status"] = done.get(member["books_id"], member["status"])
        flag.settled_pairs.all().delete()
        flag.state, flag.survivor_id, flag.resolution, flag.operation = DuplicateFlag.State.OPEN, "", {}, {}
        flag.decided_by, flag.decided_at = None, None
        flag.save()
        action = "resolution" if was == DuplicateFlag.State.RESOLVED else "dismissal"
        note = f"; kept active because newer links or pushes use it: {', '.join(kept)}" if kept else ""
        FlagEvent.objects.create(
            flag=flag, actor=str(user), action="undone", message=f"{user} undid the {action}{note}"
        )
    flag.kept_active = kept
    if flag.kind == Kind.ITEM:
        item_index_forget(flag.organization_id)
    _crm_fields(flag, links_back, to="from")
    return flag


def flag_put_back(*, flag_id: int, user) -> DuplicateFlag:
    """A group that needs attention (Books failed half-way and then refused to put something back): put every
    member back as it was before the decision began, and open the group again."""
    left = DuplicateFlag.objects.get(pk=flag_id).operation  # what the stuck decision recorded
    flag = _claim(flag_id, (DuplicateFlag.State.STUCK,), DuplicateFlag.State.UNDOING, user, **{**left, "from": "stuck"})
    before = flag.operation.get("before", {})
    books = BooksClient()
    statuses = {i: _reread(books, flag, i) for i in flag.member_ids()}
    back = [(i, s) for i, s in before.items() if statuses.get(i) != s]
    _, failed, error = _write(books, flag, back, stop=False)
    if failed:
        stuck = [{"books_id": i, "should_be": s, "label": _label(flag, i)} for i, s in failed]
        _operation(flag, stuck=stuck, error=error, state=DuplicateFlag.State.STUCK)
        raise DecisionError(f"{error}. The group still needs attention; try again once Books answers.")
    with transaction.atomic():
        for member in flag.members:
            member["status"] = before.get(member["books_id"], member["status"])
        DuplicateFlag.objects.filter(pk=flag_id).update(
            state=DuplicateFlag.State.OPEN, operation={}, members=flag.members
        )
        FlagEvent.objects.create(
            flag=flag, actor=str(user), action="put back", message=f"{user} put the records back as they were"
        )
    if flag.kind == Kind.ITEM:
        item_index_forget(flag.organization_id)
    flag.refresh_from_db()
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
