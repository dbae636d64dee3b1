"""A real browser for the tests: the operating system's Chromium, driven by Playwright for Python.

Never a browser Playwright downloads: the one `apt-get install chromium` gives (as `.ci/run`
installs it). Tests that need it skip, saying why, where there is no Chromium or no Playwright.
"""

from __future__ import annotations

import os
import shutil
from typing import Any, Iterator

import pytest

#: Flags for a headless Chromium that makes no request of its own (updates, sync, first-run pages).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-default-apps", "--disable-extensions"]


def chromium_path() -> str | None:
    for name in (os.environ.get("LBP_CHROMIUM"), "chromium", "chromium-browser"):
        if name and (found := shutil.which(name)):
            return found
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium for one test module; skips with the reason when there is none.

    Module scope, not session: Playwright's sync API keeps an asyncio loop running in the main thread
    while it is open, and prompt_toolkit (the consultation's prompts) cannot start while one runs."""
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium installed (apt-get install chromium, as .ci/run does): browser test not run")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright for Python is not installed (pip install '.[test]'): browser test not run")
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


class Watched:
    """A page with its console messages, page errors, dialogs and every request it made."""

    def __init__(self, page: Any):
        self.page = page
        self.console: list[tuple[str, str]] = []
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        page.on("console", lambda m: self.console.append((m.type, m.text)))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", lambda r: self.requests.append(r.url))

        def dialog(d: Any) -> None:
            self.dialogs.append(d.message)
            d.dismiss()

        page.on("dialog", dialog)


@pytest.fixture
def page(browser) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        yield Watched(context.new_page())
    finally:
        context.close()
