"""The rep at the customer's door, on a phone: the lead page keeps a bar at the bottom of the
screen; one tap on 蹲点 chooses the activity, the outcome and a short note follow, then the
next step; the phone number dials (tel:)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from crm.models import Activity
from tests.conftest import Company
from tests.e2e.helpers import Browsing, local_date, set_language
from tests.factories import lead_new

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_one_tap_logs_a_doorstep_wait_from_a_phone(company: Company, browsing: Browsing) -> None:
    c = company
    lead = lead_new(c.manager_a, "宏达物流集团", to=c.rep_a1, phone="138 0000 1111")
    set_language("zh-hans", c.rep_a1)
    page = browsing.log_in(c.rep_a1)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/leads/{lead.pk}/")
    bar = page.locator("nav.quick-log")
    expect(bar).to_be_visible()
    box = bar.bounding_box()
    assert box is not None and box["y"] + box["height"] >= 844 - 2  # kept at the bottom
    expect(bar.locator("a.dial")).to_have_attribute("href", "tel:13800001111")
    expect(page.locator(".facts a[href='tel:13800001111']")).to_have_text("138 0000 1111")
    page.evaluate("() => window.scrollTo(0, 0)")
    bar.get_by_role("link", name="蹲点", exact=True).click()
    expect(page.locator("#id_kind")).to_have_value("doorstep")
    expect(page.locator("#id_outcome")).to_be_focused()
    assert "log=" not in page.url  # chosen in place, no reload
    page.locator("#id_outcome").select_option("unreachable")
    page.locator("#id_note").fill("门卫说采购经理出差，周四回来")
    page.locator("#id_next_step").fill("周四上午再来蹲点")
    page.locator("#id_next_step_due").fill(local_date(3))
    page.locator("#log-activity").click()
    expect(page.locator(".messages")).to_contain_text("跟进记录已保存")
    activity = Activity.objects.get(lead=lead)
    assert (activity.kind, activity.outcome) == ("doorstep", "unreachable")
    lead.refresh_from_db()
    assert lead.next_step == "周四上午再来蹲点"
    # The bar is still there after the swap, and nothing on the page runs off the edge.
    expect(page.locator("nav.quick-log")).to_be_visible()
    assert page.evaluate("() => document.scrollingElement.scrollWidth") <= 390


def test_without_javascript_the_bar_opens_the_form_with_its_kind(
    company: Company, client_for
) -> None:
    lead = company.lead_a1
    html = client_for(company.rep_a1).get(f"/leads/{lead.pk}/", {"log": "visit"}).content.decode()
    assert '<option value="visit" selected>' in html
    html = client_for(company.rep_a1).get(f"/leads/{lead.pk}/", {"log": "x"}).content.decode()
    assert " selected>" not in html.split('id="id_kind"')[1].split("</select>")[0]
