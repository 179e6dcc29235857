"""The duplicate audit against the sandbox's demo catalogue: every seeded group found and nothing else, the
command's surface (CONTRACT §8), resolving and undoing (Books, our links, the CRM, pending pushes), dismissals
remembered, runs that never overlap and carry on after an interruption, and the schedule."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from audits.models import AuditRun, DuplicateFlag, FlagEvent
from audits.resolution import DecisionError, flag_dismiss, flag_resolve, flag_undo
from audits.runs import _save, _Worker, audit_claim, audit_start, audits_due
from integration.models import CustomerLink, InvoicePush, ItemLink, LegalEntity
from sandbox.demo import (
    AUDIT_CUSTOMER_GROUPS,
    AUDIT_DISTINCT_CUSTOMERS,
    AUDIT_ITEM_GROUPS,
    IN_ORG,
    UK_ORG,
    US_ORG,
    product_id,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def audit(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("audit_duplicates", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def groups(org: str, kind: str, state: str = "open") -> list[set[str]]:
    return [
        {m["name"] for m in f.members}
        for f in DuplicateFlag.objects.filter(organization_id=org, kind=kind, state=state)
    ]


def flag_of(name: str) -> DuplicateFlag:
    return next(f for f in DuplicateFlag.objects.filter(state="open") if name in {m["name"] for m in f.members})


def member_id(flag: DuplicateFlag, name: str) -> str:
    return next(m["books_id"] for m in flag.members if m["name"] == name)


def test_the_audit_finds_every_seeded_group_and_nothing_else(sandbox, demo_config, tmp_path):
    out, _ = audit("--csv", str(tmp_path / "findings.csv"))

    seeded_items = [{name for name, _ in g} for g in AUDIT_ITEM_GROUPS.values()]
    assert sorted(groups(US_ORG, "item"), key=sorted) == sorted(seeded_items, key=sorted)
    seeded_customers = {org: [] for org in (US_ORG, UK_ORG, IN_ORG)}
    for group in AUDIT_CUSTOMER_GROUPS.values():
        seeded_customers[group[0][0]].append({name for _, name, *_ in group})
    for org, expected in seeded_customers.items():
        assert sorted(groups(org, "customer"), key=sorted) == sorted(expected, key=sorted), org
    assert not DuplicateFlag.objects.exclude(organization_id__in=[US_ORG, UK_ORG, IN_ORG]).exists()
    assert not any(name in g for g in groups(US_ORG, "customer") for _, name, *_ in AUDIT_DISTINCT_CUSTOMERS)

    why = {frozenset(m["name"] for m in f.members): (f.reason, f.score) for f in DuplicateFlag.objects.all()}
    assert why[frozenset({"Hinge Bracket", "Hinge Bracket (old)"})] == ("same SKU once normalized", 100)
    assert why[frozenset({"Cable Tie Pack", "Cable Tie Pack 100"})][0] == "SKUs alike but for look-alike characters"
    assert why[frozenset({"Bracket Kit", "Bracket Kit Deluxe"})][0] == "SKUs one typo apart"
    assert why[frozenset({"Service Plan", "Service-Plan"})] == ("same name", 90)
    assert why[frozenset({"Kramerica Industries", "Cosmo Kramer"})] == ("same company name once normalized", 100)
    assert why[frozenset({"Bluth Company Ltd", "Bluth Homes"})] == ("same tax registration number", 100)
    assert why[frozenset({"Pendant Publishing", "J. Peterman Catalog"})] == ("same company email domain", 70)

    assert "US-LLC (60001001): 247 items and" in out and "5 item group(s) and 3 customer group(s)" in out
    # Every page of items, active and inactive; tax numbers read one contact at a time where the edition has them.
    assert len(sandbox.calls_to("GET", r"/items$", org=US_ORG)) == 2
    assert len(sandbox.calls_to("GET", r"/contacts/\d+$", org=UK_ORG)) == len(sandbox.orgs[UK_ORG].contacts)
    assert not sandbox.calls_to("GET", r"/contacts/\d+$", org=US_ORG)

    with open(tmp_path / "findings.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["legal_entity", "kind", "group", "books_id", "name", "sku", "status", "reason", "score"]
    assert len(rows) == 2 * (len(AUDIT_ITEM_GROUPS) + len(AUDIT_CUSTOMER_GROUPS))
    hinge = [r for r in rows if r["name"].startswith("Hinge Bracket")]
    assert {(r["legal_entity"], r["kind"], r["sku"], r["status"], r["score"]) for r in hinge} == {
        ("US-LLC", "item", "HB-1000", "active", "100"),
        ("US-LLC", "item", "hb 1000", "active", "100"),
    }
    assert len({r["group"] for r in hinge}) == 1
    assert all(r["sku"] == "" for r in rows if r["kind"] == "customer")

    # A second run finds the same groups (same flags, not new ones) and reads no unchanged contact again.
    details = len(sandbox.calls_to("GET", r"/contacts/\d+$"))
    flags = set(DuplicateFlag.objects.values_list("pk", flat=True))
    audit()
    assert set(DuplicateFlag.objects.filter(state="open").values_list("pk", flat=True)) == flags
    assert len(sandbox.calls_to("GET", r"/contacts/\d+$")) == details


def test_a_catalogue_of_distinct_skus_and_customers_flags_nothing(sandbox, demo_config):
    from sandbox.books import new_item

    us = sandbox.orgs[US_ORG]
    seeded = {name for g in AUDIT_ITEM_GROUPS.values() for name, _ in g}
    seeded |= {name for g in AUDIT_CUSTOMER_GROUPS.values() for _, name, *_ in g}
    us.items = {k: v for k, v in us.items.items() if v["name"] not in seeded}
    us.contacts = {k: v for k, v in us.contacts.items() if v["contact_name"] not in seeded}
    for n in range(400):  # more distinct items, a third page
        new_item(sandbox, us, name=f"Valve {n}", rate="3", sku=f"VLV-{n:05d}")
    out, _ = audit("--org", "US-LLC")
    assert "0 item group(s) and 0 customer group(s)" in out
    assert not DuplicateFlag.objects.exists()


def test_resolving_an_item_group_moves_books_links_crm_and_pending_pushes_and_undo_restores(sandbox, demo_config):
    audit("--org", "US-LLC")
    flag = flag_of("Hinge Bracket")
    keep, drop = member_id(flag, "Hinge Bracket"), member_id(flag, "Hinge Bracket (old)")
    product = product_id(1)
    ItemLink.objects.create(organization_id=US_ORG, crm_product_id=product, books_item_id=drop, sku="hb 1000")
    sandbox.crm["Products"][product]["Books_Item_Id"] = drop
    push = InvoicePush.objects.create(
        deal_id="d-1", organization_id=US_ORG, state="failed", plan={"item_ids": {product: drop, "other": "9"}}
    )
    finance = UserFactory(username="fran")
    sandbox.orgs[US_ORG].items[keep]["status"] = "inactive"  # the one to keep was made inactive in Books meanwhile

    flag = flag_resolve(flag_id=flag.pk, survivor_id=keep, user=finance)

    items = sandbox.orgs[US_ORG].items
    assert (items[keep]["status"], items[drop]["status"]) == ("active", "inactive")
    assert ItemLink.objects.get(crm_product_id=product).books_item_id == keep
    assert sandbox.crm["Products"][product]["Books_Item_Id"] == keep
    push.refresh_from_db()
    assert push.plan["item_ids"] == {product: keep, "other": "9"}
    assert "fran resolved duplicate items" in push.events.last().action
    assert (flag.state, flag.decided_by, flag.survivor_id) == ("resolved", finance, keep)
    assert FlagEvent.objects.get(flag=flag, action="resolved").actor == "fran"
    # The next audit does not flag the merged pair again (the inactive one is still in Books).
    audit("--org", "US-LLC")
    assert {"Hinge Bracket", "Hinge Bracket (old)"} not in groups(US_ORG, "item")

    flag = flag_undo(flag_id=flag.pk, user=finance)
    assert (items[keep]["status"], items[drop]["status"]) == ("inactive", "active")  # as they were
    assert ItemLink.objects.get(crm_product_id=product).books_item_id == drop
    assert sandbox.crm["Products"][product]["Books_Item_Id"] == drop
    push.refresh_from_db()
    assert push.plan["item_ids"][product] == drop
    assert flag.state == "open" and FlagEvent.objects.filter(flag=flag, action="undone").exists()


def test_resolving_a_customer_group_repoints_the_account(sandbox, demo_config):
    from sandbox.demo import account_id

    audit("--org", "US-LLC")
    flag = flag_of("Cosmo Kramer")
    keep, drop = member_id(flag, "Kramerica Industries"), member_id(flag, "Cosmo Kramer")
    account = account_id(1)
    CustomerLink.objects.create(organization_id=US_ORG, crm_account_id=account, books_contact_id=drop, contact_name="x")
    flag_resolve(flag_id=flag.pk, survivor_id=keep, user=UserFactory())
    assert sandbox.orgs[US_ORG].contacts[drop]["status"] == "inactive"
    assert CustomerLink.objects.get(crm_account_id=account).books_contact_id == keep
    assert sandbox.crm["Accounts"][account]["Books_Customer_Id"] == keep


def test_resolving_changes_nothing_when_books_refuses(sandbox, demo_config):
    audit("--org", "US-LLC")
    flag = flag_of("Service Plan")
    keep, drop = member_id(flag, "Service Plan"), member_id(flag, "Service-Plan")
    sandbox.add_fault("error", method="POST", path="/inactive", count=5, message="Item is used in a recurring invoice")
    with pytest.raises(DecisionError, match="Nothing was changed"):
        flag_resolve(flag_id=flag.pk, survivor_id=keep, user=UserFactory())
    assert sandbox.orgs[US_ORG].items[drop]["status"] == "active"
    assert DuplicateFlag.objects.get(pk=flag.pk).state == "open"
    with pytest.raises(DecisionError, match="Choose which item to keep"):
        flag_resolve(flag_id=flag.pk, survivor_id="123", user=UserFactory())


def test_a_dismissed_group_is_remembered_and_not_reported_again(sandbox, demo_config, tmp_path):
    audit("--org", "US-LLC")
    flag = flag_of("Pendant Publishing")
    flag_dismiss(flag_id=flag.pk, user=UserFactory(username="dan"))
    with pytest.raises(DecisionError, match="not duplicates already"):
        flag_dismiss(flag_id=flag.pk, user=UserFactory())
    audit("--org", "US-LLC", "--csv", str(tmp_path / "f.csv"))
    assert DuplicateFlag.objects.get(pk=flag.pk).state == "dismissed"
    assert {"Pendant Publishing", "J. Peterman Catalog"} not in groups(US_ORG, "customer")
    assert "Pendant" not in (tmp_path / "f.csv").read_text()


def test_the_command_fails_with_the_reason_when_books_cannot_be_reached(sandbox, demo_config, settings):
    from integration.zoho import http

    settings.AUDIT_READ_RETRIES = 0
    http.set_transport(None)
    settings.ZOHO_API_DOMAIN = settings.ZOHO_ACCOUNTS_URL = "http://127.0.0.1:9"  # nothing listens there
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 organization"):
        call_command("audit_duplicates", "--org", "UK-LTD", stdout=io.StringIO(), stderr=err)
    assert "UK-LTD: Books organization 60002002 could not be audited: Could not reach Zoho" in err.getvalue()
    run = AuditRun.objects.get()
    assert run.state == "failed" and "Could not reach Zoho" in run.error
    with pytest.raises(CommandError, match="Unknown legal entity code 'NOPE'"):
        audit("--org", "NOPE")


def test_two_runs_of_one_organization_never_overlap(sandbox, demo_config, django_capture_on_commit_callbacks):
    entity = LegalEntity.objects.get(code="US-LLC")
    first, created = audit_start(entity=entity, queue=False)
    assert created and audit_claim(first.pk) is not None  # a worker holds it
    second, created = audit_start(entity=entity, queue=False)
    assert second.pk == first.pk and not created
    assert audit_claim(first.pk) is None  # a second worker keeps off
    with pytest.raises(CommandError):
        audit("--org", "US-LLC")
    assert AuditRun.objects.count() == 1


def test_an_interrupted_run_carries_on_from_the_next_page(sandbox, demo_config, django_capture_on_commit_callbacks):
    entity = LegalEntity.objects.get(code="US-LLC")
    run, _ = audit_start(entity=entity, queue=False)
    run = audit_claim(run.pk)
    _Worker(run).step()  # page 1 of the items read and kept…
    _save(run)
    assert run.next_page == 2 and run.items_read == 200
    AuditRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))  # …then it died

    with django_capture_on_commit_callbacks(execute=True):
        audits_due()  # beat's hourly look wakes it; the worker (eager here) finishes it
    run.refresh_from_db()
    assert (run.state, run.items_read, run.item_groups) == ("done", 247, len(AUDIT_ITEM_GROUPS))
    assert len(sandbox.calls_to("GET", r"/items$", org=US_ORG)) == 2  # page 1 was not read again
    assert not run.pages.exists()


def test_audits_are_due_quarterly_and_configurable(sandbox, demo_config, settings, django_capture_on_commit_callbacks):
    assert settings.CELERY_BEAT_SCHEDULE["audits-due"]["task"] == "integration.tasks.audit_due_task"
    settings.AUDIT_EVERY_DAYS = 0
    assert audits_due() == []
    settings.AUDIT_EVERY_DAYS = 91
    with django_capture_on_commit_callbacks(execute=True):
        started = audits_due()
    active = LegalEntity.objects.filter(active=True).count()
    assert len(started) == active and all(r.trigger == "schedule" for r in started)
    assert AuditRun.objects.filter(state="done").count() == active
    assert audits_due() == []  # all audited within 91 days
    AuditRun.objects.update(finished_at=timezone.now() - timedelta(days=92))
    with django_capture_on_commit_callbacks(execute=True):
        assert len(audits_due()) == active


def test_only_finance_decides_and_a_reviewer_only_looks(client, sandbox, demo_config):
    audit("--org", "US-LLC")
    flag = flag_of("Hinge Bracket")
    flag_dismiss(flag_id=flag_of("Pendant Publishing").pk, user=UserFactory(username="dora"))
    client.force_login(UserFactory(groups=["reviewer"]))
    assert "dora: not duplicates — “J. Peterman Catalog”" in client.get("/activity/").text
    page = client.get("/audits/")
    assert page.status_code == 200 and "Hinge Bracket (old)" in page.text and "Not duplicates</button>" not in page.text
    assert client.post(f"/audits/groups/{flag.pk}/dismiss/").status_code == 403
    assert client.post("/audits/run/").status_code == 403
    export = client.get("/audits/findings.csv?entity=US-LLC&kind=item")
    assert export.text.splitlines()[0] == "legal_entity,kind,group,books_id,name,sku,status,reason,score"
    assert len(export.text.splitlines()) == 1 + 2 * len(AUDIT_ITEM_GROUPS)
    client.force_login(UserFactory(groups=[]))
    assert client.get("/audits/").status_code == 403


def keep_then_replay(sandbox, push: InvoicePush, *, member: str, keep: str, on_commit) -> dict:
    """Finance keeps `keep` of the group holding `member`, then replays the push; the push's invoice in Books."""
    from integration.services.review import push_replay

    flag = flag_of(member)
    flag_resolve(flag_id=flag.pk, survivor_id=member_id(flag, keep), user=UserFactory())
    with on_commit(execute=True):
        push_replay(push=push, user=UserFactory(), why="replayed after the merge")
    push.refresh_from_db()
    assert push.state == "pushed", push.error
    [invoice] = [i for i in sandbox.orgs[US_ORG].invoices.values() if i["reference_number"] == push.deal_id]
    return invoice


def test_after_a_merge_a_push_takes_the_kept_item_instead_of_asking_again(
    sandbox, demo_config, press, django_capture_on_commit_callbacks
):
    from sandbox.demo import deal_id

    audit("--org", "US-LLC")
    sandbox.crm["Products"][product_id(4)]["Product_Code"] = " hb-1000 "  # Globex's Gizmo line, as Hinge Bracket
    push = InvoicePush.objects.get(pk=press(deal_id(2))[1]["push_id"])
    assert push.state == "failed" and "matches 2 Books items" in push.error  # which of the two? a person decides
    keep = member_id(flag_of("Hinge Bracket"), "Hinge Bracket (old)")  # finance keeps the lower-case one
    invoice = keep_then_replay(
        sandbox, push, member="Hinge Bracket", keep="Hinge Bracket (old)", on_commit=django_capture_on_commit_callbacks
    )
    assert keep in {ln["item_id"] for ln in invoice["line_items"]}
    assert ItemLink.objects.get(crm_product_id=product_id(4)).books_item_id == keep


def test_after_a_merge_a_push_takes_the_kept_customer_instead_of_asking_again(
    sandbox, demo_config, press, django_capture_on_commit_callbacks
):
    from sandbox.demo import account_id, deal_id

    audit("--org", "US-LLC")
    sandbox.crm["Accounts"][account_id(2)]["Account_Name"] = "Kramerica Industries"  # Globex's deal, as Kramerica
    push = InvoicePush.objects.get(pk=press(deal_id(2))[1]["push_id"])
    assert push.state == "failed" and "2 Books customers match" in push.error
    keep = member_id(flag_of("Cosmo Kramer"), "Kramerica Industries")
    invoice = keep_then_replay(
        sandbox, push, member="Cosmo Kramer", keep="Kramerica Industries", on_commit=django_capture_on_commit_callbacks
    )
    assert invoice["customer_id"] == keep


def test_the_command_draws_a_progress_bar_on_a_terminal(sandbox, demo_config):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    err = Terminal()
    call_command("audit_duplicates", "--org", "US-LLC", stdout=io.StringIO(), stderr=err)
    frames = err.getvalue().split("\r")
    assert frames[1].startswith("[") and "Reading the items — 200 items" in frames[1]
    assert frames[-1].startswith("[" + "#" * 30 + "] 100% US-LLC: Done — 247 items, 10 customers, 3 Books calls")


def test_the_findings_come_a_page_at_a_time(client, demo_config):
    entity = LegalEntity.objects.get(code="US-LLC")
    for n in range(60):
        DuplicateFlag.objects.create(
            legal_entity=entity,
            organization_id=entity.books_org_id,
            kind="item",
            key=f"k{n}",
            reason="same name",
            score=90,
            members=[{"books_id": str(n), "name": f"Part {n}", "sku": "", "status": "active", "links": []}],
        )
    client.force_login(UserFactory(groups=["finance-admin"]))
    first = client.get("/audits/?kind=item").text
    assert "Groups 1–50 of 60." in first and first.count('class="flag"') == 50
    second = client.get("/audits/?kind=item&page=2").text
    assert second.count('class="flag"') == 10 and "← Previous" in second


def test_a_failed_audit_keeps_no_secret_in_its_reason(sandbox, demo_config, settings):
    settings.AUDIT_READ_RETRIES = 0
    sandbox.add_fault("error", method="GET", path="/items", message=f"bad token {settings.ZOHO_REFRESH_TOKEN}")
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("audit_duplicates", "--org", "US-LLC", stdout=io.StringIO(), stderr=err)
    run = AuditRun.objects.get()
    assert run.state == "failed" and "bad token" in run.error
    assert settings.ZOHO_REFRESH_TOKEN not in run.error and settings.ZOHO_REFRESH_TOKEN not in err.getvalue()
    assert not run.pages.exists()  # the next run starts from the first page


def test_the_progress_panel_shows_each_entitys_latest_run_in_a_few_queries(
    client, demo_config, django_assert_max_num_queries
):
    uk, us = LegalEntity.objects.get(code="UK-LTD"), LegalEntity.objects.get(code="US-LLC")
    AuditRun.objects.create(legal_entity=uk, organization_id=uk.books_org_id, state="done", items_read=7)
    AuditRun.objects.bulk_create(
        AuditRun(legal_entity=us, organization_id=us.books_org_id, state="done") for _ in range(100)
    )
    DuplicateFlag.objects.bulk_create(
        DuplicateFlag(legal_entity=us, organization_id=us.books_org_id, kind="item", key=f"k{n}", reason="r", score=90)
        for n in range(300)
    )
    client.force_login(UserFactory(groups=["reviewer"]))
    with django_assert_max_num_queries(12):
        page = client.get("/audits/progress/").text
    uk_row = page.split("UK-LTD")[1].split("</tr>")[0]
    assert "7 items" in uk_row  # not hidden behind US-LLC's hundred newer runs
    assert 'href="?entity=US-LLC&amp;state=open">300</a>' in page
