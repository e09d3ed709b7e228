"""The loop on the CRM's pages (issue 15): what is new for the rep (report page, My manager),
the quality score and weaknesses the manager sees, a plan with only the facts refused in place
(in Chinese), the big-deal and "what I learned" parts, the activity form's next step, the "no
next step" marker, the answers a manager gives (ask steps, joint visit) and the hand-off page's
preselected rep."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm import services
from crm.models import AskState, Lead, PlanDecision, Report
from tests.factories import lead_new, report_sent

if TYPE_CHECKING:
    from tests.conftest import Company

pytestmark = pytest.mark.django_db


def in_days(n: int) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=n)


def text(response: Any) -> str:
    return response.content.decode()


def plan(**extra: Any) -> dict[str, Any]:
    return {
        "kind": "escalation",
        "status_now": "Unreachable for three weeks.",
        "next_step": "Wait at the purchasing office on Monday",
        "next_step_due": in_days(4),
        "ask": "Can you call their director?",
        "ask_due": in_days(3),
    } | extra


def test_the_rep_sees_what_is_new_once(company: Company, client_for: Callable[..., Client]) -> None:
    report = report_sent(company.rep_a1, company.lead_a1, **plan())
    services.report_reply(actor=company.manager_a, report=report, body="Let us talk at 5.")
    rep = client_for(company.rep_a1)

    listing = text(rep.get(reverse("my-manager")))
    assert re.search(r'id="unseen-count">1<', listing)
    assert "new answer" in listing

    first = text(rep.get(report.get_absolute_url()))
    assert 'id="new-answers"' in first
    assert '<span class="tag new">new</span>' in first
    second = text(rep.get(report.get_absolute_url()))
    assert 'id="new-answers"' not in second
    assert re.search(r'id="unseen-count">0<', text(rep.get(reverse("my-manager"))))


def test_the_manager_sees_the_score_and_weaknesses(
    company: Company, client_for: Callable[..., Client]
) -> None:
    report = report_sent(company.rep_a1, company.lead_a1, **plan())
    assert "hands_work_back" in report.quality_issues
    manager = client_for(company.manager_a)
    page = text(manager.get(report.get_absolute_url()))
    assert f"Quality {report.quality_score}/100" in page
    assert "Asks the manager to do the work" in page
    inbox = text(manager.get(reverse("report-inbox")))
    assert "Asks the manager to do the work" in inbox


def test_a_plan_with_only_the_facts_is_refused_in_place_in_chinese(
    company: Company, client_for: Callable[..., Client]
) -> None:
    rep = client_for(company.rep_a1, "zh-hans")
    response = rep.post(
        reverse("report-create") + f"?lead={company.lead_a1.pk}&kind=escalation",
        {
            "kind": "escalation",
            "lead": company.lead_a1.pk,
            "status_now": "客户三周没回消息。",
            "action": "submit",
        },
    )
    assert response.status_code == 422
    page = text(response)
    next_step = page[page.index("field-next_step ") : page.index("field-next_step_due")]
    assert "请先填好第 2 部分再发送" in next_step
    assert "请先填好第 3 部分再发送" in page
    assert not Report.objects.filter(state="submitted").exists()


def test_big_deal_parts_open_by_themselves_on_a_big_lead(
    company: Company, client_for: Callable[..., Client]
) -> None:
    big = lead_new(company.manager_a, "Mega Steel", to=company.rep_a1, value=5_000_000)
    rep = client_for(company.rep_a1)
    page = text(rep.get(reverse("report-create") + f"?lead={big.pk}&kind=progress"))
    assert re.search(r'<details class="fold" id="optional-parts" open>', page)
    assert 'name="concessions"' in page and 'name="departments"' in page
    small = text(rep.get(reverse("report-create") + f"?lead={company.lead_a1.pk}&kind=progress"))
    assert re.search(r'<details class="fold" id="optional-parts">', small)

    report = report_sent(
        company.rep_a1,
        big,
        kind="progress",
        status_now="Price talks.",
        concessions="Free installation",
        departments="Finance; delivery",
    )
    manager_page = text(client_for(company.manager_a).get(report.get_absolute_url()))
    assert "Free installation" in manager_page and "Finance; delivery" in manager_page


def test_the_weekly_update_has_what_i_learned_for_the_manager(
    company: Company, client_for: Callable[..., Client]
) -> None:
    rep = client_for(company.rep_a1)
    page = text(rep.get(reverse("report-create") + "?kind=progress"))
    assert 'name="learning"' in page and 'name="concessions"' not in page
    report = report_sent(
        company.rep_a1, None, kind="progress", status_now="Good week.", learning="Listen first."
    )
    assert "Listen first." in text(client_for(company.manager_a).get(report.get_absolute_url()))


def test_the_activity_form_asks_for_the_next_step_prefilled(
    company: Company, client_for: Callable[..., Client]
) -> None:
    services.lead_update(
        actor=company.rep_a1,
        lead=company.lead_a1,
        data={"next_step": "Call the buyer", "next_step_due": in_days(1)},
    )
    rep = client_for(company.rep_a1)
    page = text(rep.get(company.lead_a1.get_absolute_url()))
    assert re.search(r'name="next_step"[^>]*value="Call the buyer"', page)
    response = rep.post(
        reverse("lead-log-activity", args=[company.lead_a1.pk]),
        {
            "kind": "call",
            "outcome": "follow_up",
            "next_step": "Send the quote",
            "next_step_due": in_days(3).isoformat(),
        },
    )
    assert response.status_code == 302
    lead = Lead.objects.get(pk=company.lead_a1.pk)
    assert (lead.next_step, lead.next_step_due) == ("Send the quote", in_days(3))


def test_a_lead_without_a_next_step_is_marked(
    company: Company, client_for: Callable[..., Client]
) -> None:
    rep = client_for(company.rep_a1)
    assert "No next step" in text(rep.get(company.lead_a1.get_absolute_url()))
    assert "No next step" in text(rep.get(reverse("lead-list")))
    services.lead_update(
        actor=company.rep_a1,
        lead=company.lead_a1,
        data={"next_step": "Call the buyer", "next_step_due": in_days(1)},
    )
    assert "No next step" not in text(rep.get(company.lead_a1.get_absolute_url()))


def test_the_manager_answers_in_steps_and_comes_along(
    company: Company, client_for: Callable[..., Client]
) -> None:
    report = report_sent(company.rep_a1, company.lead_a1, **plan())
    manager = client_for(company.manager_a)
    url = reverse("report-answer-ask", args=[report.pk])
    assert manager.post(url, {"state": AskState.IN_PROGRESS}).status_code == 302
    page = text(manager.get(report.get_absolute_url()))
    assert 'value="accepted"' not in page and 'value="done"' in page
    response = manager.post(
        reverse("report-decide", args=[report.pk]),
        {"decision": PlanDecision.JOINT_VISIT, "until": in_days(2).isoformat()},
    )
    assert response.status_code == 302
    lead = Lead.objects.get(pk=company.lead_a1.pk)
    assert lead.next_step_due == in_days(2)
    rep_page = text(client_for(company.rep_a1).get(report.get_absolute_url()))
    assert "I&#x27;ll come with you (joint visit)" in rep_page


def test_the_hand_off_page_preselects_the_picked_rep(
    company: Company, client_for: Callable[..., Client]
) -> None:
    manager = client_for(company.manager_a)
    page = text(manager.get(reverse("lead-handoff") + f"?rep={company.rep_a2.pk}"))
    radio = re.search(rf'<input[^>]*id="pick-rep-{company.rep_a2.pk}"[^>]*>', page)
    assert radio is not None and "checked" in radio.group(0)


def test_my_manager_keeps_its_query_count(
    company: Company, client_for: Callable[..., Client], django_assert_max_num_queries: Any
) -> None:
    for _ in range(3):
        report = report_sent(company.rep_a1, company.lead_a1, **plan())
        services.report_acknowledge(actor=company.manager_a, report=report)
    rep = client_for(company.rep_a1)
    rep.get(reverse("my-manager"))
    with django_assert_max_num_queries(12):
        rep.get(reverse("my-manager"))
