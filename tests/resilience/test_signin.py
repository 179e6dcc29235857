"""Sign-in throttling behind the TLS proxy (integration/signin.py): the client's own address counts, an attacker
cannot lock a user out from elsewhere, and spraying from one address or at one user from many is stopped."""

from __future__ import annotations

import pytest

from integration.signin import client_ip
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.2"


@pytest.fixture(autouse=True)
def behind_the_proxy(settings):
    settings.TRUSTED_PROXIES = [PROXY]


def sign_in(client, username: str, password: str, address: str):
    return client.post(
        "/accounts/login/",
        {"username": username, "password": password},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=address,
    )


def signed_in(client) -> bool:
    signed = "_auth_user_id" in client.session
    client.logout()
    return signed


def test_the_client_address_is_the_proxys_word_only_when_it_comes_from_the_proxy(rf):
    assert client_ip(rf.get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="1.2.3.4")) == "1.2.3.4"
    assert client_ip(rf.get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="9.9.9.9, 1.2.3.4")) == "1.2.3.4"
    assert client_ip(rf.get("/", REMOTE_ADDR="5.6.7.8", HTTP_X_FORWARDED_FOR="1.2.3.4")) == "5.6.7.8"  # forged
    assert client_ip(rf.get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="not-an-ip")) == PROXY


def test_wrong_passwords_from_one_person_do_not_lock_the_user_out_elsewhere(client):
    UserFactory(username="fiona", password="right-password-123")
    for _ in range(6):
        sign_in(client, "fiona", "wrong", "198.51.100.7")
    assert sign_in(client, "fiona", "right-password-123", "198.51.100.7").status_code == 429  # locked there
    sign_in(client, "fiona", "right-password-123", "203.0.113.9")
    assert signed_in(client)  # …but not from her own address


def test_password_spraying_from_one_address_is_stopped(client, settings):
    victims = [UserFactory(username=f"user{n}", password="right-password-123") for n in range(30)]
    for user in victims[:-1]:
        sign_in(client, user.username, "Winter2026!", "198.51.100.7")
    resp = sign_in(client, victims[-1].username, "right-password-123", "198.51.100.7")
    assert "Too many failed sign-ins from your address" in resp.content.decode() and not signed_in(client)
    sign_in(client, victims[-1].username, "right-password-123", "203.0.113.9")
    assert signed_in(client)


def test_one_user_tried_from_many_addresses_is_stopped_except_where_she_signed_in_before(client, settings):
    UserFactory(username="fiona", password="right-password-123")
    sign_in(client, "fiona", "right-password-123", "203.0.113.9")
    assert signed_in(client)
    for n in range(settings.LOGIN_FAILURES_PER_USER + 2):
        sign_in(client, "fiona", "wrong", f"198.51.100.{n + 1}")
    resp = sign_in(client, "fiona", "right-password-123", "192.0.2.50")  # a new address, the right password
    assert "Too many failed sign-ins for this user" in resp.content.decode() and not signed_in(client)
    sign_in(client, "fiona", "right-password-123", "203.0.113.9")  # where she signed in before
    assert signed_in(client)
