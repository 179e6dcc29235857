"""A bounded, deterministic fuzz of everything outsiders can send: the CRM button, Books webhooks and the CSV
imports (screen and commands). Any 5xx fails, and so does any work left received or pending afterwards."""

from __future__ import annotations

import contextlib
import io
import json
import random

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from integration.models import CliqPost, InvoicePush, WebhookDelivery
from sandbox.demo import US_ORG, deal_id
from tests.conftest import sign
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

SEED = 20261204
ROUNDS = 150
NASTY_TEXT = [
    "", " ", ".", "..", "/", "../..", "%00", "\x00", "\ud800", "é" * 40, "=HYPERLINK(1)", "+1", "-1", "@x", "\r\n",
    "a" * 5000, "0" * 40, "1e400", "NaN", "null", "[]", "{}", "\t", "\u202e", "🙂", "<script>", "'; drop table x;--",
]  # fmt: skip
NASTY_JSON = [None, True, 0, -1, 2**70, 1.5, [], {}, [[[]]], {"": ""}, "x" * 100]
RAW_JSON = [b"NaN", b"Infinity", b"-Infinity", b"1e400", b'"\\u0000"', b'"\\ud800"', b"[" * 2000 + b"]" * 2000]


def nasty(rng: random.Random):
    return rng.choice([rng.choice(NASTY_TEXT), rng.choice(NASTY_JSON), str(rng.randrange(10**19))])


def mutate_body(rng: random.Random, base: dict) -> bytes:
    kind = rng.randrange(5)
    if kind == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 60)))
    if kind == 1:
        body = json.dumps(base).encode()
        return body.replace(b'"x"', rng.choice(RAW_JSON), 1) if b'"x"' in body else body + rng.choice(RAW_JSON)
    body = {k: (nasty(rng) if rng.random() < 0.5 else v) for k, v in base.items()}
    for _ in range(rng.randrange(3)):
        body[rng.choice(NASTY_TEXT) if rng.random() < 0.5 else "x"] = nasty(rng)
    try:
        return json.dumps(body).encode()
    except (UnicodeEncodeError, ValueError):
        return json.dumps(body, ensure_ascii=True).encode("utf-8", "surrogatepass")


def test_fuzz_the_machine_endpoints_and_csv_imports(settings, sandbox, demo_config, tmp_path):
    rng = random.Random(SEED)
    client = Client(raise_request_exception=False)
    failures = []

    def check(what: str, resp) -> None:
        if resp.status_code >= 500:
            failures.append(f"{what}: HTTP {resp.status_code}")
        elif resp.get("Content-Type", "").startswith("application/json"):
            assert "message" in resp.json(), what

    for round_ in range(ROUNDS):
        # the CRM button: a real signature over a hostile body, or hostile headers
        base = {"deal_id": rng.choice([deal_id(rng.randrange(1, 17)), "x"]), "user": "x"}
        body = mutate_body(rng, base)
        headers = sign(body, secret=settings.CRM_BUTTON_SECRET)
        if rng.random() < 0.3:
            headers[rng.choice(["X-Signature", "X-Timestamp"])] = (
                str(nasty(rng))[:200].encode("utf-8", "replace").decode("latin-1")
            )
        resp = client.post("/api/crm/generate-invoice/", body, content_type="application/json", headers=headers)
        check(f"round {round_} button {body[:80]!r}", resp)

        # a Books webhook: hostile organization ids in the address, hostile entities in the body
        org = rng.choice([US_ORG, "..", ".", "%2e%2e", "%00", "é", "x" * 300, str(rng.randrange(10**12))])
        entity = rng.choice(["invoice", "payment", "creditnote", "creditnote_refund", "x"])
        body = mutate_body(rng, {entity: {f"{entity}_id": rng.choice(["x", "460000000001001", nasty(rng)])}})
        resp = client.post(
            f"/api/books/webhook/{org}/",
            body,
            content_type="application/json",
            headers={"X-Webhook-Token": settings.BOOKS_WEBHOOK_TOKEN},
        )
        check(f"round {round_} webhook {org!r} {body[:80]!r}", resp)

    # the CSV imports, on the screen and from the command line
    admin = Client(raise_request_exception=False)
    admin.force_login(UserFactory(groups=["finance-admin"]))
    headers = ["code,name,books_org_id,require_review", "legal_entity,country,state,tax_authority,tax_treatment"]
    for round_ in range(40):
        header = rng.choice([*headers, "code,code,name", "", "\x00", "a" * 300])
        rows = [
            ",".join(str(nasty(rng)).replace("\n", " ") for _ in range(rng.randrange(0, 7)))
            for _ in range(rng.randrange(0, 20))
        ]
        content = (header + "\n" + "\n".join(rows)).encode("utf-8", "surrogatepass")
        table = rng.choice(["legal_entities", "tax_map", "x"])
        upload = SimpleUploadedFile("t.csv", content)
        check(f"csv round {round_}", admin.post("/tables/import/", {"table": table, "file": upload}))
        path = tmp_path / f"{round_}.csv"
        path.write_bytes(content)
        with contextlib.suppress(CommandError):  # refused with a message: what we want
            call_command(rng.choice(["import_legal_entities", "import_tax_map"]), str(path), stderr=io.StringIO())

    assert failures == [], "\n".join(failures[:20])
    assert not WebhookDelivery.objects.filter(state="received").exists()
    assert not CliqPost.objects.filter(state__in=["pending", "sending"]).exists()
    assert not InvoicePush.objects.filter(state__in=["queued", "running"]).exists()
