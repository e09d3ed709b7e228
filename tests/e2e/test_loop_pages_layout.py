"""The director's ranking in a real browser: at 1366 px every column is visible without any
scrolling; at 390 px (a phone) the page never scrolls sideways — each rep becomes a block of
"label value" lines — and sorting by a column works by plain links, with or without htmx."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crm.models import ReportKind
from tests.coaching.helpers import report
from tests.conftest import Company
from tests.e2e.helpers import Browsing

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

OVERFLOW = """() => ({
  page: document.documentElement.scrollWidth - document.documentElement.clientWidth,
  table: (() => { const w = document.querySelector('.ranking-wrap');
                  return w.scrollWidth - w.clientWidth; })(),
  display: getComputedStyle(document.querySelector('#rep-ranking tbody tr')).display,
})"""


WIDEST = """() => Array.from(document.querySelectorAll('body *'))
  .filter((el) => el.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .filter((el) => !el.closest('.table-wrap'))
  .slice(0, 8).map((el) => el.tagName + '.' + el.className + ' ' +
    Math.round(el.getBoundingClientRect().right))"""


def test_the_ranking_fits_a_laptop_and_a_phone(company: Company, browsing: Browsing) -> None:
    c = company
    c.rep_a1.display_name = "欧阳晓光 Xiaoguang Ouyang"
    c.rep_a1.save(update_fields=["display_name"])
    report(c.rep_a1, c.lead_a1)
    report(c.rep_b1, None, ReportKind.QUESTION)
    page = browsing.log_in(c.director)
    page.set_viewport_size({"width": 1366, "height": 800})
    page.goto(reverse("coach-director"))
    laptop = page.evaluate(OVERFLOW)
    assert laptop["page"] <= 0 and laptop["table"] <= 0, laptop
    assert laptop["display"] == "table-row"
    # Sorting by name (a plain link, swapped by htmx) puts rep_a1's long name last.
    page.locator('#rep-ranking thead a[data-sort="name"]').click()
    page.wait_for_url("**sort=name**")
    first = page.locator("#rep-ranking tbody tr").first.get_attribute("data-rank-rep")
    assert first == str(c.rep_a2.pk)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(reverse("coach-director"))
    phone = page.evaluate(OVERFLOW)
    wide = page.evaluate(WIDEST)
    assert phone["page"] <= 0, (phone, wide)
    assert phone["display"] == "block"
    # A rep's own figures, one click away, fit the phone too (and the team page beside them).
    page.locator(f'#rep-ranking a[href^="/coach/rep/{c.rep_a1.pk}/"]').click()
    page.wait_for_url(f"**/coach/rep/{c.rep_a1.pk}/**")
    assert page.locator("#rep-figures").is_visible()
    for url in (page.url, reverse("coach-team-detail", args=[c.team_a.pk])):
        page.goto(url)
        sideways = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert sideways <= 0, (url, page.evaluate(WIDEST))
