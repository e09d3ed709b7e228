"""The loop in the browser, in Chinese (issue 15): the rep sends a plan with a next step and its
date → the lead's next step is the plan's; the manager replies and decides "keep pushing" → the
rep's bell, open on another page, shows an unread update without a reload (it polls), and the
report page and My manager mark the answer as new.

The coach's event processing runs in-process between steps (as the worker would), so the test
does not depend on timing of a background thread.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from coaching.handlers import process_pending_events
from crm.models import Lead, Report
from tests.conftest import Company
from tests.e2e.helpers import (
    Browsing,
    assert_not_reloaded,
    local_date,
    mark,
    set_language,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

NEXT_STEP = "周一去采购部门口蹲点，当面问清原因"


def bell_count(page: Page) -> int:
    text = page.locator("#bell .bell-count").inner_text()
    return int(text.strip() or 0)


def test_the_rep_sees_the_managers_answer_without_a_reload_in_chinese(
    company: Company, browsing: Browsing
) -> None:
    rep, manager, lead = company.rep_a1, company.manager_a, company.lead_a1
    set_language("zh-hans", rep, manager)
    process_pending_events()  # the set-up's own events (hand-offs) are not the test's

    # 1. The rep sends a three-layer plan with a next step and its date.
    rep_page = browsing.log_in(rep)
    rep_page.goto(f"/reports/new/?lead={lead.pk}&kind=escalation")
    rep_page.locator("textarea[name=status_now]").fill("客户三周没回消息，竞争对手在场。")
    rep_page.locator("textarea[name=next_step]").fill(NEXT_STEP)
    rep_page.locator("input[name=next_step_due]").fill(local_date(4))
    rep_page.locator("textarea[name=ask]").fill("请您周三前批准两天的拜访差旅")
    rep_page.locator("input[name=ask_due]").fill(local_date(3))
    rep_page.locator("button[name=action][value=submit]").click()
    expect(rep_page.locator("main .messages")).to_be_visible()
    report = wait_until(lambda: Report.objects.filter(author=rep, state="submitted").first())
    assert report is not None
    assert Lead.objects.get(pk=lead.pk).next_step == NEXT_STEP
    process_pending_events()

    # The rep waits on My day, the bell in view.
    rep_page.goto("/")
    before = bell_count(rep_page)
    mark(rep_page)

    # 2. The manager replies and decides "keep pushing".
    manager_page = browsing.log_in(manager)
    manager_page.goto(f"/reports/{report.pk}/")
    manager_page.locator("textarea[name=body]").fill("好，周一蹲点后马上告诉我结果。")
    manager_page.locator("form[action$='/reply/'] button[type=submit]").click()
    expect(manager_page.locator(".thread")).to_contain_text("周一蹲点")
    manager_page.locator("input[name=decision][value=keep_pushing]").check()
    manager_page.locator("form[action$='/decide/'] button[type=submit]").click()
    expect(manager_page.locator("#decision-h")).to_be_visible()
    expect(manager_page.locator("#report-body")).to_contain_text("继续推进")
    wait_until(lambda: Report.objects.get(pk=report.pk).decision == "keep_pushing")
    process_pending_events()

    # 3. The rep's bell shows the update without a reload (it polls every 15 s).
    expect(rep_page.locator("#bell .bell-count")).not_to_have_text(str(before), timeout=25_000)
    assert bell_count(rep_page) > before
    assert_not_reloaded(rep_page)
    lead_now = Lead.objects.get(pk=lead.pk)
    assert lead_now.next_step == NEXT_STEP

    # 4. "My manager" and the report page mark the answer as new, in Chinese.
    rep_page.goto(reverse("my-manager"))
    expect(rep_page.locator("#unseen-count")).to_have_text("1")
    expect(rep_page.locator("main")).to_contain_text("新回复")
    rep_page.goto(f"/reports/{report.pk}/")
    expect(rep_page.locator("#new-answers")).to_contain_text("你上次查看后有新回复")
    expect(rep_page.locator("main")).to_contain_text(re.compile("继续推进"))
