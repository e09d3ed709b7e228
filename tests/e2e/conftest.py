"""Fixtures for the browser tests (see helpers.py for what they give)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.e2e.helpers import CHROMIUM_ARGS, Browsing, CoachWorker, seed_demo

# --- The browser ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail("no chromium on PATH: .ci/run installs Debian's chromium")
        pytest.skip("no chromium on PATH: the browser tests need Debian's chromium")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            yield browser
            browser.close()


@pytest.fixture
def browsing(browser: Browser, live_server: Any) -> Iterator[Browsing]:
    session = Browsing(browser, live_server.url)
    yield session
    for context in session.contexts:
        context.close()
    if session.problems:
        pytest.fail("the browser console reported problems:\n" + "\n".join(session.problems))


@pytest.fixture
def demo(transactional_db: None) -> None:
    """The demo company, coached once (helpers.seed_demo); its people sign in with DEMO_PASSWORD."""
    seed_demo()


@pytest.fixture
def coach_worker(transactional_db: None) -> Iterator[CoachWorker]:
    """`coaching.services.process_pending_events()` every 0.5 s while the test runs."""
    worker = CoachWorker()
    worker.thread.start()
    yield worker
    worker.stop.set()
    worker.thread.join(timeout=10)
    assert not worker.thread.is_alive(), "the coach worker did not stop"
    assert not worker.errors, worker.errors
