from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError, connection, transaction

from integration.models import InvoicePush, TaxRule
from tests.conftest import at_once
from tests.factories import InvoicePushFactory, LegalEntityFactory, TaxRuleFactory


def test_the_suite_runs_on_postgresql():
    # The constraint and locking tests below mean little on SQLite; the README's test command uses PostgreSQL.
    assert connection.vendor == "postgresql"


@pytest.mark.django_db
def test_a_deal_has_at_most_one_active_push():
    push = InvoicePushFactory(state=InvoicePush.State.QUEUED)
    for state in ("pending_review", "queued", "running", "failed"):
        with pytest.raises(IntegrityError), transaction.atomic():
            InvoicePushFactory(deal_id=push.deal_id, legal_entity=push.legal_entity, state=state)


@pytest.mark.django_db
def test_blocked_and_rejected_pushes_do_not_hold_the_deal():
    push = InvoicePushFactory(state=InvoicePush.State.BLOCKED)
    InvoicePushFactory(deal_id=push.deal_id, state=InvoicePush.State.BLOCKED)
    InvoicePushFactory(deal_id=push.deal_id, state=InvoicePush.State.REJECTED)
    InvoicePushFactory(deal_id=push.deal_id, state=InvoicePush.State.QUEUED)
    assert InvoicePush.objects.filter(deal_id=push.deal_id).count() == 4


@pytest.mark.django_db
def test_a_pushed_push_must_name_its_invoice():
    with pytest.raises(IntegrityError), transaction.atomic():
        InvoicePushFactory(state=InvoicePush.State.PUSHED, invoice_id="")
    InvoicePushFactory(state=InvoicePush.State.PUSHED, invoice_id="460000000001")


@pytest.mark.django_db(transaction=True)
def test_concurrent_inserts_for_one_deal_leave_exactly_one_active_push():
    entity = LegalEntityFactory()

    def press() -> str:
        try:
            InvoicePush.objects.create(deal_id="D-RACE", legal_entity=entity, state=InvoicePush.State.QUEUED)
            return "created"
        except IntegrityError:
            return "refused"

    outcomes = at_once(8, press)
    assert sorted(outcomes) == ["created"] + ["refused"] * 7
    assert InvoicePush.objects.filter(deal_id="D-RACE").count() == 1


@pytest.mark.django_db
def test_a_region_has_one_rule_per_entity_and_one_for_all_entities():
    entity = LegalEntityFactory()
    TaxRuleFactory(legal_entity=entity, country="US", state="CA")
    TaxRuleFactory(legal_entity=None, country="US", state="CA")
    with pytest.raises(IntegrityError), transaction.atomic():
        TaxRuleFactory(legal_entity=entity, country="US", state="CA")
    with pytest.raises(IntegrityError), transaction.atomic():
        TaxRuleFactory(legal_entity=None, country="US", state="CA")  # NULL entity still collides
    assert TaxRule.objects.count() == 2


@pytest.mark.django_db
def test_tax_rules_need_an_iso_country_and_an_authority():
    with pytest.raises(IntegrityError), transaction.atomic():
        TaxRuleFactory(country="us")
    with pytest.raises(IntegrityError), transaction.atomic():
        TaxRuleFactory(tax_authority="")


@pytest.mark.django_db
def test_state_machine_allows_only_listed_moves():
    push = InvoicePushFactory(state=InvoicePush.State.FAILED)
    assert push.can_move_to("queued")
    assert not push.can_move_to("pushed")
    push.state = InvoicePush.State.PUSHED
    assert not push.can_move_to("queued")


@pytest.mark.django_db
def test_configuration_changes_keep_an_audit_trail():
    entity = LegalEntityFactory(code="US-LLC", name="Acme")
    entity.name = "Acme Widgets"
    entity.save()
    assert [h.name for h in entity.history.all()] == ["Acme Widgets", "Acme"]
    rule = TaxRuleFactory(legal_entity=entity)
    rule_id = rule.id
    rule.delete()
    assert TaxRule.history.filter(id=rule_id).first().history_type == "-"


@pytest.mark.django_db
def test_migrations_create_the_two_roles():
    reviewer = set(Group.objects.get(name="reviewer").permissions.values_list("codename", flat=True))
    admin = set(Group.objects.get(name="finance-admin").permissions.values_list("codename", flat=True))
    assert "review_invoicepush" in reviewer and "view_taxrule" in reviewer
    assert not {"change_taxrule", "change_legalentity", "add_taxrule"} & reviewer
    assert reviewer < admin
    assert {"add_legalentity", "change_legalentity", "delete_legalentity", "change_taxrule"} <= admin


@pytest.mark.django_db
def test_only_listed_moves_can_be_made():
    from integration.services.review import push_move

    push = InvoicePushFactory(state=InvoicePush.State.PUSHED, invoice_id="4601")
    with pytest.raises(ValueError, match="never moves from pushed to queued"):
        push_move(push, "pushed", "queued", "Replayed")
    push.refresh_from_db()
    assert push.state == "pushed"
