"""People: a finance administrator gives a role to someone who signed in without one (with Zoho, say), changes it
or takes it away, on a screen — never their own, never a superuser's — and the activity list says who did it."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_finance_admin_gives_a_role_to_someone_waiting_and_it_is_in_the_activity(client):
    admin = UserFactory(username="fiona", groups=["finance-admin"])
    newcomer = UserFactory(username="maria", email="maria@acme.example")
    client.force_login(admin)
    page = client.get("/people/").content.decode()
    assert "<b>1</b> person is waiting for a role." in page and "maria@acme.example" in page
    table = page.split("<tbody>")[1]
    assert table.index("maria") < table.index("fiona")  # the ones waiting come first
    done = client.post(f"/people/{newcomer.pk}/role/", {"role": "reviewer"}, follow=True).content.decode()
    assert "maria is now a reviewer." in done
    assert list(newcomer.groups.values_list("name", flat=True)) == ["reviewer"]
    client.post(f"/people/{newcomer.pk}/role/", {"role": "finance-admin"})
    assert list(newcomer.groups.values_list("name", flat=True)) == ["finance-admin"]  # one role at a time
    activity = client.get("/activity/").content.decode()
    assert "maria: Role: no role → reviewer" in activity and "maria: Role: reviewer → finance administrator" in activity


def test_nobody_changes_their_own_role_or_a_superusers_or_gives_an_unknown_one(client):
    admin = UserFactory(username="fiona", groups=["finance-admin"])
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    other = UserFactory(username="rob", groups=["reviewer"])
    client.force_login(admin)
    own = client.post(f"/people/{admin.pk}/role/", {"role": ""}, follow=True).content.decode()
    assert "You cannot change your own role" in own and admin.groups.filter(name="finance-admin").exists()
    su = client.post(f"/people/{root.pk}/role/", {"role": "reviewer"}, follow=True).content.decode()
    assert "root is a superuser" in su and not root.groups.exists()
    bad = client.post(f"/people/{other.pk}/role/", {"role": "owner"}, follow=True).content.decode()
    assert "Choose no role, reviewer or finance administrator." in bad
    assert list(other.groups.values_list("name", flat=True)) == ["reviewer"]
    client.post(f"/people/{other.pk}/role/", {"role": ""})
    assert not other.groups.exists()  # the role taken away: rob sees nothing now
