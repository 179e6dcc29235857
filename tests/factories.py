from __future__ import annotations

import factory
from django.contrib.auth.models import Group, User

from integration.models import InvoicePush, LegalEntity, TaxRule


class LegalEntityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LegalEntity
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"ENT-{n}")
    name = factory.LazyAttribute(lambda o: f"{o.code} Ltd")
    books_org_id = factory.Sequence(lambda n: str(70000000 + n))


class TaxRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TaxRule

    legal_entity = factory.SubFactory(LegalEntityFactory)
    country = "US"
    state = ""
    tax_authority = factory.Sequence(lambda n: f"AUTH_{n}")


class InvoicePushFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InvoicePush

    deal_id = factory.Sequence(lambda n: f"57257670009{n:08d}")
    deal_name = factory.Sequence(lambda n: f"Deal {n}")
    legal_entity = factory.SubFactory(LegalEntityFactory)
    organization_id = factory.LazyAttribute(lambda o: o.legal_entity.books_org_id)
    state = InvoicePush.State.QUEUED


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw-for-tests")

    @factory.post_generation
    def groups(self, create, extracted, **kwargs):
        if create and extracted:
            if Group.objects.filter(name__in=extracted).count() < len(set(extracted)):
                _recreate_roles()  # a transactional test flushed the groups the migration made
            self.groups.set(Group.objects.filter(name__in=extracted))


def _recreate_roles() -> None:
    """The two roles with their permissions, as the integration and audits 0002 migrations create them."""
    import importlib

    from django.contrib.auth.models import Permission

    roles = importlib.import_module("integration.migrations.0002_groups")
    for name, perms in (("reviewer", roles.REVIEWER), ("finance-admin", roles.FINANCE_ADMIN)):
        group, _ = Group.objects.get_or_create(name=name)
        for dotted in perms:
            app_label, codename = dotted.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    audits = importlib.import_module("audits.migrations.0002_groups")
    for name, codenames in (("reviewer", audits.REVIEWER), ("finance-admin", audits.FINANCE_ADMIN)):
        group = Group.objects.get(name=name)
        group.permissions.add(*Permission.objects.filter(content_type__app_label="audits", codename__in=codenames))
