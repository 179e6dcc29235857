"""Every screen URL × role × method (and the htmx partials): who gets in, who is refused (CONTRACT.md §7).
Anonymous users are sent to log in; a user without a role gets the no-role page (403) everywhere; reviewers read
and review; finance-admins also edit the tables and see the setup; superusers do everything."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from audits.models import DuplicateFlag
from integration.models import BulkReplay, CliqPost, CsvImport, TaxRule, WebhookDelivery
from tests.factories import InvoicePushFactory, LegalEntityFactory, TaxRuleFactory, UserFactory

pytestmark = pytest.mark.django_db

READ, REVIEW, ADMIN = "read", "review", "admin"  # who may: both roles / reviewers (and up) / finance-admins
ENDPOINTS = [
    ("GET", "/", READ),
    ("GET", "/?state=failed&hx=1", READ),  # the htmx partial
    ("GET", "/pushes/{push}/", READ),
    ("POST", "/pushes/{push}/approve/", REVIEW),
    ("POST", "/pushes/{push}/reject/", REVIEW),
    ("POST", "/pushes/{push}/replay/", REVIEW),
    ("POST", "/pushes/{push}/decide/", ADMIN),
    ("POST", "/pushes/{push}/reissue/", REVIEW),
    ("GET", "/pushes/{push}/compare/", REVIEW),
    ("POST", "/pushes/replay-failed/", REVIEW),
    ("GET", "/pushes/bulk-form/?state=failed", REVIEW),
    ("GET", "/pushes/news/?after=0", READ),
    ("GET", "/bulk-replays/{bulk}/", READ),
    ("GET", "/bulk-replays/{bulk}/?hx=1", READ),
    ("GET", "/deliveries/", READ),
    ("GET", "/activity/", READ),
    ("POST", "/deliveries/{delivery}/retry/", REVIEW),
    ("POST", "/cliq/{post}/retry/", REVIEW),
    ("GET", "/setup/", ADMIN),
    ("GET", "/people/", ADMIN),
    ("POST", "/people/{user}/role/", ADMIN),
    ("GET", "/tables/", READ),
    ("POST", "/tables/tax-rules/add/", ADMIN),
    ("GET", "/tables/tax-rules/{rule}/", ADMIN),
    ("POST", "/tables/tax-rules/{rule}/", ADMIN),
    ("POST", "/tables/tax-rules/{rule}/delete/", ADMIN),
    ("POST", "/tables/entities/US-LLC/test-connection/", ADMIN),
    ("POST", "/tables/entities/US-LLC/check-taxes/", ADMIN),
    ("POST", "/tables/entities/US-LLC/active/", ADMIN),
    ("POST", "/pushes/{push}/plan-again/", REVIEW),
    ("GET", "/tables/entities/add/", ADMIN),
    ("GET", "/tables/entities/US-LLC/edit/", ADMIN),
    ("POST", "/tables/import/", ADMIN),
    ("POST", "/tables/replace/", ADMIN),
    ("GET", "/tables/imports/{csv_import}/", READ),
    ("GET", "/tables/imports/{csv_import}/?hx=1", READ),
    ("GET", "/tables/export/tax_map.csv", READ),
    ("GET", "/audits/", READ),
    ("GET", "/audits/progress/", READ),
    ("GET", "/audits/findings.csv", READ),
    ("POST", "/audits/run/", ADMIN),
    ("POST", "/audits/groups/{flag}/resolve/", ADMIN),
    ("POST", "/audits/groups/{flag}/dismiss/", ADMIN),
    ("POST", "/audits/groups/{flag}/undo/", ADMIN),
    ("POST", "/audits/groups/{flag}/put-back/", ADMIN),
]
ROLES = {
    "anonymous": None,
    "no role": [],
    "reviewer": ["reviewer"],
    "finance-admin": ["finance-admin"],
    "superuser": None,
}
ALLOWED = {
    "reviewer": {READ, REVIEW},
    "finance-admin": {READ, REVIEW, ADMIN},
    "superuser": {READ, REVIEW, ADMIN},
}


# Allowed, but the empty request the matrix sends is answered so (the permission check passed first).
ALLOWED_ANSWER = {
    ("POST", "/pushes/{push}/plan-again/"): 404,  # the push is not blocked: there is nothing to plan again
    ("POST", "/tables/tax-rules/add/"): 400,  # the form, with what is missing
    ("POST", "/tables/tax-rules/{rule}/"): 400,
}


def snapshot() -> list:
    """Everything a request could change, as plain values."""
    from audits.models import AuditRun, FlagEvent
    from integration.models import InvoicePush, LegalEntity, PushEvent

    return [
        list(model.objects.order_by("pk").values())
        for model in (
            TaxRule, LegalEntity, InvoicePush, PushEvent, WebhookDelivery, CliqPost, BulkReplay, CsvImport,
            DuplicateFlag, FlagEvent, AuditRun,
        )
    ] + [sorted(get_user_model().groups.through.objects.values_list("user_id", "group_id"))]  # fmt: skip


@pytest.fixture
def objects(sandbox):
    entity = LegalEntityFactory(code="US-LLC", books_org_id="60001001")
    rule = TaxRuleFactory(legal_entity=entity, country="US", state="CA", tax_authority="BOE_CA")
    push = InvoicePushFactory(legal_entity=entity, state="pending_review")
    delivery = WebhookDelivery.objects.create(organization_id="60001001", kind="invoice", state="processed")
    post = CliqPost.objects.create(organization_id="60001001", payment_id="1", invoice_id="2", text="x", state="sent")
    bulk = BulkReplay.objects.create(push_ids=[])
    csv_import = CsvImport.objects.create(table="tax_map", content="")
    flag = DuplicateFlag.objects.create(
        legal_entity=entity, organization_id="60001001", kind="item", key="k", reason="same name", score=90, members=[]
    )
    person = UserFactory(username="newcomer")
    return {
        "user": person.pk,
        "push": push.pk,
        "rule": rule.pk,
        "delivery": delivery.pk,
        "post": post.pk,
        "bulk": bulk.pk,
        "csv_import": csv_import.pk,
        "flag": flag.pk,
    }


@pytest.mark.parametrize("role", list(ROLES))
@pytest.mark.parametrize(("method", "url", "need"), ENDPOINTS)
def test_every_url_for_every_role(client, objects, role, method, url, need):
    if role == "superuser":
        client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))
    elif ROLES[role] is not None:
        client.force_login(UserFactory(groups=ROLES[role]))
    path = url.format(**objects)
    before = snapshot()
    headers = {"HX-Request": "true"} if "hx=1" in path else {}
    resp = client.get(path, headers=headers) if method == "GET" else client.post(path, {}, headers=headers)
    if role == "anonymous":
        assert resp.status_code == 302 and resp["Location"].startswith("/accounts/login/")
    elif role == "no role":
        assert resp.status_code == 403 and "You have no role yet" in resp.content.decode()
    elif need in ALLOWED[role]:
        # exactly what the action answers once allowed: a page, or a redirect to one (never to the log-in)
        expected = ALLOWED_ANSWER.get((method, url), 200 if method == "GET" else 302)
        assert resp.status_code == expected, resp.content[:300]
        if resp.status_code == 302:
            assert "login" not in resp["Location"]
    else:
        assert resp.status_code == 403
        assert snapshot() == before  # a refused request changed nothing at all


@pytest.mark.parametrize(
    "url", ["/pushes/{push}/approve/", "/tables/tax-rules/add/", "/tables/import/", "/audits/groups/{flag}/resolve/"]
)
def test_actions_refuse_get(client, objects, url):
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))
    assert client.get(url.format(**objects)).status_code == 405
