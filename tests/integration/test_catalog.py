"""An organization's item list is read once however many pushes want it at the same moment: the others hold back
(their workers free meanwhile) and use the list once it is read. Found by the day benchmark: with a 100,000-item
catalogue, every push arriving together read all 500 pages, and held a worker while it did."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connections

from integration.services.catalog import item_index
from integration.zoho.books import BooksClient
from integration.zoho.errors import HoldBack
from sandbox.demo import UK_ORG

pytestmark = pytest.mark.django_db(transaction=True)


def test_pushes_wanting_the_item_list_together_read_it_once(sandbox):
    sandbox.add_fault("slow", method="GET", path="/items", seconds=1.0)  # the first page takes a while
    results: list[str] = []
    lock = threading.Lock()

    def want_the_list() -> None:
        try:
            items = item_index(BooksClient(), UK_ORG)
            outcome = f"{len(items)} items"
        except HoldBack as exc:
            outcome = f"held back {exc.retry_after:g} s"
        finally:
            connections.close_all()
        with lock:
            results.append(outcome)

    actors = [threading.Thread(target=want_the_list) for _ in range(4)]
    for actor in actors:
        actor.start()
        time.sleep(0.05)
    for actor in actors:
        actor.join(timeout=30)
    pages = len(sandbox.calls_to("GET", r"/books/v3/items$", org=UK_ORG))
    read = [r for r in results if r.endswith("items")]
    assert len(read) == 1 and results.count("held back 10 s") == 3
    assert pages >= 1  # read once (every page of it, once)
    assert f"{len(item_index(BooksClient(), UK_ORG))} items" == read[0]  # the pushes held back find it cached
    assert len(sandbox.calls_to("GET", r"/books/v3/items$", org=UK_ORG)) == pages


def test_a_fresh_list_is_one_read_after_it_was_asked_for(sandbox):
    item_index(BooksClient(), UK_ORG)
    pages = len(sandbox.calls_to("GET", r"/books/v3/items$", org=UK_ORG))
    asked = time.time()
    item_index(BooksClient(), UK_ORG, since=asked)  # before creating an item: the list as it is now
    assert len(sandbox.calls_to("GET", r"/books/v3/items$", org=UK_ORG)) == 2 * pages


def test_a_reading_held_back_by_our_limiter_carries_on_from_the_next_page(sandbox, settings):
    from integration import ratelimit
    from sandbox.demo import US_ORG

    settings.BOOKS_RATE_LIMIT_PER_MINUTE, settings.BOOKS_RATE_LIMIT_MAX_WAIT = 1, 0  # one call, then hold back
    with pytest.raises(HoldBack):
        item_index(BooksClient(), US_ORG)
    assert len(sandbox.calls_to("GET", r"/books/v3/items$", org=US_ORG)) == 1  # the first page of two
    ratelimit.reset()  # the minute has passed
    items = item_index(BooksClient(), US_ORG)
    assert len(items) == 247 and len({i["item_id"] for i in items}) == 247
    assert len(sandbox.calls_to("GET", r"/books/v3/items$", org=US_ORG)) == 2  # page 1 was not read again
