"""End-to-end fixtures: a real uvicorn server over the small synthetic prefecture, and the
system Chromium driven by Playwright. Under CI=true a missing browser fails the tests; on a
developer machine it skips them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kokuho.cli._dashboard import CHROMIUM, launch_chromium, served
from tests.browser.demo_home import shared_demo_home


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests need {reason} (CI=true)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def demo_url(
    browser: Any, tmp_path_factory: pytest.TempPathFactory, worker_id: str
) -> Iterator[str]:
    """The server's URL; asks for the browser first, so that a missing browser fails or skips
    before the prefecture is built."""
    home = shared_demo_home(tmp_path_factory, worker_id)
    with served(home) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        _missing(f"Chromium at {CHROMIUM} (apt-get install chromium fonts-noto-cjk)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Any]:
    """Opens pages in fresh browser contexts (own cookies), closed after the test."""
    contexts: list[Any] = []

    def opened(width: int = 1280, height: int = 900) -> Any:
        context = browser.new_context(
            viewport={"width": width, "height": height}, locale="ja-JP", accept_downloads=True
        )
        context.set_default_timeout(60_000)
        contexts.append(context)
        return context.new_page()

    yield opened
    for context in contexts:
        context.close()
