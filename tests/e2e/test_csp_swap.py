"""An htmx swap never trips the Content-Security-Policy: a textarea the user resized carries
an inline style, and htmx's settle step used to copy it onto the swapped-in textarea with
setAttribute('style'), which the policy blocks (a console error and a report each time)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.conftest import Company
from tests.e2e.helpers import Browsing

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _resize_and_swap(page: Page) -> None:
    """Resize the note (as dragging its corner does) and send the activity form with a date
    in the future, so htmx swaps the refused form in place."""
    page.locator("#lead-work #id_note").evaluate("(el) => { el.style.height = '240px'; }")
    tomorrow = timezone.localtime() + dt.timedelta(days=1)
    page.locator("#lead-work [name=happened_at]").fill(tomorrow.strftime("%Y-%m-%dT%H:%M"))
    page.locator("#lead-work #id_note").fill("Resized, then refused")
    page.locator("#lead-work form[hx-post*=activities] [type=submit]").first.click()
    expect(page.locator("#lead-work .field-happened_at .errors")).to_be_visible()
    page.wait_for_timeout(300)  # htmx settles 20 ms after the swap


def test_a_swap_after_resizing_a_textarea_keeps_to_the_policy(
    company: Company, browsing: Browsing
) -> None:
    page = browsing.log_in(company.rep_a1)
    page.goto(f"/leads/{company.lead_a1.pk}/")
    _resize_and_swap(page)
    assert browsing.problems == []

    # The same swap with htmx told to copy `style` again is caught: the test can fail.
    page.goto(f"/leads/{company.lead_a1.pk}/")
    page.evaluate("() => htmx.config.attributesToSettle.push('style')")
    _resize_and_swap(page)
    assert any("Content Security Policy" in p for p in browsing.problems), browsing.problems
    browsing.problems.clear()
