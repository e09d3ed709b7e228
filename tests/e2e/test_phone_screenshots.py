"""The demo company on a phone (390 × 844), in both languages: the pages a rep and a manager
open from the car — My day, the lead page with its quick-log bar, the board, search, the open
menu, the coach's team page — none scrolls sideways with real data (long names, charts), and
each is saved to artifacts/screenshots/phone-<lang>-<page>.png (ignored by git; the README's
are chosen from them, docs/phone/)."""

from __future__ import annotations

import pytest
from django.db.models import Count

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

PHONE = {"width": 390, "height": 844}


@pytest.mark.parametrize("lang", LANGS)
def test_the_demo_on_a_phone(lang: str, demo: None, browsing: Browsing) -> None:
    manager, rep = demo_people(lang)
    lead = (
        Lead.objects.filter(owner=rep, stage__in=["contacted", "qualified", "proposal"])
        .exclude(phone="")
        .annotate(n=Count("activities"))
        .order_by("-n", "-value")
        .first()
    )
    assert lead is not None
    term = lead.company[:2]
    rep_page = browsing.log_in(rep, DEMO_PASSWORD)
    boss = browsing.log_in(manager, DEMO_PASSWORD)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    wide = []
    for page, name, path in (
        (rep_page, "my-day", "/"),
        (rep_page, "lead", f"/leads/{lead.pk}/"),
        (rep_page, "board", "/leads/board/"),
        (rep_page, "search", f"/search/?q={term}"),
        (rep_page, "menu", "/leads/"),
        (boss, "team", "/coach/team/"),
        (boss, "inbox", "/reports/inbox/"),
        (boss, "leads", "/leads/"),
    ):
        page.set_viewport_size(PHONE)
        page.goto(path)
        assert_language(page, lang, leftovers=False)  # the demo's notes are partly English
        if name == "menu":
            page.locator(".menu-toggle").click()
        if name == "search":
            assert page.locator("#results a").count() > 0, term
        width = page.evaluate("() => document.scrollingElement.scrollWidth")
        if width > PHONE["width"]:
            wide.append(f"{path}: {width} px")
        page.evaluate("() => document.fonts.ready")
        page.screenshot(path=SCREENSHOTS / f"phone-{lang}-{name}.png")
    assert wide == [], wide
