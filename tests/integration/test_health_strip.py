"""Problems find people: every screen carries a strip for what needs attention — an organization Books cannot be
read for, a daily allowance nearly spent, failing webhook deliveries — each linking to its explanation."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.utils import timezone

from integration.import_jobs import BooksCallDay
from integration.models import LegalEntity, WebhookDelivery
from integration.services.reconcile import reconcile_all
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_an_organization_books_does_not_know_shows_on_every_screen_until_it_is_fixed(client, demo_config, sandbox):
    LegalEntity.objects.filter(code="CA-INC").update(books_org_id="60009999")  # Books has no such organization
    reconcile_all()
    client.force_login(UserFactory(groups=["finance-admin"]))
    for url in ("/", "/tables/", "/deliveries/", "/activity/", "/audits/"):
        page = client.get(url).content.decode()
        strip = page.split('aria-label="Needs attention"')[1].split("</section>")[0]
        assert "CA-INC: Books organization 60009999 could not be read at the last check" in strip, url
        assert "6041" in strip and 'href="/setup/#org-CA-INC"' in strip, url
    setup = client.get("/setup/").content.decode()
    row = setup.split('id="org-CA-INC"')[1].split("</tr>")[0]
    assert "Books could not be read at the last check" in row and "switch the entity off" in row
    LegalEntity.objects.filter(code="CA-INC").update(books_org_id="60004004")
    reconcile_all()
    cache.clear()  # the strip is cached for a few seconds
    assert "could not be read" not in client.get("/").content.decode()


def test_an_allowance_nearly_spent_and_failing_webhooks_are_on_the_strip(client, demo_config):
    cache.clear()
    BooksCallDay.objects.create(day=timezone.now().date(), organization_id="60001001", work="push", calls=850)
    WebhookDelivery.objects.create(organization_id="60001001", kind="invoice", entity_id="1", state="failed")
    client.force_login(UserFactory(groups=["reviewer"]))
    page = client.get("/activity/").content.decode()
    strip = page.split('aria-label="Needs attention"')[1].split("</section>")[0]
    assert "US-LLC has used 850 of its 1,000 Books calls today." in strip
    assert "1 webhook delivery from Books failed." in strip and 'href="/deliveries/?state=failed"' in strip
    cache.clear()
    client.force_login(UserFactory())  # no role: no data, no strip
    assert "Needs attention" not in client.get("/").content.decode()
