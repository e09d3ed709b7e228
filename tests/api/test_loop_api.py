"""The loop through the API (issue 15): an activity may carry the lead's next step, and a report
sent through the API moves the lead and keeps its ask kind and big-deal parts."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pytest
from django.core.cache import cache
from django.utils import timezone

from crm.models import Lead
from tests.api.test_api import api_for

if TYPE_CHECKING:
    from tests.conftest import Company

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_counters() -> None:
    cache.clear()  # the API's per-token rate limit counts in the cache


def in_days(n: int) -> str:
    return (timezone.localdate() + dt.timedelta(days=n)).isoformat()


def test_an_activity_sets_the_next_step(company: Company) -> None:
    rep = api_for(company.rep_a1)
    response = rep.post(
        f"/leads/{company.lead_a1.pk}/activities",
        {"kind": "call", "next_step": "Send the quote", "next_step_due": in_days(2)},
    )
    assert response.status_code == 201, response.content
    lead = Lead.objects.get(pk=company.lead_a1.pk)
    assert (lead.next_step, lead.next_step_due.isoformat()) == ("Send the quote", in_days(2))


def test_a_report_sent_through_the_api_moves_the_lead(company: Company) -> None:
    rep = api_for(company.rep_a1)
    response = rep.post(
        "/reports",
        {
            "lead_id": company.lead_a1.pk,
            "kind": "escalation",
            "status_now": "Unreachable.",
            "next_step": "Wait at their door",
            "next_step_due": in_days(3),
            "ask": "Come with me on Tuesday",
            "ask_due": in_days(2),
            "ask_kind": "joint_visit",
            "concessions": "Free delivery",
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["ask_kind"], body["concessions"]) == ("joint_visit", "Free delivery")
    assert Lead.objects.get(pk=company.lead_a1.pk).next_step == "Wait at their door"


def test_a_plan_with_only_the_facts_is_refused_by_the_api(company: Company) -> None:
    rep = api_for(company.rep_a1, "zh-hans")
    response = rep.post(
        "/reports", {"lead_id": company.lead_a1.pk, "kind": "escalation", "status_now": "没回复"}
    )
    assert response.status_code == 422
    fields = response.json()["error"]["fields"]
    assert "第 2 部分" in str(fields["next_step"])
    assert "第 3 部分" in str(fields["ask"])
