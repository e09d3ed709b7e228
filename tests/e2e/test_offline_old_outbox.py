"""Logs kept offline by the kaopu.js of before the per-person outbox sat under one shared key
("kaopu.outbox") that nothing read any more: they were never sent. The first person signed in
on the phone now takes them over, once, and each is sent exactly once."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from crm.models import Activity
from tests.conftest import Company
from tests.e2e.helpers import Browsing, wait_until
from tests.e2e.test_offline_log_faults import log_offline

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_logs_kept_under_the_old_shared_key_are_sent_once(
    company: Company, browsing: Browsing
) -> None:
    c = company
    page = browsing.log_in(c.rep_a1)
    log_offline(page, c.lead_a1.pk, "Kept by the old version")
    expect(page.locator("#outbox")).to_contain_text("1 waiting to send")
    # What the older kaopu.js left on the phone: the same log under the one shared key.
    page.evaluate(
        """() => {
            const mine = Object.keys(localStorage).find(k => k.startsWith('kaopu.outbox:'));
            localStorage.setItem('kaopu.outbox', localStorage.getItem(mine));
            localStorage.removeItem(mine);
        }"""
    )
    page.context.set_offline(False)
    page.goto(f"/leads/{c.lead_a1.pk}/")
    assert wait_until(lambda: Activity.objects.filter(lead=c.lead_a1).count() == 1)
    assert Activity.objects.get(lead=c.lead_a1).note == "Kept by the old version"
    page.reload()
    expect(page.locator("#outbox")).to_be_hidden()
    assert page.evaluate("() => localStorage.getItem('kaopu.outbox')") is None
    assert Activity.objects.filter(lead=c.lead_a1).count() == 1
