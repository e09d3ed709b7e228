"""Every page at 390 px (a phone), as each role, in both languages: no sideways scroll
(document.scrollingElement.scrollWidth <= 390); the header is one line with the bell in sight
and the navigation behind a menu button; "/" puts the cursor in the header's search box.

The pages come from the URL resolver, as in tests/security/test_no_5xx.py (same id table), so
a page added later is checked too: every URL that answers the person's GET with a full HTML
page (200, not an htmx region, not a download)."""

from __future__ import annotations

import pytest
from django.test import Client
from playwright.sync_api import Page, expect

from tests.conftest import Company
from tests.e2e.helpers import LANGS, Browsing, set_language
from tests.factories import lead_new
from tests.security.test_no_5xx import Sides, all_routes, object_of, sides  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}

# The elements sticking out past the right edge (outside scrollable table wrappers).
WIDEST = """() => Array.from(document.querySelectorAll('body *'))
  .filter((el) => el.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .filter((el) => !el.closest('.table-wrap, .ranking-wrap, .board'))
  .slice(0, 6).map((el) => el.tagName + '.' + el.className + ' ' +
    Math.round(el.getBoundingClientRect().right))"""


def pages_for(client: Client, ids: Sides) -> list[str]:
    """The URLs that answer this person's GET with a whole HTML page."""
    found = []
    for route in all_routes():
        kinds = {kwarg: object_of(route, kwarg) for kwarg in route.kwargs}
        url = route.url({k: ids["own"][kind] for k, kind in kinds.items()})
        if url.startswith("/api/") or url in ("/logout/",):
            continue
        response = client.get(url)
        if response.status_code != 200 or response.streaming:
            continue
        if "text/html" not in response.headers.get("Content-Type", ""):
            continue
        if b"<html" not in response.content:  # a region fetched by htmx, not a page
            continue
        found.append(url)
    return found


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("role", ["rep_a1", "manager_a", "director", "admin"])
def test_no_page_scrolls_sideways_on_a_phone(
    company: Company,
    sides: Sides,  # noqa: F811 (the fixture imported from test_no_5xx)
    browsing: Browsing,
    role: str,
    lang: str,
) -> None:
    user = company.people[role]
    set_language(lang, user)
    client = Client()
    client.force_login(user)
    urls = pages_for(client, sides)
    assert len(urls) > 15, urls  # the walk found the pages
    page = browsing.log_in(user)
    page.set_viewport_size(PHONE)
    wide = []
    for url in urls:
        page.goto(url)
        width = page.evaluate("() => document.scrollingElement.scrollWidth")
        if width > PHONE["width"]:
            wide.append(f"{url}: {width} px {page.evaluate(WIDEST)}")
    assert wide == [], "\n".join(wide)


def header_fits_one_line(page: Page) -> None:
    bar = page.locator("#topbar")
    assert bar.bounding_box()["height"] < 70  # type: ignore[index]
    expect(page.locator("#bell")).to_be_visible()
    expect(page.locator("#site-q")).to_be_visible()


@pytest.mark.parametrize("lang", LANGS)
def test_the_phone_header_folds_the_menu_and_keeps_the_bell(
    company: Company, browsing: Browsing, lang: str
) -> None:
    user = company.manager_a
    set_language(lang, user)
    page = browsing.log_in(user)
    page.set_viewport_size(PHONE)
    page.goto("/leads/")
    header_fits_one_line(page)
    nav, menu = page.locator("#main-nav"), page.locator(".menu-toggle")
    expect(nav).to_be_hidden()
    expect(menu).to_have_attribute("aria-expanded", "false")
    menu.click()
    expect(nav).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#main-nav a[href='/leads/board/']")).to_be_visible()
    page.keyboard.press("Escape")
    expect(nav).to_be_hidden()
    expect(menu).to_be_focused()
    # A laptop shows the navigation itself and no menu button.
    page.set_viewport_size({"width": 1280, "height": 900})
    expect(nav).to_be_visible()
    expect(menu).to_be_hidden()


def test_slash_searches_from_any_page(company: Company, browsing: Browsing) -> None:
    c = company
    lead_new(c.manager_a, "宏达物流集团有限公司", to=c.rep_a1, contact_name="王建国")
    set_language("zh-hans", c.rep_a1)
    page = browsing.log_in(c.rep_a1)
    page.set_viewport_size(PHONE)
    page.goto(f"/leads/{c.lead_a1.pk}/")
    page.locator("main h1").click()  # not in a field
    page.keyboard.press("/")
    expect(page.locator("#site-q")).to_be_focused()
    page.keyboard.type("宏达")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search/?q=*")
    hit = page.locator("#results a[href^='/leads/']", has_text="宏达物流集团有限公司")
    expect(hit).to_be_visible()
    hit.click()
    expect(page.locator("main h1")).to_contain_text("宏达物流集团有限公司")
