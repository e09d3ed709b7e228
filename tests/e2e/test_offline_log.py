"""No signal at the door: in Chromium with the network cut (Playwright's offline mode) a rep
logs a doorstep wait; the page says "1 waiting to send"; the page is closed; back online, the
next page opened sends it — one activity, kept as logged, however often the phone retries."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from crm.models import Activity
from tests.conftest import Company
from tests.e2e.helpers import Browsing, local_date, set_language, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_log_made_offline_is_sent_once_when_back_online(
    company: Company, browsing: Browsing
) -> None:
    c = company
    lead = c.lead_a1
    set_language("zh-hans", c.rep_a1)
    page = browsing.log_in(c.rep_a1)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/leads/{lead.pk}/")
    context = page.context
    context.set_offline(True)
    for note in ("门卫说经理在开会", "下午再来，经理还没回"):
        page.locator("nav.quick-log a[data-log-kind='doorstep']").click()
        page.locator("#id_outcome").select_option("unreachable")
        page.locator("#id_note").fill(note)
        page.locator("#log-activity").click()
    outbox = page.locator("#outbox")
    expect(outbox).to_be_visible()
    expect(outbox).to_contain_text("2 条待发送")
    assert not Activity.objects.filter(lead=lead).exists()
    page.close()  # nothing is lost with the page

    # Back online: the next page opened sends what was waiting.
    context.set_offline(False)
    again = context.new_page()
    again.goto("/")
    expect(again.locator("#outbox")).to_contain_text("待发送的记录已全部发出")
    assert wait_until(lambda: Activity.objects.filter(lead=lead).count() == 2)
    notes = set(Activity.objects.filter(lead=lead).values_list("note", flat=True))
    assert notes == {"门卫说经理在开会", "下午再来，经理还没回"}
    assert set(Activity.objects.filter(lead=lead).values_list("kind", flat=True)) == {"doorstep"}
    # A copy sent again (a retry, another tab) changes nothing.
    item = Activity.objects.filter(lead=lead).first()
    assert item is not None and item.client_key
    again.evaluate(
        """([url, key]) => fetch(url, {method: 'POST', redirect: 'manual',
             headers: {'X-CSRFToken':
               JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRFToken']},
             body: new URLSearchParams(
               {kind: 'doorstep', outcome: 'unreachable', client_key: key})})""",
        [f"/leads/{lead.pk}/activities/", item.client_key],
    )
    again.reload()
    expect(again.locator("#outbox")).to_be_hidden()
    assert Activity.objects.filter(lead=lead).count() == 2


def test_a_refused_offline_log_comes_back_into_its_form(
    company: Company, browsing: Browsing
) -> None:
    c = company
    lead = c.lead_a1
    page = browsing.log_in(c.rep_a1)
    page.goto(f"/leads/{lead.pk}/")
    page.context.set_offline(True)
    page.locator("#id_kind").select_option("visit")
    page.locator("#id_note").fill("Met the buyer at the gate")
    page.locator("#id_next_step_due").fill(local_date(2))  # a date without a step: refused
    page.locator("#log-activity").click()
    expect(page.locator("#outbox")).to_contain_text("1 waiting to send")
    page.context.set_offline(False)
    page.goto("/")
    refused = page.locator("#outbox a")
    expect(refused).to_contain_text("was refused")
    assert not Activity.objects.filter(lead=lead).exists()
    refused.click()
    page.wait_for_url(f"**/leads/{lead.pk}/")
    # Back in the form, as written, to correct and send by hand; the outbox is empty.
    expect(page.locator("#id_note")).to_have_value("Met the buyer at the gate")
    expect(page.locator("#id_kind")).to_have_value("visit")
    expect(page.locator("#outbox")).to_be_hidden()
    page.locator("#id_next_step").fill("Send the quote")
    page.locator("#log-activity").click()
    assert wait_until(lambda: Activity.objects.filter(lead=lead, kind="visit").count() == 1)
