"""The legal-entity and tax-map screen, and who may see what (CONTRACT.md §7): reviewers read, finance-admins
edit with the CSV import's checks, users without a role see nothing."""

from __future__ import annotations

import io

import pytest

from integration.models import LegalEntity, TaxRule
from tests.factories import InvoicePushFactory, LegalEntityFactory, TaxRuleFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def finance(client):
    client.force_login(UserFactory(groups=["finance-admin"]))
    return client


@pytest.mark.parametrize("url", ["/", "/tables/", "/pushes/{push}/"])
def test_a_user_without_a_role_sees_a_page_saying_so_and_no_data(client, demo_config, url):
    push = InvoicePushFactory(deal_name="Secret deal")
    client.force_login(UserFactory())
    resp = client.get(url.format(push=push.pk))
    page = resp.content.decode()
    assert resp.status_code == 403 and "You have no role yet" in page
    assert "Secret deal" not in page and "US-LLC" not in page and "BOE_CA" not in page


@pytest.mark.parametrize("url", ["/", "/tables/", "/pushes/1/"])
def test_anonymous_users_are_sent_to_log_in(client, url):
    resp = client.get(url)
    assert resp.status_code == 302 and resp["Location"].startswith("/accounts/login/")


def test_a_reviewer_reads_the_tables_but_cannot_change_them(client, demo_config):
    client.force_login(UserFactory(groups=["reviewer"]))
    page = client.get("/tables/").content.decode()
    assert "BOE_CA" in page and "business_gst" in page
    assert "Add the rule" not in page and "Test connection" not in page and ">Edit<" not in page
    rule = TaxRule.objects.first()
    row = {"legal_entity": "", "country": "US", "state": "TX", "tax_authority": "TX_CPA"}
    assert client.post("/tables/tax-rules/add/", row).status_code == 403
    assert client.post(f"/tables/tax-rules/{rule.pk}/delete/").status_code == 403
    assert client.get(f"/tables/tax-rules/{rule.pk}/").status_code == 403
    assert client.post("/tables/entities/US-LLC/test-connection/").status_code == 403
    assert TaxRule.objects.count() == 6


def test_finance_adds_a_rule_and_a_bad_one_is_refused_in_plain_words(finance, demo_config):
    done = finance.post(
        "/tables/tax-rules/add/",
        {"legal_entity": "US-LLC", "country": "United States", "state": "Texas", "tax_authority": "TX_CPA"},
        follow=True,
    )
    # The entity's edition is not known yet (never read from Books), so Books' list cannot be asked for.
    assert "Saved: US/TX (US-LLC) → TX_CPA." in done.content.decode()
    assert TaxRule.objects.filter(country="US", state="TX", tax_authority="TX_CPA").exists()
    for row, problem in [
        ({"country": "US", "state": "Atlantis", "tax_authority": "X"}, "State &#x27;Atlantis&#x27; is not a state"),
        ({"country": "US", "state": "TX", "tax_authority": "X", "legal_entity": "US-LLC"}, "already a rule for US/TX"),
        (
            {"country": "GB", "tax_authority": "HMRC", "tax_treatment": "uk"},
            "A rule names either a tax authority or a tax treatment, not both",
        ),
    ]:
        resp = finance.post("/tables/tax-rules/add/", {"legal_entity": "", "state": "", **row})
        assert resp.status_code == 400 and problem in resp.content.decode(), problem
        assert 'name="file"' in resp.content.decode()  # an error in one form leaves the CSV import's form in place
    assert TaxRule.objects.count() == 7


def test_an_authority_books_does_not_have_is_refused_with_the_list_books_has(finance, demo_config, sandbox):
    finance.post("/tables/entities/US-LLC/test-connection/")  # the edition is learnt: US, taxes by authority
    page = finance.get("/tables/").content.decode()
    # The form offers the organization's own authorities, each with its taxes and rates.
    assert '<datalist id="books-authorities">' in page and '<option value="NYS_DTF"' in page and "8.875 %" in page
    resp = finance.post(
        "/tables/tax-rules/add/",
        {"legal_entity": "US-LLC", "country": "US", "state": "Texas", "tax_authority": "TX_CPA", "tax_treatment": ""},
    )
    text = resp.content.decode()
    assert resp.status_code == 400 and "Books has no tax authority “TX_CPA” in the organization of US-LLC" in text
    assert "It has: BOE_CA (" in text and "NYS_DTF (8.875 %)" in text
    assert not TaxRule.objects.filter(tax_authority="TX_CPA").exists()
    bad_csv = io.BytesIO(b"legal_entity,country,state,tax_authority,tax_treatment\nUS-LLC,US,TX,TX_CPA,\n")
    bad_csv.name = "tax_map.csv"
    done = finance.post("/tables/import/", {"table": "tax_map", "file": bad_csv}, follow=True).content.decode()
    assert "Nothing was imported: line 2: Books has no tax authority “TX_CPA”" in done
    assert not TaxRule.objects.filter(tax_authority="TX_CPA").exists()
    saved = finance.post(
        "/tables/tax-rules/add/",
        {"legal_entity": "US-LLC", "country": "US", "state": "OR", "tax_authority": "WA_DOR", "tax_treatment": ""},
    )
    assert saved.status_code == 302 and TaxRule.objects.filter(state="OR", tax_authority="WA_DOR").exists()
    # The tester names the tax each rate gets under the rule's authority.
    tested = finance.get("/tables/", {"legal_entity": "US-LLC", "country": "US", "state": "New York"}).content.decode()
    assert "For US/NY, US-LLC uses: US/NY (US-LLC) → NYS_DTF." in tested and "8.875 %" in tested.split("answer")[1]


def test_finance_tests_the_connection_then_the_edition_checks_apply(finance, demo_config, sandbox):
    done = finance.post("/tables/entities/UK-LTD/test-connection/", follow=True).content.decode()
    assert "UK-LTD: connected to Acme Widgets Ltd (GBP), UK, home state England." in done
    assert LegalEntity.objects.get(code="UK-LTD").books_edition == "uk"
    resp = finance.post(
        "/tables/tax-rules/add/", {"legal_entity": "UK-LTD", "country": "GB", "state": "SCT", "tax_authority": "HMRC"}
    )
    assert resp.status_code == 400
    assert "which has no tax authorities: give a tax treatment instead" in resp.content.decode()


def test_finance_edits_and_deletes_a_rule_and_sees_its_history(finance, demo_config):
    rule = TaxRule.objects.get(country="US", state="NY")
    page = finance.get(f"/tables/tax-rules/{rule.pk}/").content.decode()
    assert "NYS_DTF" in page and "CSV import" in page  # the history says where it came from
    finance.post(
        f"/tables/tax-rules/{rule.pk}/",
        {"legal_entity": "US-LLC", "country": "US", "state": "NY", "tax_authority": "NY_DTF"},
    )
    rule.refresh_from_db()
    assert rule.tax_authority == "NY_DTF"
    assert "Tax map screen" in finance.get(f"/tables/tax-rules/{rule.pk}/").content.decode()
    finance.post(f"/tables/tax-rules/{rule.pk}/delete/")
    assert not TaxRule.objects.filter(pk=rule.pk).exists()


def test_the_rule_tester_says_which_rule_applies(finance, demo_config):
    page = finance.get("/tables/", {"legal_entity": "US-LLC", "country": "USA", "state": "California"})
    assert "For US/CA, US-LLC uses: US/CA (US-LLC) → BOE_CA." in page.content.decode()
    page = finance.get("/tables/", {"legal_entity": "US-LLC", "country": "US", "state": "TX"})
    assert "No rule applies to US/TX for US-LLC: a taxed deal there is blocked." in page.content.decode()


def test_finance_adds_and_edits_a_legal_entity_one_organization_each(finance, demo_config):
    added = finance.post(
        "/tables/entities/add/",
        {"code": "DE-GMBH", "name": "Acme Widgets GmbH", "books_org_id": "60005005", "require_review": "on"},
        follow=True,
    ).content.decode()
    assert "Saved: DE-GMBH — Acme Widgets GmbH." in added
    assert LegalEntity.objects.get(code="DE-GMBH").require_review
    taken = finance.post("/tables/entities/add/", {"code": "X", "name": "X", "books_org_id": "60001001"})
    assert taken.status_code == 400 and "already belongs to legal entity US-LLC" in taken.content.decode()
    bad = finance.post("/tables/entities/DE-GMBH/edit/", {"code": "DE-AG", "name": "", "books_org_id": "abc 123"})
    page = bad.content.decode()
    assert (bad.status_code == 400 and "The code cannot change" in page) or "This field is required" in page
    finance.post("/tables/entities/DE-GMBH/edit/", {"code": "DE-GMBH", "name": "Acme GmbH", "books_org_id": "60005005"})
    entity = LegalEntity.objects.get(code="DE-GMBH")
    assert (entity.name, entity.require_review) == ("Acme GmbH", False)
    assert "Legal entities screen" in finance.get("/tables/entities/DE-GMBH/edit/").content.decode()


def test_an_entity_is_checked_in_books_on_save_and_switched_off_and_on_on_the_screen(finance, demo_config, sandbox):
    unknown = finance.post("/tables/entities/add/", {"code": "DE-GMBH", "name": "Acme GmbH", "books_org_id": "999"})
    text = unknown.content.decode()
    assert unknown.status_code == 400 and "Books does not know organization 999" in text and "6041" in text
    assert not LegalEntity.objects.filter(code="DE-GMBH").exists()
    edited = finance.post(
        "/tables/entities/UK-LTD/edit/",
        {"code": "UK-LTD", "name": "Acme Widgets Ltd", "books_org_id": "60002002"},
        follow=True,
    ).content.decode()
    assert "checked in Books: Acme Widgets Ltd, UK" in edited
    assert LegalEntity.objects.get(code="UK-LTD").books_edition == "uk"  # learnt from Books on save
    off = finance.post("/tables/entities/UK-LTD/active/", {"active": "false"}, follow=True).content.decode()
    assert "UK-LTD is off" in off and not LegalEntity.objects.get(code="UK-LTD").active
    assert "Switch on" in off.split("<td>UK-LTD</td>")[1].split("</tr>")[0]
    finance.post("/tables/entities/UK-LTD/active/", {"active": "true"})
    entity = LegalEntity.objects.get(code="UK-LTD")
    assert entity.active and entity.history.first().history_change_reason == "Switched on on the tables screen"


def test_csv_import_and_export_from_the_screen(finance, demo_config):
    from django.core.files.uploadedfile import SimpleUploadedFile

    exported = finance.get("/tables/export/tax_map.csv")
    assert exported["Content-Type"].startswith("text/csv")
    assert exported.content.decode().startswith("legal_entity,country,state,tax_authority,tax_treatment\n")
    bad = SimpleUploadedFile("t.csv", b"legal_entity,country,state,tax_authority\nUS-LLC,US,Atlantis,X\nNOPE,US,TX,Y\n")
    page = finance.post("/tables/import/", {"table": "tax_map", "file": bad}, follow=True).content.decode()
    assert "Nothing was imported: line 2: state" in page and "line 3: legal_entity" in page
    assert TaxRule.objects.count() == 6
    good = SimpleUploadedFile("t.csv", b"legal_entity,country,state,tax_authority\nUS-LLC,US,TX,TX_CPA\n")
    page = finance.post("/tables/import/", {"table": "tax_map", "file": good}, follow=True).content.decode()
    assert "Imported: 1 created, 0 updated, 0 unchanged." in page and TaxRule.objects.count() == 7
    twice = SimpleUploadedFile(
        "e.csv", b"code,name,books_org_id,require_review\nA,A,60007007,false\nB,B,60007007,false\n"
    )
    page = finance.post("/tables/import/", {"table": "legal_entities", "file": twice}, follow=True).content.decode()
    assert "Books organization 60007007 is already A&#x27;s (line 2)" in page
    # The legal entities' download has every column, and reading it back (one entity switched off) applies it.
    exported = finance.get("/tables/export/legal_entities.csv").content.decode()
    assert exported.splitlines()[0] == "code,name,books_org_id,require_review,active,invoice_delivery,books_daily_cap"
    assert "US-LLC,Acme Widgets LLC,60001001,false,true,draft,1000" in exported
    switched = SimpleUploadedFile("e.csv", exported.replace("60001001,false,true", "60001001,false,false").encode())
    page = finance.post("/tables/import/", {"table": "legal_entities", "file": switched}, follow=True).content.decode()
    assert "Imported: 0 created, 1 updated, 3 unchanged." in page and not LegalEntity.objects.get(code="US-LLC").active


def test_every_staff_action_is_listed_with_who_and_when(client, press, sandbox, django_capture_on_commit_callbacks):
    from sandbox.demo import deal_id

    _, reply = press(deal_id(5))  # waits for review
    reviewer = UserFactory(username="rita", groups=["reviewer"])
    client.force_login(reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/pushes/{reply['push_id']}/approve/")
    admin = UserFactory(username="fred", groups=["finance-admin"])
    client.force_login(admin)
    client.post(
        "/tables/tax-rules/add/", {"legal_entity": "US-LLC", "country": "US", "state": "TX", "tax_authority": "X"}
    )
    page = client.get("/activity/").content.decode()
    assert "rita" in page and "Approved by rita" in page and f"#{reply['push_id']}" in page
    assert "fred" in page and "Added tax rule US/TX for US-LLC" in page
    client.force_login(UserFactory())
    assert client.get("/activity/").status_code == 403


def test_the_trail_says_what_changed_field_by_field_and_names_every_kind_of_decision(
    client, sandbox, demo_config, django_capture_on_commit_callbacks
):
    from audits.runs import audit_start
    from integration.models import LegalEntity, TaxRule

    admin = UserFactory(username="fred", groups=["finance-admin", "reviewer"])
    client.force_login(admin)
    rule = TaxRule.objects.get(legal_entity__code="US-LLC", country="US", state="CA")
    client.post(
        f"/tables/tax-rules/{rule.pk}/",
        {"legal_entity": "US-LLC", "country": "US", "state": "CA", "tax_authority": "BOE_CA", "tax_treatment": ""},
    )
    LegalEntity.objects.filter(code="US-LLC").update(books_org_name="")
    client.post("/tables/entities/US-LLC/test-connection/")
    with django_capture_on_commit_callbacks(execute=True):
        audit_start(entity=LegalEntity.objects.get(code="US-LLC"), trigger="screen", user=admin)
    page = client.get("/activity/").content.decode()
    assert "Tested the connection of legal entity US-LLC" in page and "Changed legal entity US-LLC" not in page
    assert "books_org_name: — → Acme Widgets LLC" in page
    assert "Duplicate audit of US-LLC: finished" in page


def test_the_trail_costs_the_same_few_queries_for_many_rows_and_survives_deleted_rows(client, demo_config):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from integration.models import LegalEntity, TaxRule

    client.force_login(UserFactory(groups=["reviewer"]))

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/activity/").status_code == 200
        return len(ctx)

    few = queries()
    entity = LegalEntityFactory(code="GONE", books_org_id="79999")
    for n in range(40):
        TaxRuleFactory(legal_entity=entity, country="US", state=f"S{n}", tax_authority="X")
    assert queries() == few
    TaxRule.objects.filter(legal_entity=entity).delete()
    LegalEntity.objects.filter(code="GONE").delete()
    page = client.get("/activity/")
    assert page.status_code == 200 and "tax rule US/S1 for GONE" in page.content.decode()


def test_the_admin_edits_the_tables_with_the_same_checks(client, demo_config):
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))
    us = LegalEntity.objects.get(code="US-LLC")
    bad = client.post(
        "/admin/integration/taxrule/add/",
        {"legal_entity": us.pk, "country": "USA", "state": "Atlantis", "tax_authority": "X", "tax_treatment": ""},
    )
    assert (
        bad.status_code == 200 and "State &#x27;Atlantis&#x27; is not a state or region of US." in bad.content.decode()
    )
    good = client.post(
        "/admin/integration/taxrule/add/",
        {
            "legal_entity": us.pk,
            "country": "United States",
            "state": "Texas",
            "tax_authority": "TX_CPA",
            "tax_treatment": "",
        },
    )
    assert good.status_code == 302 and TaxRule.objects.filter(country="US", state="TX", tax_authority="TX_CPA").exists()
    taken = client.post(
        "/admin/integration/legalentity/add/",
        {"code": "DUP", "name": "Dup", "books_org_id": "60001001", "invoice_delivery": "draft", "active": "on"},
    )
    assert taken.status_code == 200 and "already belongs to legal entity US-LLC" in taken.content.decode()
    assert not LegalEntity.objects.filter(code="DUP").exists()


def test_finance_checks_the_tax_map_against_books(finance, demo_config, sandbox):
    page = finance.post("/tables/entities/US-LLC/check-taxes/", follow=True).content.decode()
    assert "US-LLC — US/CA: BOE_CA has taxes at 7.25 %." in page
    TaxRule.objects.filter(state="NY").update(tax_authority="NO_SUCH")
    page = finance.post("/tables/entities/US-LLC/check-taxes/", follow=True).content.decode()
    assert (
        "tax map US/NY: Acme Widgets LLC has no active tax under the tax authority NO_SUCH "
        "(its authorities: BOE_CA, CA_DISTRICTS, NYS_DTF, WA_DOR); choose one of them for the rule." in page
    )
    page = finance.post("/tables/entities/UK-LTD/check-taxes/", follow=True).content.decode()
    assert "GB: treatment uk; Acme Widgets Ltd offers taxes at 0 %, 20 %, 5 %." in page


def test_a_csv_can_replace_a_table_after_a_preview_of_what_changes(finance, demo_config):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from integration.services.table_replace import replace_preview

    content = (
        "legal_entity,country,state,tax_authority,tax_treatment\r\n"
        "US-LLC,US,CA,BOE_CA,\r\nUS-LLC,US,NY,WA_DOR,\r\nUK-LTD,GB,,,uk\r\nUS-LLC,US,OR,WA_DOR,\r\n"
    )
    upload = SimpleUploadedFile("t.csv", content.encode())
    page = finance.post("/tables/import/", {"table": "tax_map", "file": upload, "mode": "replace"}).content.decode()
    assert "Replace the tax map with this file?" in page
    assert "<b>1</b> added, <b>1</b> changed, <b>3</b> removed" in page
    assert "US/OR (US-LLC) → WA_DOR" in page and "US/NY (US-LLC) → NYS_DTF becomes US/NY (US-LLC) → WA_DOR" in page
    assert "IN (IN-PVT) → business_gst" in page.split('id="removed-heading"')[1]
    assert TaxRule.objects.count() == 6  # a preview changes nothing
    fingerprint = replace_preview(table="tax_map", content=content).fingerprint
    form = {"table": "tax_map", "content": content, "fingerprint": fingerprint}
    # Someone edits the table between the preview and the click: nothing is applied, the new preview is shown.
    TaxRule.objects.filter(country="US", state="WA").update(tax_authority="BOE_CA")
    stale = finance.post("/tables/replace/", form)
    assert stale.status_code == 409 and "The table changed since you saw the preview" in stale.content.decode()
    assert TaxRule.objects.count() == 6
    fresh = replace_preview(table="tax_map", content=content).fingerprint
    done = finance.post("/tables/replace/", {**form, "fingerprint": fresh}, follow=True).content.decode()
    assert "The table is now the file: 1 created, 1 updated, 2 unchanged, 3 removed." in done
    rows = set(TaxRule.objects.values_list("country", "state", "tax_authority", "tax_treatment"))
    assert rows == {
        ("US", "CA", "BOE_CA", ""),
        ("US", "NY", "WA_DOR", ""),
        ("GB", "", "", "uk"),
        ("US", "OR", "WA_DOR", ""),
    }
    assert TaxRule.history.filter(history_type="-", history_change_reason="CSV replace on the screen").count() == 3


def test_replacing_the_legal_entities_switches_off_the_ones_not_in_the_file(finance, demo_config):
    from integration.services.table_replace import replace_apply, replace_preview

    content = "code,name,books_org_id,require_review\nUS-LLC,Acme Widgets LLC,60001001,false\n"
    preview = replace_preview(table="legal_entities", content=content)
    assert len(preview.removed) == 3 and "UK-LTD — Acme Widgets Ltd (switched off" in preview.removed[2]
    replace_apply(table="legal_entities", content=content, fingerprint=preview.fingerprint, source="test")
    assert set(LegalEntity.objects.filter(active=True).values_list("code", flat=True)) == {"US-LLC"}
    assert LegalEntity.objects.count() == 4  # switched off, not deleted: pushes and history point at them
