"""Sign in with Zoho: staff log in with their Zoho account (django-allauth's Zoho provider, against the data
centre's accounts server — here the sandbox over HTTP), alongside passwords; a new Zoho user has no role until a
finance administrator gives one."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

pytestmark = pytest.mark.django_db

CLIENT = ("test-signin-client", "test-signin-secret")


@pytest.fixture
def zoho_signin(http_sandbox, settings):
    settings.SOCIALACCOUNT_PROVIDERS = {
        **settings.SOCIALACCOUNT_PROVIDERS,
        "zoho": {
            **settings.SOCIALACCOUNT_PROVIDERS["zoho"],
            "APPS": [{"client_id": CLIENT[0], "secret": CLIENT[1]}],
        },
    }
    http_sandbox.signin.register(*CLIENT, f"{settings.PUBLIC_BASE_URL}/auth/zoho/login/callback/")
    return http_sandbox


def sign_in(client, sandbox, *, zuid: int, answer: str = "accept"):
    """Press "Sign in with Zoho", answer Zoho's consent screen as that user, and come back."""
    page = client.get("/accounts/login/").content.decode()
    assert "Sign in with Zoho" in page
    started = client.post("/auth/zoho/login/")
    consent = started["Location"]
    assert consent.startswith(f"{sandbox.base_url}/oauth/v2/auth?")
    screen = httpx.get(consent)
    assert screen.status_code == 200 and "Sign in as" in screen.text
    params = {k: v[0] for k, v in parse_qs(urlsplit(consent).query).items()}
    answered = httpx.post(consent.split("?")[0], data={**params, "zuid": str(zuid), "answer": answer})
    back = urlsplit(answered.headers["location"])
    return client.get(back.path, {k: v[0] for k, v in parse_qs(back.query).items()}, follow=True)


def test_a_new_zoho_user_signs_in_and_has_no_role_until_given_one(client, zoho_signin):
    done = sign_in(client, zoho_signin, zuid=70000001)
    assert done.status_code == 403 and "no role yet" in done.content.decode()
    user = get_user_model().objects.get(email="maria.lopez@acme.example")
    assert not user.groups.exists() and not user.is_staff and not user.has_usable_password()
    user.groups.add(Group.objects.get(name="reviewer"))
    client.logout()
    again = sign_in(client, zoho_signin, zuid=70000001)
    assert again.status_code == 200 and "Invoice pushes" in again.content.decode()
    assert get_user_model().objects.filter(email="maria.lopez@acme.example").count() == 1  # the same user again


def test_an_existing_password_user_with_the_same_email_is_not_taken_over(client, zoho_signin):
    admin = get_user_model().objects.create_user("fred", "dev.patel@acme.example", "a long passphrase")
    admin.groups.add(Group.objects.get(name="finance-admin"))
    done = sign_in(client, zoho_signin, zuid=70000002)
    assert done.status_code == 403  # a user of its own, with no role — never fred's
    assert get_user_model().objects.filter(email="dev.patel@acme.example").count() == 2


def test_a_refused_consent_signs_nobody_in(client, zoho_signin):
    done = sign_in(client, zoho_signin, zuid=70000001, answer="deny")
    assert "_auth_user_id" not in client.session
    assert not get_user_model().objects.filter(email="maria.lopez@acme.example").exists()
    assert done.status_code == 200


def test_without_a_sign_in_client_the_login_page_offers_passwords_only(client, db):
    assert "Sign in with Zoho" not in client.get("/accounts/login/").content.decode()
