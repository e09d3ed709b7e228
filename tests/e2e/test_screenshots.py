"""Screenshots of the main pages, in both languages, on the demo company (seed_demo plus one
pass of the coach), saved to artifacts/screenshots/ (ignored by git)."""

from __future__ import annotations

import pytest
from django.db.models import Count
from playwright.sync_api import expect

from crm.models import Lead
from tests.e2e.helpers import (
    DEMO_PASSWORD,
    LANGS,
    SCREENSHOTS,
    Browsing,
    assert_language,
    demo_people,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

HEADINGS = {
    "en": {
        "leads": "Leads",
        "board": "Pipeline",
        "report-inbox": "Report inbox",
        "nudges": "Coach",
    },
    "zh-hans": {
        "leads": "商机",
        "board": "销售漏斗",
        "report-inbox": "汇报收件箱",
        "nudges": "教练",
    },
}


@pytest.mark.parametrize("lang", LANGS)
def test_screenshots_of_the_main_pages(lang: str, demo: None, browsing: Browsing) -> None:
    manager, rep = demo_people(lang)
    lead = (
        Lead.objects.filter(owner=rep)
        .annotate(n=Count("activities"))
        .order_by("-n", "-value")
        .first()
    )
    assert lead is not None
    boss = browsing.log_in(manager, DEMO_PASSWORD)
    rep_page = browsing.log_in(rep, DEMO_PASSWORD)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for page, name, path in (
        (boss, "my-day", "/"),
        (boss, "leads", "/leads/"),
        (boss, "lead", f"/leads/{lead.pk}/"),
        (boss, "board", "/leads/board/"),
        (boss, "report-inbox", "/reports/inbox/"),
        (rep_page, "nudges", "/coach/"),
    ):
        page.goto(path)
        assert_language(page, lang, leftovers=False)  # the demo's notes are partly English
        if name in HEADINGS[lang]:
            expect(page.locator("main h1")).to_have_text(HEADINGS[lang][name])
        page.evaluate("() => document.fonts.ready")
        target = SCREENSHOTS / f"{lang}-{name}.png"
        page.screenshot(path=target)
        assert target.stat().st_size > 10_000
