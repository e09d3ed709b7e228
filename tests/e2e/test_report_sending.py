"""Sending a report while its autosave is still on the wire.

The report form autosaves on every `change`; clicking "Send to my manager" takes focus from the
field being typed in, so that field's `change` fires an autosave at the same moment as the send.
With real clicks the two requests race on the server (in 12 tries here: 5 left a second,
orphan draft; 3 turned the sent report back into a draft, although the rep was told it was
sent). The test makes the order certain: it holds the click's autosave in the browser and lets
it reach the server just after the send.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Request, Route, expect

from crm.models import Report
from tests.conftest import Company
from tests.e2e.helpers import Browsing, local_date, wait_htmx_idle

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

HTMX_HEADERS = ("content-type", "x-csrftoken", "hx-request", "hx-current-url", "hx-target")


def test_an_autosave_arriving_just_after_send_makes_no_second_report(
    company: Company, browsing: Browsing
) -> None:
    rep, lead = company.rep_a1, company.lead_a1
    page = browsing.log_in(rep)
    page.goto(f"/reports/new/?lead={lead.pk}&kind=progress")
    page.get_by_label("Status now", exact=True).fill("Met the purchasing head.")
    page.get_by_label("What I did", exact=True).fill("Waited at their door on Thursday.")
    page.get_by_label("Next step", exact=True).fill("Send the proposal.")
    page.get_by_label("Next step by", exact=True).fill(local_date(3))
    expect(page.locator("#id_report_id")).to_have_value(re.compile(r"^\d+$"))
    wait_htmx_idle(page)

    held: list[Request] = []

    def hold_autosaves(route: Route) -> None:
        request = route.request
        if request.method == "POST" and "action=autosave" in (request.post_data or ""):
            held.append(request)
            route.fulfill(status=204)
        else:
            route.continue_()

    page.route(re.compile(r"/reports/new/$"), hold_autosaves)
    page.get_by_label("Backup plan if it fails", exact=True).fill("Offer a pilot instead.")
    page.get_by_role("button", name="Send to my manager", exact=True).click()
    expect(page.locator("main .messages")).to_contain_text("Report sent to your manager.")
    assert held, "leaving the field for the Send button sent no autosave"

    late = held[0]
    headers = {k: v for k, v in late.headers.items() if k in HTMX_HEADERS}
    response = page.request.post(late.url, data=late.post_data, headers=headers)
    assert response.status < 400, response.status

    states = list(Report.objects.filter(author=rep).values_list("state", flat=True))
    assert states == ["submitted"], f"the rep's reports after one send: {states}"
