"""The clients against Zoho's documents (tests/contract/zoho_documents.py), over one run that makes every call the
product makes: pushes in every edition and in a foreign currency, a near-duplicate decision, a review, payments,
a credit note and its refund, a write-off, reconciliation, duplicate audits and a resolution, the preflight check.

Every request is recorded at the transport; every field our code reads from an answer is recorded as it is read.
Then: each request is a documented endpoint, sends only documented query parameters and body fields, needs a
scope the setup guide asks for; our parsing reads only documented fields; and the sandbox answers only with them."""

from __future__ import annotations

import io
import json
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from django.core.management import call_command

from audits.decisions import item_link_choose
from audits.models import DuplicateFlag
from audits.resolution import flag_resolve
from integration.models import InvoicePush, LegalEntity
from integration.services.preflight import zoho_check
from integration.services.reconcile import reconcile_all
from integration.services.review import push_approve, push_reject
from integration.setup_guide import OAUTH_SCOPES
from integration.zoho import auth, books, crm, http
from sandbox import SandboxTransport
from sandbox.demo import CA_ORG, US_ORG, deal_id, product_id
from tests.conftest import books_api
from tests.contract.zoho_documents import ASSUMED, CRM_ENVELOPE, ENDPOINTS, ENVELOPE, Endpoint, endpoint_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


class Recorder(httpx.BaseTransport):
    """The sandbox transport, writing down each request our clients send and each answer's body."""

    def __init__(self, inner: httpx.BaseTransport):
        self.inner = inner
        self.exchanges: list[dict] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        self.exchanges.append({"request": request, "status": response.status_code, "body": response.content})
        return response


def where(request: httpx.Request) -> tuple[str, str, str]:
    """(service, method, path under the service's base)."""
    path = request.url.path
    for service, base in (("books", "/books/v3"), ("crm", "/crm/v8")):
        if path.startswith(base + "/"):
            return service, request.method, path[len(base) :]
    return ("cliq" if path.startswith("/api/v2/") else "oauth"), request.method, path


class Tracked(dict):
    """A JSON object from Zoho that writes down every field read from it, with its dotted path."""

    def __init__(self, data: dict, label: tuple, reads: set, prefix: str = ""):
        super().__init__({k: _track(v, label, reads, f"{prefix}{k}.") for k, v in data.items()})
        self._label, self._reads, self._prefix = label, reads, prefix

    def _read(self, key) -> None:
        self._reads.add((*self._label, f"{self._prefix}{key}"))

    def __getitem__(self, key):
        self._read(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self._read(key)
        return super().get(key, default)

    def __contains__(self, key) -> bool:
        self._read(key)
        return super().__contains__(key)


def _track(value, label, reads, prefix):
    if isinstance(value, dict):
        return Tracked(value, label, reads, prefix)
    if isinstance(value, list):
        return [_track(v, label, reads, prefix) for v in value]
    return value


def flatten(value, prefix: str = "") -> set[str]:
    """Every field name of a JSON body, nested ones dotted (lists share their key)."""
    names: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            names.add(f"{prefix}{key}")
            names |= flatten(inner, f"{prefix}{key}.")
    elif isinstance(value, list):
        for inner in value:
            names |= flatten(inner, prefix)
    return names


@pytest.fixture
def run(sandbox, demo_config, monkeypatch, django_capture_on_commit_callbacks, press, hooks):
    """Everything the product does with Zoho, once; the requests and the fields read from the answers."""
    recorder = Recorder(SandboxTransport(sandbox))
    previous = http.set_transport(recorder)
    reads: set[tuple[str, str, str, str]] = set()
    original = books.json_body

    def tracked(response: httpx.Response) -> dict:
        body = original(response)
        return Tracked(body, where(response.request), reads) if body else body

    for module in (books, crm, auth, http):
        monkeypatch.setattr(module, "json_body", tracked)
    try:
        _everything(sandbox, hooks, press, django_capture_on_commit_callbacks)
    finally:
        http.set_transport(previous)
    return recorder.exchanges, reads


def _everything(sandbox, hooks, press, capture) -> None:
    finance = UserFactory(groups=["finance-admin"])
    # Pushes: adopted and new customers (by contact and company name), reactivated and new items, every edition,
    # a foreign currency; emailed and marked-sent invoices; an authority named only by id.
    LegalEntity.objects.filter(code="US-LLC").update(invoice_delivery="email")
    press(deal_id(1))  # Initech: adopted customer, reactivated item, emailed invoice
    LegalEntity.objects.filter(code="US-LLC").update(invoice_delivery="sent")
    for deal in (2, 4, 16, 6, 7):  # Globex (new), Hooli (by company), Cyberdyne (EUR), Tata, Reliance (new item)
        press(deal_id(deal))
    for tax in sandbox.orgs[CA_ORG].taxes.values():
        tax["tax_authority_name"] = ""  # some listings name the authority only by id
    press(deal_id(15))
    _, reply = press(deal_id(5))  # the UK waits for review
    with capture(execute=True):
        push_reject(push=InvoicePush.objects.get(pk=reply["push_id"]), user=finance, reason="Wrong PO")  # a Note
    _, reply = press(deal_id(5))
    with capture(execute=True):
        push_approve(push=InvoicePush.objects.get(pk=reply["push_id"]), user=UserFactory(groups=["reviewer"]))
    _, reply = press(deal_id(8))  # near-duplicate items: a person links them
    push = InvoicePush.objects.get(pk=reply["push_id"])
    doohickey = next(i for i in sandbox.orgs[US_ORG].items.values() if i["sku"] == "DHK-5OO")
    thingamajig = next(i for i in sandbox.orgs[US_ORG].items.values() if i["name"] == "Thingamajig")
    with capture(execute=True):
        item_link_choose(push=push, product_id=product_id(5), item_id=doohickey["item_id"], user=finance)
        item_link_choose(push=push, product_id=product_id(6), item_id=thingamajig["item_id"], user=finance)
    # Books → CRM: a payment, a credit note and its refund, a write-off; then reconciliation.
    pushed = {p.deal_id: p for p in InvoicePush.objects.filter(state="pushed")}
    globex, cyberdyne = pushed[deal_id(2)], pushed[deal_id(16)]
    hooks.books_demo_action(US_ORG, globex.invoice_id, "pay", {"amount": 100})
    api = books_api(hooks)
    invoice = hooks.orgs[US_ORG].invoices[cyberdyne.invoice_id]
    note = api(
        "POST",
        "/creditnotes",
        {"customer_id": invoice["customer_id"], "line_items": [{"name": "Credit", "rate": 50}], "exchange_rate": 1},
        query={"invoice_id": invoice["invoice_id"]},
    )["creditnote"]
    api(
        "POST",
        f"/creditnotes/{note['creditnote_id']}/invoices",
        {"invoices": [{"invoice_id": invoice["invoice_id"], "amount_applied": 20}]},
    )
    api("POST", f"/creditnotes/{note['creditnote_id']}/refunds", {"amount": 10})
    hooks.books_demo_action(US_ORG, pushed[deal_id(4)].invoice_id, "writeoff", {})
    hooks.flush_webhooks()
    reconcile_all()
    # Duplicate audits (items, customers, and registration numbers read one by one) and one resolution.
    for code in ("US-LLC", "UK-LTD"):
        call_command("audit_duplicates", "--org", code, stdout=io.StringIO(), stderr=io.StringIO())
    flag = next(f for f in DuplicateFlag.objects.filter(state="open", kind="customer", organization_id=US_ORG))
    flag_resolve(flag_id=flag.pk, survivor_id=flag.members[0]["books_id"], user=finance)
    # The preflight check (organizations, taxes, CRM field metadata).
    zoho_check()


def endpoint_of(exchange: dict) -> Endpoint | None:
    return endpoint_for(*where(exchange["request"]))


def test_every_request_is_a_documented_endpoint_with_documented_names(run):
    exchanges, _ = run
    assert exchanges
    problems = []
    for exchange in exchanges:
        request = exchange["request"]
        service, method, path = where(request)
        endpoint = endpoint_for(service, method, path)
        if endpoint is None:
            problems.append(f"{method} {path}: no Zoho document for it")
            continue
        query = {k for k, _ in parse_qsl(urlsplit(str(request.url)).query)} - {"organization_id"}
        if unknown := query - endpoint.query:
            problems.append(f"{method} {path}: undocumented query parameters {sorted(unknown)} ({endpoint.source})")
        if request.content:
            if service == "oauth":
                body = dict(parse_qsl(request.content.decode()))
                assert not parse_qsl(urlsplit(str(request.url)).query)  # credentials never in the URL
            else:
                body = json.loads(request.content)
            if unknown := flatten(body) - endpoint.request:
                problems.append(f"{method} {path}: undocumented body fields {sorted(unknown)} ({endpoint.source})")
        scope = endpoint.scope.format(module=path.split("/")[1].lower())
        if scope and scope not in OAUTH_SCOPES:
            problems.append(f"{method} {path} needs {scope}, which the setup guide does not ask for")
    assert problems == []


def test_every_documented_endpoint_in_the_catalogue_was_called(run):
    exchanges, _ = run
    called = {endpoint_of(e) for e in exchanges}
    assert [e.source for e in ENDPOINTS if e not in called] == []


def test_our_parsing_reads_only_documented_fields(run):
    _, reads = run
    problems = []
    for service, method, path, name in sorted(reads):
        endpoint = endpoint_for(service, method, path)
        assert endpoint is not None, f"{method} {path}"
        if name in endpoint.response or name in ENVELOPE or (service == "crm" and name in CRM_ENVELOPE):
            continue
        if (method, endpoint.path, name) in ASSUMED:
            continue
        problems.append(f"{method} {path}: reads {name!r}, which {endpoint.source} does not document")
    assert problems == []


def test_the_sandbox_answers_only_with_documented_fields(run):
    exchanges, _ = run
    problems = []
    for exchange in exchanges:
        endpoint = endpoint_of(exchange)
        if endpoint is None or not exchange["body"] or exchange["status"] >= 400:
            continue
        body = json.loads(exchange["body"])
        extra = {
            name
            for name in flatten(body)
            if name not in endpoint.response
            and name not in ENVELOPE
            and (endpoint.method, endpoint.path, name) not in ASSUMED
            and not _deep_in_documented(name, endpoint)
        }
        if extra:
            problems.append(f"{endpoint.method} {endpoint.path}: {sorted(extra)[:8]} ({endpoint.source})")
    assert sorted(set(problems)) == [], "\n".join(sorted(set(problems)))


def _deep_in_documented(name: str, endpoint: Endpoint) -> bool:
    """Fields below what we transcribe (an invoice's taxes[], a credit note's line_items[] …) belong to a
    documented container: checking them would need every nested schema, which we do not read."""
    parts = name.split(".")
    return any(".".join(parts[:i]) in endpoint.response for i in range(1, len(parts))) and len(parts) > 2
