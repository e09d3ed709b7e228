"""The htmx regions in a real browser: the lead list's filters and pager, the nudge center's
snooze and dismiss, a form error shown in place, and the console watch itself."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qs, urlparse

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from coaching.models import Nudge, NudgeState
from coaching.services import process_pending_events
from crm import services
from crm.models import Activity, Lead
from tests.conftest import Company
from tests.e2e.helpers import (
    Browsing,
    assert_language,
    assert_not_reloaded,
    mark,
    set_language,
    wait_htmx_idle,
)
from tests.factories import lead_new

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def query(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query, keep_blank_values=True)


def companies_shown(page: Page) -> list[str]:
    return page.locator("#results tbody tr td:first-child > a").all_inner_texts()


@pytest.fixture
def many_leads(company: Company) -> list[Lead]:
    """65 "Filterable" leads in team A's pool (5 of them qualified), beside the fixture's 3."""
    manager = company.manager_a
    leads = [lead_new(manager, f"Filterable {n:02d} Trading") for n in range(1, 66)]
    for lead in leads[:5]:
        services.lead_change_stage(actor=manager, lead=lead, to_stage="qualified")
    return leads


def test_lead_list_search_stage_and_pages_swap_in_place(
    company: Company, many_leads: list[Lead], browsing: Browsing
) -> None:
    page = browsing.log_in(company.manager_a)
    page.get_by_role("navigation").get_by_role("link", name="Leads", exact=True).click()
    page.wait_for_url(re.compile(r"/leads/$"))
    results = page.locator("#results")
    expect(results.locator("> p.muted")).to_have_text(re.compile(r"^68 leads\b"))
    mark(page)

    # Typing in the search box filters after a short pause; the URL follows.
    search = page.get_by_label("Search", exact=True)
    search.press_sequentially("Filterable", delay=30)
    page.wait_for_url(re.compile(r"[?&]q=Filterable(&|$)"))
    expect(results.locator("> p.muted")).to_have_text(re.compile(r"^65 leads\b"))
    expect(results.locator(".pager")).to_contain_text("Page 1 of 2")
    # On to the next filter with the keyboard (test_next_right_after_a_search shows why).
    search.press("Tab")
    expect(page.get_by_label("Stage", exact=True)).to_be_focused()
    wait_htmx_idle(page, quiet_ms=500)

    # The stage menu narrows it at once.
    page.get_by_label("Stage", exact=True).select_option(label="New")
    page.wait_for_url(re.compile(r"[?&]stage=new(&|$)"))
    expect(results.locator("> p.muted")).to_have_text(re.compile(r"^60 leads\b"))
    expect(results.locator("tbody tr")).to_have_count(50)
    first_page = companies_shown(page)

    # "Next" swaps in page 2 and pushes its URL, filters kept.
    results.get_by_role("link", name=re.compile(r"^Next")).click()
    page.wait_for_url(re.compile(r"[?&]page=2(&|$)"))
    assert query(page)["q"] == ["Filterable"] and query(page)["stage"] == ["new"]
    expect(results.locator(".pager")).to_contain_text("Page 2 of 2")
    expect(results.locator("tbody tr")).to_have_count(10)
    wait_htmx_idle(page, quiet_ms=500)
    assert "page=2" in page.url
    second_page = companies_shown(page)
    assert not set(first_page) & set(second_page), "a lead shows on both pages"
    assert len(set(first_page) | set(second_page)) == 60
    assert_not_reloaded(page)
    expect(search).to_have_value("Filterable")

    # Back restores page 1 from htmx's history, still without a reload.
    page.go_back()
    page.wait_for_url(lambda url: "stage=new" in url and "page=" not in url)
    expect(results.locator(".pager")).to_contain_text("Page 1 of 2")
    assert companies_shown(page) == first_page
    assert_not_reloaded(page)


def test_next_right_after_a_search_loads_only_page_two(
    company: Company, many_leads: list[Lead], browsing: Browsing
) -> None:
    page = browsing.log_in(company.manager_a)
    page.goto("/leads/")
    page.get_by_label("Search", exact=True).press_sequentially("Filterable", delay=30)
    expect(page.locator("#results > p.muted")).to_have_text(re.compile(r"^65 leads\b"))
    wait_htmx_idle(page, quiet_ms=500)
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.url))
    page.locator("#results").get_by_role("link", name=re.compile(r"^Next")).click()
    wait_htmx_idle(page, quiet_ms=800)
    lists = [url for url in sent if "/leads/?" in url]
    assert len(lists) == 1 and "page=2" in lists[0], lists
    assert "page=2" in page.url
    expect(page.locator("#results .pager")).to_contain_text("Page 2 of 2")


def nudges_for_rep(company: Company, names: list[str]) -> list[Nudge]:
    """Hand `names` to rep_a1 and let the coach make its hand-off nudges."""
    manager, rep = company.manager_a, company.rep_a1
    leads = [lead_new(manager, name) for name in names]
    services.lead_hand_off(actor=manager, lead_ids=[lead.pk for lead in leads], to_user=rep)
    process_pending_events()
    nudges = list(Nudge.objects.filter(recipient=rep, lead__in=leads).order_by("lead_id"))
    assert len(nudges) == len(names)
    return nudges


def test_nudge_center_snooze_and_dismiss_swap_in_place(
    company: Company, browsing: Browsing
) -> None:
    to_snooze, to_dismiss = nudges_for_rep(company, ["Juniper Textiles", "Kestrel Pumps"])
    alpha = Nudge.objects.get(recipient=company.rep_a1, lead=company.lead_a1)
    rule = to_snooze.rule_id
    assert to_dismiss.rule_id == alpha.rule_id == rule == "handoff_first_plan"
    page = browsing.log_in(company.rep_a1)
    page.locator("#bell").click()
    page.wait_for_url(re.compile(r"/coach/$"))
    # The three hand-offs (with the fixture's Alpha Robotics) are one card listing three leads.
    cards = page.locator("#nudge-list li.nudge")
    expect(cards).to_have_count(1)
    card = page.locator(f"#nudge-list li.nudge#card-{rule}")
    items = card.locator("ol.card-items > li")
    expect(items).to_have_count(3)
    expect(card.locator("h2")).to_have_text(
        "3 leads were handed to you: confirm each and send a first plan"
    )
    mark(page)

    # Snooze one lead inside the card for three days: the list swaps, that lead leaves the
    # card, the card's title counts two, the message says until when.
    item = page.locator(f"#nudge-{to_snooze.pk}")
    item.locator("summary").filter(has_text="Snooze").click()
    item.get_by_label("Snooze for", exact=True).select_option(label="3 days")
    item.get_by_label("Reason", exact=True).fill("Waiting for their budget meeting")
    item.get_by_role("button", name="Snooze", exact=True).click()
    expect(page.locator("#nudge-list .messages")).to_contain_text("Snoozed until")
    expect(items).to_have_count(2)
    expect(page.locator(f"#nudge-{to_snooze.pk}")).to_have_count(0)
    expect(card.locator("h2")).to_have_text(
        "2 leads were handed to you: confirm each and send a first plan"
    )
    assert_not_reloaded(page)
    to_snooze.refresh_from_db()
    assert to_snooze.state == NudgeState.SNOOZED
    assert to_snooze.snoozed_until > timezone.now() + dt.timedelta(days=2, hours=23)

    # The "Snoozed" tab swaps in and shows it, with its URL pushed.
    page.locator("#nudge-list nav").get_by_role("link", name="Snoozed", exact=True).click()
    page.wait_for_url(re.compile(r"\?show=snoozed$"))
    expect(page.locator(f"#nudge-{to_snooze.pk}")).to_contain_text("back ")
    expect(page.locator(f"#nudge-{to_snooze.pk}")).to_contain_text("Juniper Textiles")
    page.locator("#nudge-list nav").get_by_role("link", name="Open", exact=True).click()
    page.wait_for_url(re.compile(r"\?show=open$"))
    expect(items).to_have_count(2)
    assert_not_reloaded(page)

    # Dismiss the whole card with no reason: the browser stops it at the empty, required field.
    actions = card.locator(":scope > .nudge-actions")
    actions.locator("summary").filter(has_text="Dismiss").click()
    reason = actions.get_by_label("Why dismiss?", exact=True)
    actions.get_by_role("button", name="Dismiss", exact=True).click()
    expect(reason).to_be_focused()
    assert reason.evaluate("el => !el.validity.valid && el.validationMessage !== ''")
    # A reason of blanks passes the browser and the server refuses it, in place, on the card.
    reason.fill("   ")
    actions.get_by_role("button", name="Dismiss", exact=True).click()
    dismiss_form = actions.locator("form[action$='/dismiss/']")
    expect(dismiss_form.locator(".errors[role=alert]")).to_be_visible()
    expect(dismiss_form.locator(".errors")).to_contain_text("required")
    expect(actions.locator("details:has(form[action$='/dismiss/'])")).to_have_attribute("open", "")
    expect(items).to_have_count(2)
    assert_not_reloaded(page)
    for nudge in (to_dismiss, alpha):
        nudge.refresh_from_db()
        assert nudge.state == NudgeState.OPEN

    # With a reason the whole card goes (both its leads, not the snoozed one); the closed tab
    # shows each with the reason.
    dismiss_form.locator("input[name=reason]").fill("Already agreed a plan by phone")
    dismiss_form.get_by_role("button", name="Dismiss", exact=True).click()
    expect(page.locator("#nudge-list .messages")).to_contain_text("Dismissed.")
    expect(cards).to_have_count(0)
    expect(page.locator("#nudge-list .empty")).to_be_visible()
    page.locator("#nudge-list nav").get_by_role("link", name="Done and dismissed").click()
    for nudge in (to_dismiss, alpha):
        expect(page.locator(f"#nudge-{nudge.pk}")).to_contain_text("Already agreed a plan by phone")
    expect(page.locator(f"#nudge-{to_snooze.pk}")).to_have_count(0)
    assert_not_reloaded(page)
    for nudge in (to_dismiss, alpha):
        nudge.refresh_from_db()
        assert nudge.state == NudgeState.DISMISSED
    to_snooze.refresh_from_db()
    assert to_snooze.state == NudgeState.SNOOZED


ERRORS_IN_PLACE = {
    "en": ("When", "Log activity", "An activity cannot happen in the future"),
    "zh-hans": ("时间", "记录跟进", "跟进记录不能发生在未来"),
}


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
def test_activity_in_the_future_is_refused_in_place(
    lang: str, company: Company, browsing: Browsing
) -> None:
    when_label, button, message = ERRORS_IN_PLACE[lang]
    rep, lead = company.rep_a1, company.lead_a1
    set_language(lang, rep)
    page = browsing.log_in(rep)
    page.goto(f"/leads/{lead.pk}/")
    mark(page)
    url = page.url
    tomorrow = timezone.localtime() + dt.timedelta(days=1)
    page.get_by_label(when_label, exact=True).fill(tomorrow.strftime("%Y-%m-%dT%H:%M"))
    page.locator("#lead-work #id_note").fill("Visit planned with the CTO")
    page.get_by_role("button", name=button, exact=True).click()

    field = page.locator("#lead-work .field-happened_at")
    expect(field.locator(".errors[role=alert]")).to_contain_text(message)
    expect(field).to_have_class(re.compile(r"\bhas-error\b"))
    expect(page.get_by_label(when_label, exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#lead-work #id_note")).to_have_value("Visit planned with the CTO")
    assert page.url == url
    assert_not_reloaded(page)
    assert_language(page, lang)
    assert not Activity.objects.filter(lead=lead).exists()


def test_console_watch_sees_csp_violations_and_page_errors(
    company: Company, browsing: Browsing
) -> None:
    """The watch that every browser test relies on does catch what it must (then forgets
    it, so this test passes)."""
    page = browsing.log_in(company.rep_a1)
    assert not browsing.problems
    page.evaluate(
        """() => {
            const script = document.createElement('script');
            script.textContent = 'window.__inlineRan = 1';
            document.body.append(script);
            setTimeout(() => { throw new Error('boom from the test'); });
        }"""
    )
    for _ in range(50):  # Playwright delivers events while it waits, not during time.sleep
        if len(browsing.problems) >= 2:
            break
        page.wait_for_timeout(100)
    assert page.evaluate("() => window.__inlineRan") is None, "CSP let an inline script run"
    assert any("Content Security Policy" in p for p in browsing.problems), browsing.problems
    assert any("boom from the test" in p for p in browsing.problems), browsing.problems
    browsing.problems.clear()
