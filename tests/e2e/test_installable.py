"""Installable, and honest without signal: a signed-in person's browser installs the service
worker; with the network cut (Playwright's offline mode) a page that cannot load shows the
offline page in their language with a way to try again, not the browser's dinosaur."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import Company
from tests.e2e.helpers import Browsing, set_language

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_offline_pages_say_so_in_the_users_language(company: Company, browsing: Browsing) -> None:
    set_language("zh-hans", company.rep_a1)
    page = browsing.log_in(company.rep_a1)
    page.set_viewport_size({"width": 390, "height": 844})
    page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")  # installed
    page.reload()  # now controlled by the worker
    assert page.evaluate("() => !!navigator.serviceWorker.controller")
    page.context.set_offline(True)
    try:
        page.goto("/leads/board/")
        expect(page.locator("main h1")).to_have_text("没有网络")
        expect(page.locator("main a.button", has_text="再试一次")).to_be_visible()
    finally:
        page.context.set_offline(False)
    page.goto("/leads/board/")
    expect(page.locator("main h1")).to_have_text("销售漏斗")
