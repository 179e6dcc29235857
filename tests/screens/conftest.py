"""Real headless Chromium (Debian's, driven by Playwright) for the screen tests, and screenshots of every
screen a test visits, saved under bench/results/screens/ for people to look at."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

SCREENSHOTS = Path(__file__).resolve().parents[2] / "bench" / "results" / "screens"


@pytest.fixture
def browser():
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's sync API runs an event loop in this thread
    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        yield chromium
        chromium.close()


def snap(page, name: str) -> None:
    """Save a full-page screenshot of what the user sees now (1280 × 720 viewport)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def log_in(page, base_url: str, role: str | None, username: str = "someone") -> None:
    """Make a user with `role` (or none) and log in as them; every confirmation the screens ask is answered yes."""
    from tests.factories import UserFactory

    UserFactory(username=username, password="pw-for-tests", groups=[role] if role else [])
    page.on("dialog", lambda dialog: dialog.accept())
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "pw-for-tests")
    page.click("button[type=submit]")


def opened(group):
    """A duplicate group on the Duplicates screen, opened if it is one of the collapsed ones."""
    if group.get_attribute("open") is None:
        group.locator("summary").click()
    return group
