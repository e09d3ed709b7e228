"""Reports (汇报) through the pages: the rep's form with its autosave, the manager's inbox and
answer buttons (whole pages and htmx partials), who may open what, query counts and Chinese."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from crm import services
from crm.models import (
    AskState,
    Lead,
    LeadEvent,
    LeadEventKind,
    PlanDecision,
    Report,
    ReportKind,
    ReportReply,
    ReportState,
    User,
)
from crm.pipeline import Stage
from tests.factories import report_sent

if TYPE_CHECKING:
    from tests.conftest import Company

ClientFor = Callable[..., Client]


@pytest.fixture(autouse=True)
def _restore_language() -> Any:
    # Requests activate the user's language and leave it active; do not leak it to the next test.
    with translation.override(translation.get_language()):
        yield


HTMX: dict[str, Any] = {"HTTP_HX_REQUEST": "true"}
STATUS = "Buyer liked the demo; finance is checking the 2025 budget."


def in_days(days: int) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=days)


def form(**overrides: Any) -> dict[str, Any]:
    """What the rep types into the progress report form."""
    data: dict[str, Any] = {
        "kind": "progress",
        "status_now": STATUS,
        "what_i_did": "Visited the plant on Tuesday.",
        "next_step": "Send the revised quote",
        "next_step_due": in_days(3).isoformat(),
        "backup_plan": "Offer the starter package.",
        "ask": "",
        "ask_due": "",
    }
    return data | overrides


def html(response: Any) -> str:
    return response.content.decode()


def hidden_report_id(page: str) -> int:
    match = re.search(r'<input type="hidden" name="report_id"[^>]*value="(\d+)"', page)
    assert match, "no report_id input with a value"
    return int(match.group(1))


def sent(author: User, lead: Lead | None = None, **data: Any) -> Report:
    payload = {
        "kind": "progress",
        "status_now": STATUS,
        "what_i_did": "Called.",
        "next_step": "Visit",
        "next_step_due": in_days(3),
        "backup_plan": "Phone the deputy.",
    } | data
    return report_sent(author, lead, **payload)


def escalation(company: Company, **data: Any) -> Report:
    payload = {
        "kind": ReportKind.ESCALATION,
        "status_now": "Unreachable for three weeks.",
        "next_step": "Wait at their purchasing office on Monday",
        "ask": "Call their director with me",
        "ask_due": in_days(2),
    } | data
    return sent(company.rep_a1, company.lead_a1, **payload)


def state_of(report: Report) -> dict[str, Any]:
    """What anyone could notice about a report and its lead."""
    stored = Report.objects.get(pk=report.pk)
    lead = Lead.objects.filter(pk=stored.lead_id or 0).first()
    return {
        "report": [
            getattr(stored, f)
            for f in (
                "state",
                "status_now",
                "read_at",
                "acknowledged_at",
                "ask_state",
                "ask_resolution_note",
                "decision",
                "park_until",
            )
        ],
        "replies": ReportReply.objects.filter(report=stored).count(),
        "lead": (lead.owner_id, lead.stage, lead.next_step_due) if lead else None,
        "history": LeadEvent.objects.filter(lead_id=stored.lead_id or 0).count(),
    }


def timeline_links(client: Client, lead: Lead) -> list[int]:
    page = html(client.get(reverse("lead-detail", args=[lead.pk])))
    return [int(pk) for pk in re.findall(r'href="/reports/(\d+)/"', page)]


# --- The rep writes ---------------------------------------------------------------------------


def test_autosave_creates_then_updates_one_draft(company: Company, client_for: ClientFor) -> None:
    client = client_for(company.rep_a1)
    url = reverse("report-create")

    first = client.post(
        url,
        {"lead": company.lead_a1.pk, "action": "autosave", "kind": "progress", "status_now": "Wai"},
        **HTMX,
    )

    assert first.status_code == 200
    report = Report.objects.get(author=company.rep_a1)
    assert (report.state, report.lead, report.status_now) == (
        ReportState.DRAFT,
        company.lead_a1,
        "Wai",
    )
    assert "Draft saved at" in html(first)
    assert hidden_report_id(html(first)) == report.pk
    assert "<html" not in html(first)  # only the autosave region

    second = client.post(
        url,
        form(lead=company.lead_a1.pk, action="autosave", report_id=report.pk),
        **HTMX,
    )

    assert second.status_code == 200
    assert Report.objects.filter(author=company.rep_a1).count() == 1
    report.refresh_from_db()
    assert report.status_now == STATUS
    assert report.state == ReportState.DRAFT
    assert report.quality_score == 100
    assert hidden_report_id(html(second)) == report.pk


def test_autosave_shows_the_weaknesses_while_typing(
    company: Company, client_for: ClientFor
) -> None:
    client = client_for(company.rep_a1)

    response = client.post(
        reverse("report-create"),
        form(lead=company.lead_a1.pk, action="autosave", backup_plan="", next_step_due=""),
        **HTMX,
    )

    page = html(response)
    assert "Quality 70/100" in page  # 100 - date 15 - backup 15
    assert "Your next step has no date: by when will you do it?" in page
    assert "No backup plan: what will you do if the next step fails?" in page


def test_save_draft_keeps_everything_typed(company: Company, client_for: ClientFor) -> None:
    client = client_for(company.rep_a1)
    typed = form(
        lead=company.lead_a1.pk,
        action="draft",
        status_now="客户预算还在审批，下周三开会。",
        ask="请帮我约他们的总经理",
        ask_due=in_days(5).isoformat(),
    )

    response = client.post(reverse("report-create"), typed)

    report = Report.objects.get(author=company.rep_a1)
    assert response.status_code == 302
    assert response["Location"] == reverse("report-edit", args=[report.pk])
    assert report.state == ReportState.DRAFT
    page = html(client.get(response["Location"]))
    for text in ("客户预算还在审批，下周三开会。", "请帮我约他们的总经理", typed["what_i_did"]):
        assert text in page
    assert f'value="{in_days(5).isoformat()}"' in page
    assert "Draft saved. Finish it whenever you are ready." in page
    assert "Alpha Robotics" in page  # the lead stays with the draft

    mine = html(client.get(reverse("my-manager")))
    assert f'href="{reverse("report-edit", args=[report.pk])}"' in mine


def test_submit_sends_the_report(company: Company, client_for: ClientFor) -> None:
    client = client_for(company.rep_a1)
    client.post(reverse("report-create"), form(lead=company.lead_a1.pk, action="draft"))
    report = Report.objects.get(author=company.rep_a1)

    response = client.post(
        reverse("report-edit", args=[report.pk]),
        form(action="submit", ask="Join my visit on Friday", ask_due=in_days(3).isoformat()),
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("report-detail", args=[report.pk])
    report.refresh_from_db()
    assert report.state == ReportState.SUBMITTED
    assert report.submitted_at is not None
    assert report.quality_score == 100
    assert report.ask_state == AskState.OPEN
    assert Report.objects.filter(author=company.rep_a1).count() == 1
    page = html(client.get(response["Location"]))
    assert "Report sent to your manager." in page
    assert "Waiting for your manager" in page
    # Once sent it is no longer editable.
    assert client.get(reverse("report-edit", args=[report.pk])).status_code == 404


def test_submitted_report_on_the_lead_timeline(company: Company, client_for: ClientFor) -> None:
    client = client_for(company.rep_a1)
    client.post(reverse("report-create"), form(lead=company.lead_a1.pk, action="submit"))
    private = Report.objects.get(author=company.rep_a1)
    director = client_for(company.director)

    assert timeline_links(client, company.lead_a1) == [private.pk]
    assert timeline_links(client_for(company.manager_a), company.lead_a1) == [private.pk]
    assert timeline_links(director, company.lead_a1) == []
    assert STATUS not in html(director.get(reverse("lead-detail", args=[company.lead_a1.pk])))

    client.post(
        reverse("report-create"),
        form(lead=company.lead_a1.pk, action="submit", share_with_director="on"),
    )
    shared = Report.objects.get(author=company.rep_a1, share_with_director=True)

    assert timeline_links(director, company.lead_a1) == [shared.pk]


def test_submit_with_an_empty_status_is_refused_but_kept(
    company: Company, client_for: ClientFor
) -> None:
    client = client_for(company.rep_a1)

    response = client.post(
        reverse("report-create"), form(lead=company.lead_a1.pk, action="submit", status_now="")
    )

    assert response.status_code == 422
    page = html(response)
    assert "Say where things stand now before sending." in page
    assert "Visited the plant on Tuesday." in page  # what was typed is still on screen
    report = Report.objects.get(author=company.rep_a1)
    assert report.state == ReportState.DRAFT
    assert report.submitted_at is None
    assert report.what_i_did == "Visited the plant on Tuesday."
    # Sending again from that page updates the same draft.
    assert hidden_report_id(page) == report.pk


def test_next_step_in_the_past_is_refused(company: Company, client_for: ClientFor) -> None:
    client = client_for(company.rep_a1)

    response = client.post(
        reverse("report-create"),
        form(lead=company.lead_a1.pk, action="submit", next_step_due=in_days(-1).isoformat()),
    )

    assert response.status_code == 422
    assert "The next step&#x27;s date is in the past." in html(response)
    assert not Report.objects.filter(state=ReportState.SUBMITTED).exists()


def test_general_weekly_update(company: Company, client_for: ClientFor) -> None:
    client = client_for(company.rep_a2)
    page = html(client.get(reverse("report-create") + "?kind=progress"))
    assert "general update" in page
    assert 'name="lead"' not in page

    response = client.post(reverse("report-create"), form(action="submit"))

    report = Report.objects.get(author=company.rep_a2)
    assert response.status_code == 302
    assert (report.lead, report.team, report.state) == (None, company.team_a, "submitted")
    inbox = html(client_for(company.manager_a).get(reverse("report-inbox")))
    assert f'href="/reports/{report.pk}/"' in inbox
    assert "rep_a2</strong> · Progress report · general update" in inbox


def test_a_rep_cannot_write_on_someone_elses_lead(company: Company, client_for: ClientFor) -> None:
    client = client_for(company.rep_a1)

    assert client.get(reverse("report-create") + f"?lead={company.lead_a2.pk}").status_code == 404
    response = client.post(reverse("report-create"), form(lead=company.lead_b1.pk, action="submit"))

    assert response.status_code == 404
    assert not Report.objects.exists()


@pytest.mark.parametrize("who", ["manager_a", "director", "admin"])
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_managers_and_directors_are_shown_their_inbox_not_a_form_they_cannot_send(
    company: Company, client_for: ClientFor, who: str, language: str
) -> None:
    """Only a rep reports to a manager: the others never get a form that is refused on send."""
    client = client_for(company.people[who], language)
    notice = "Reps write reports to their manager; your team’s reports are here."
    with translation.override(language):
        notice = gettext(notice)

    for url in (
        reverse("report-create") + "?kind=progress",
        reverse("report-create") + f"?lead={company.lead_a1.pk}&kind=escalation",
        reverse("my-manager"),
    ):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == reverse("report-inbox")
        page = html(client.get(response["Location"]))
        assert notice in page
        assert 'name="status_now"' not in page
    posted = client.post(reverse("report-create"), form(lead=company.lead_a1.pk, action="submit"))
    assert posted.status_code == 302
    assert not Report.objects.exists()  # not even a draft (autosave used to keep one)
    # Their menu offers the inbox, and the lead page no "Report progress" button.
    lead_page = html(client.get(company.lead_a1.get_absolute_url()))
    assert f'href="{reverse("my-manager")}"' not in lead_page
    assert f'href="{reverse("report-inbox")}"' in lead_page
    assert reverse("report-create") not in lead_page


def test_my_manager_lists_drafts_and_sent_reports(company: Company, client_for: ClientFor) -> None:
    client = client_for(company.rep_a1)
    client.post(reverse("report-create"), form(lead=company.lead_a1.pk, action="draft"))
    client.post(reverse("report-create"), form(action="draft", kind="question", ask="Terms?"))
    open_ask = sent(company.rep_a1, company.lead_a1, ask="Join my Friday visit", ask_due=in_days(3))
    drafts = Report.objects.filter(author=company.rep_a1, state=ReportState.DRAFT)

    page = html(client.get(reverse("my-manager")))

    assert drafts.count() == 2
    for report in drafts:
        assert f'href="{reverse("report-edit", args=[report.pk])}"' in page
    assert "Question / asking for advice" in page
    assert "Join my Friday visit" in page
    assert f'href="{reverse("report-detail", args=[open_ask.pk])}"' in page
    assert "manager_a" in page  # who my manager is


def test_a_general_escalation_plan_says_why_it_is_refused(
    company: Company, client_for: ClientFor
) -> None:
    client = client_for(company.rep_a1)

    response = client.post(
        reverse("report-create") + "?kind=escalation",
        {
            "kind": "escalation",
            "action": "submit",
            "status_now": "Stuck.",
            "next_step": "Visit",
            "ask": "Call the director with me",
        },
    )

    assert response.status_code == 422
    assert "An escalation plan is written on a lead." in html(response)


# --- The manager answers ----------------------------------------------------------------------


def inbox_items(page: str) -> list[tuple[bool, int]]:
    """(unread?, report id) for each report in the inbox, top to bottom."""
    return [
        (cls == "unread", int(pk))
        for cls, pk in re.findall(r'<li class="(\w*)">\s*<a href="/reports/(\d+)/">', page)
    ]


def test_inbox_newest_first_and_unread_until_opened(
    company: Company, client_for: ClientFor
) -> None:
    older = sent(company.rep_a1, company.lead_a1)
    newer = sent(company.rep_a2, company.lead_a2)
    other_team = sent(company.rep_b1, company.lead_b1)
    Report.objects.filter(pk=older.pk).update(submitted_at=timezone.now() - dt.timedelta(hours=3))
    manager = client_for(company.manager_a)

    page = html(manager.get(reverse("report-inbox")))
    assert inbox_items(page) == [(True, newer.pk), (True, older.pk)]
    assert f"/reports/{other_team.pk}/" not in page

    opened = manager.get(reverse("report-detail", args=[older.pk]))
    assert opened.status_code == 200
    assert STATUS in html(opened)

    assert Report.objects.get(pk=older.pk).read_at is not None
    page = html(manager.get(reverse("report-inbox")))
    assert inbox_items(page) == [(True, newer.pk), (False, older.pk)]
    unread = html(manager.get(reverse("report-inbox") + "?show=unread"))
    assert inbox_items(unread) == [(True, newer.pk)]


def test_inbox_htmx_refresh_returns_only_the_list(company: Company, client_for: ClientFor) -> None:
    report = sent(company.rep_a1, company.lead_a1)

    response = client_for(company.manager_a).get(reverse("report-inbox"), **HTMX)

    page = html(response)
    assert page.lstrip().startswith('<div id="inbox"')
    assert "<html" not in page
    assert inbox_items(page) == [(True, report.pk)]


def test_acknowledge(company: Company, client_for: ClientFor) -> None:
    report = sent(company.rep_a1, company.lead_a1)
    manager = client_for(company.manager_a)

    response = manager.post(reverse("report-acknowledge", args=[report.pk]))

    assert response.status_code == 302
    stored = Report.objects.get(pk=report.pk)
    assert stored.acknowledged_at is not None
    assert stored.acknowledged_by == company.manager_a
    inbox = html(manager.get(reverse("report-inbox")))
    assert "acknowledged" in inbox
    assert inbox_items(inbox) == [(False, report.pk)]
    rep_view = html(client_for(company.rep_a1).get(reverse("report-detail", args=[report.pk])))
    assert "Acknowledged by manager_a" in rep_view
    mine = html(client_for(company.rep_a1).get(reverse("my-manager")))
    assert "not yet acknowledged" not in mine


def test_reply_thread_is_seen_by_the_rep(company: Company, client_for: ClientFor) -> None:
    report = sent(company.rep_a1, company.lead_a1)
    manager = client_for(company.manager_a)

    response = manager.post(
        reverse("report-reply", args=[report.pk]), {"body": "Bring the CFO's deck on Friday."}
    )

    assert response.status_code == 302
    reply = ReportReply.objects.get(report=report)
    assert (reply.author, reply.body) == (company.manager_a, "Bring the CFO's deck on Friday.")
    rep = client_for(company.rep_a1)
    page = html(rep.get(reverse("report-detail", args=[report.pk])))
    assert "Bring the CFO&#x27;s deck on Friday." in page
    assert "No replies yet." not in page
    assert "1 reply" in html(rep.get(reverse("my-manager")))

    rep.post(reverse("report-reply", args=[report.pk]), {"body": "Will do."})
    assert list(ReportReply.objects.filter(report=report).values_list("body", flat=True)) == [
        "Bring the CFO's deck on Friday.",
        "Will do.",
    ]


def test_an_empty_reply_is_refused(company: Company, client_for: ClientFor) -> None:
    report = sent(company.rep_a1, company.lead_a1)

    response = client_for(company.manager_a).post(
        reverse("report-reply", args=[report.pk]), {"body": ""}
    )

    assert response.status_code == 422
    assert "This field is required." in html(response)
    assert not ReportReply.objects.exists()


def test_answer_ask_done(company: Company, client_for: ClientFor, time_machine: Any) -> None:
    time_machine.move_to(timezone.now(), tick=False)
    report = sent(company.rep_a1, company.lead_a1, ask="Join my visit Friday", ask_due=in_days(3))
    time_machine.shift(dt.timedelta(hours=26))

    response = client_for(company.manager_a).post(
        reverse("report-answer-ask", args=[report.pk]), {"state": "done", "note": "Booked."}
    )

    assert response.status_code == 302
    stored = Report.objects.get(pk=report.pk)
    assert (stored.ask_state, stored.ask_resolution_note) == (AskState.DONE, "Booked.")
    assert stored.ask_resolved_at and stored.submitted_at
    assert stored.ask_resolved_at - stored.submitted_at == dt.timedelta(hours=26)
    rep_view = html(client_for(company.rep_a1).get(reverse("report-detail", args=[report.pk])))
    assert "Done" in rep_view
    assert "Booked." in rep_view


def test_declining_an_ask_needs_a_reason(company: Company, client_for: ClientFor) -> None:
    report = sent(company.rep_a1, company.lead_a1, ask="Approve a 5% discount", ask_due=in_days(3))
    before = state_of(report)
    manager = client_for(company.manager_a)

    refused = manager.post(reverse("report-answer-ask", args=[report.pk]), {"state": "declined"})

    assert refused.status_code == 422
    assert "Say why you decline, so the rep can plan around it." in html(refused)
    assert state_of(report) == before

    accepted = manager.post(
        reverse("report-answer-ask", args=[report.pk]),
        {"state": "declined", "note": "The price floor is 3%."},
    )

    assert accepted.status_code == 302
    stored = Report.objects.get(pk=report.pk)
    assert (stored.ask_state, stored.ask_resolution_note) == (
        AskState.DECLINED,
        "The price floor is 3%.",
    )
    assert stored.ask_resolved_at and stored.submitted_at
    assert stored.ask_resolved_at >= stored.submitted_at


def decide(client: Client, report: Report, **data: Any) -> Any:
    return client.post(reverse("report-decide", args=[report.pk]), data)


def test_decide_keep_pushing(company: Company, client_for: ClientFor) -> None:
    report = escalation(company)

    response = decide(client_for(company.manager_a), report, decision="keep_pushing", note="Go!")

    assert response.status_code == 302
    assert Report.objects.get(pk=report.pk).decision == PlanDecision.KEEP_PUSHING
    page = html(client_for(company.rep_a1).get(reverse("report-detail", args=[report.pk])))
    assert "Keep pushing" in page
    assert "Go!" in page
    assert Lead.objects.get(pk=company.lead_a1.pk).owner == company.rep_a1


def test_decide_park_moves_the_leads_next_step(company: Company, client_for: ClientFor) -> None:
    report = escalation(company)
    until = in_days(21)

    response = decide(
        client_for(company.manager_a), report, decision="park", until=until.isoformat()
    )

    assert response.status_code == 302
    assert Lead.objects.get(pk=company.lead_a1.pk).next_step_due == until
    assert Report.objects.get(pk=report.pk).park_until == until


def test_decide_park_in_the_past_is_refused(company: Company, client_for: ClientFor) -> None:
    report = escalation(company)
    before = state_of(report)

    response = decide(
        client_for(company.manager_a),
        report,
        decision="park",
        until=in_days(-2).isoformat(),  # the form's date is `until` since issue 15
    )

    assert response.status_code == 422
    assert "Park the lead until a date in the future." in html(response)
    assert state_of(report) == before


def test_decide_hand_back(company: Company, client_for: ClientFor) -> None:
    report = escalation(company)

    response = decide(client_for(company.manager_a), report, decision="hand_back", note="Swap.")

    assert response.status_code == 302
    assert Lead.objects.get(pk=company.lead_a1.pk).owner is None
    assert LeadEvent.objects.filter(
        lead=company.lead_a1, kind=LeadEventKind.RETURNED, from_user=company.rep_a1
    ).exists()
    # The lead is back in the manager's hand-off pool.
    pool = html(client_for(company.manager_a).get(reverse("lead-handoff")))
    assert "Alpha Robotics" in pool


def test_decide_close_as_lost(company: Company, client_for: ClientFor) -> None:
    report = escalation(company)
    manager = client_for(company.manager_a)
    before = state_of(report)

    refused = decide(manager, report, decision="close_lost", note="")

    assert refused.status_code == 422
    assert "Say why the lead is closed as lost." in html(refused)
    assert state_of(report) == before

    done = decide(manager, report, decision="close_lost", note="Budget frozen until 2027.")

    assert done.status_code == 302
    lead = Lead.objects.get(pk=company.lead_a1.pk)
    assert (lead.stage, lead.lost_reason) == (Stage.LOST, "Budget frozen until 2027.")


def test_a_plan_is_decided_once(company: Company, client_for: ClientFor) -> None:
    report = escalation(company)
    manager = client_for(company.manager_a)
    decide(manager, report, decision="keep_pushing")
    before = state_of(report)

    again = decide(manager, report, decision="hand_back")

    assert again.status_code == 422
    assert state_of(report) == before
    assert Lead.objects.get(pk=company.lead_a1.pk).owner == company.rep_a1


def test_a_second_decision_says_why_it_is_refused(company: Company, client_for: ClientFor) -> None:
    report = escalation(company)
    decide(client_for(company.admin), report, decision="keep_pushing")

    again = decide(client_for(company.manager_a), report, decision="hand_back")

    assert again.status_code == 422
    assert "This plan already has a decision." in html(again)


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("report-acknowledge", {}),
        ("report-answer-ask", {"state": "done"}),
        ("report-decide", {"decision": "hand_back", "note": "mine now"}),
    ],
)
def test_the_rep_cannot_answer_their_own_report(
    company: Company, client_for: ClientFor, url: str, data: dict[str, str]
) -> None:
    report = escalation(company)
    before = state_of(report)

    response = client_for(company.rep_a1).post(reverse(url, args=[report.pk]), data)

    assert response.status_code in (404, 422)
    assert state_of(report) == before


@pytest.mark.parametrize(
    ("url", "data", "changed"),
    [
        ("report-acknowledge", {}, "Acknowledged by manager_a"),
        ("report-reply", {"body": "Seen, thanks."}, "Seen, thanks."),
        ("report-answer-ask", {"state": "done", "note": "Booked it"}, "Booked it"),
        ("report-decide", {"decision": "keep_pushing", "note": "Push on"}, "Push on"),
    ],
)
def test_htmx_answers_return_the_report_body(
    company: Company, client_for: ClientFor, url: str, data: dict[str, str], changed: str
) -> None:
    report = escalation(company)

    response = client_for(company.manager_a).post(reverse(url, args=[report.pk]), data, **HTMX)

    page = html(response)
    assert response.status_code == 200
    assert page.lstrip().startswith('<div id="report-body">')
    assert "<html" not in page
    assert changed in page


def test_htmx_refusal_returns_the_report_body_with_the_message(
    company: Company, client_for: ClientFor
) -> None:
    report = escalation(company)

    response = client_for(company.manager_a).post(
        reverse("report-answer-ask", args=[report.pk]), {"state": "declined"}, **HTMX
    )

    page = html(response)
    assert response.status_code == 422
    assert page.lstrip().startswith('<div id="report-body">')
    assert "Say why you decline, so the rep can plan around it." in page


# htmx 2's default: 2xx and 3xx are swapped into the target, 4xx and 5xx are not.
HTMX2_RESPONSE_HANDLING = [
    {"code": "204", "swap": False},
    {"code": "[23]..", "swap": True},
    {"code": "[45]..", "swap": False, "error": True},
]


def test_the_browser_shows_a_422_refusal(company: Company, client_for: ClientFor) -> None:
    report = escalation(company)
    page = html(client_for(company.manager_a).get(reverse("report-detail", args=[report.pk])))
    assert 'hx-target="#report-body"' in page
    assert "htmx-2" in page or "htmx.min.js" in page or "htmx-2.min.js" in page

    meta = re.search(r"<meta name=\"htmx-config\" content='([^']*)'", page)
    config = json.loads(meta.group(1)) if meta else {}
    handling = config.get("responseHandling", HTMX2_RESPONSE_HANDLING)
    rule = next(rule for rule in handling if re.search(rule["code"], "422"))

    assert rule["swap"] is True


# --- Who may open and answer what -------------------------------------------------------------

ROLES = [
    "admin",
    "director",
    "other_director",
    "manager_a",
    "manager_b",
    "rep_a1",
    "rep_a2",
    "rep_b1",
]
POSTS: dict[str, dict[str, str]] = {
    "report-acknowledge": {},
    "report-reply": {"body": "Matrix reply"},
    "report-answer-ask": {"state": "done"},
    "report-decide": {"decision": "keep_pushing"},
}
URLS = ["report-detail", "report-edit", *POSTS]


@pytest.fixture
def matrix_reports(company: Company) -> dict[str, Report]:
    plain = escalation(company, status_now="Plain escalation facts")
    shared = escalation(company, status_now="Shared escalation facts", share_with_director=True)
    draft = services.report_save_draft(
        author=company.rep_a1,
        data={"kind": "progress", "status_now": "Half-written draft text"},
        lead=company.lead_a1,
    )
    other = sent(
        company.rep_b1,
        company.lead_b1,
        kind="escalation",
        status_now="Team B escalation facts",
        ask="Call their director with me",
        ask_due=in_days(2),
    )
    return {"a1_plain": plain, "a1_shared": shared, "a1_draft": draft, "b1": other}


def expected(role: str, report_name: str, url: str) -> str:
    """ok: the page opens or the answer is recorded; refused: 422 and nothing changes;
    draft: the author's draft opens in the editor; 404: it does not exist for them."""
    author = "rep_b1" if report_name == "b1" else "rep_a1"
    is_draft = report_name == "a1_draft"
    team_manager = "manager_b" if report_name == "b1" else "manager_a"
    if is_draft:
        if role != author:
            return "404"
        return {"report-detail": "draft", "report-edit": "ok"}.get(url, "404")
    if url == "report-edit":
        return "404"
    sees = role in (author, team_manager, "admin") or (
        role == "director" and report_name == "a1_shared"
    )
    if not sees:
        return "404"
    if url in ("report-detail", "report-reply"):
        return "ok"
    return "ok" if role in (team_manager, "admin") else "refused"


def outcome(response: Any, report: Report, before: dict[str, Any], url: str) -> str:
    after = state_of(report)
    status = response.status_code
    if url == "report-detail" and status == 302:
        return "draft" if response["Location"] == reverse("report-edit", args=[report.pk]) else "?"
    if status == 404:
        return "404" if after == before else "404 but changed"
    if status == 422:
        return "refused" if after == before else "refused but changed"
    if url == "report-detail":
        return "ok" if status == 200 and report.status_now in html(response) else f"{status}"
    if url == "report-edit":
        return "ok" if status == 200 and report.status_now in html(response) else f"{status}"
    if status == 302 and after != before:
        return "ok"
    return f"{status} {'changed' if after != before else 'unchanged'}"


def run_matrix(
    company: Company, reports: dict[str, Report], cells: list[tuple[str, str, str]]
) -> list[str]:
    clients = {role: Client() for role in ROLES}
    for role, client in clients.items():
        client.force_login(company.people[role])
    mismatches = []
    for role, report_name, url in cells:
        report = reports[report_name]
        want = expected(role, report_name, url)
        # Each cell starts from the same data: its changes are rolled back afterwards.
        with transaction.atomic():
            before = state_of(report)
            path = reverse(url, args=[report.pk])
            try:
                if url in POSTS:
                    response = clients[role].post(path, POSTS[url])
                else:
                    response = clients[role].get(path)
                got = outcome(response, report, before, url)
            except Exception as error:  # a crash is a mismatch, not the end of the matrix
                got = f"crash {type(error).__name__}"
            transaction.set_rollback(True)
        if got != want:
            mismatches.append(f"{role} {url} {report_name}: expected {want}, got {got}")
    return mismatches


OWN_DRAFT_ACTIONS = [("rep_a1", "a1_draft", url) for url in POSTS]


def test_report_visibility_matrix(company: Company, matrix_reports: dict[str, Report]) -> None:
    cells = [
        (role, name, url)
        for role in ROLES
        for name in matrix_reports
        for url in URLS
        if (role, name, url) not in OWN_DRAFT_ACTIONS
    ]
    assert len(cells) == 8 * 4 * 6 - 4

    assert run_matrix(company, matrix_reports, cells) == []


def test_answer_urls_on_ones_own_draft_are_404(
    company: Company, matrix_reports: dict[str, Report]
) -> None:
    assert run_matrix(company, matrix_reports, OWN_DRAFT_ACTIONS) == []


# --- Query counts -----------------------------------------------------------------------------

# Measured on SQLite. A page that needs more has grown an N+1 or a new query: look before
# raising the number.
PINNED = {"report-inbox": 7, "my-manager": 9}


def add_reports(company: Company, count: int) -> None:
    """`count` submitted team A reports in bulk: both reps, lead and general, read and unread,
    asks open and answered, acknowledged, with replies; and a few drafts."""
    now = timezone.now()
    reps = [company.rep_a1, company.rep_a2]
    leads = {company.rep_a1.pk: company.lead_a1, company.rep_a2.pk: company.lead_a2}
    reports = []
    for i in range(count):
        author = reps[i % 2]
        reports.append(
            Report(
                author=author,
                team=company.team_a,
                lead=leads[author.pk] if i % 3 else None,
                kind=list(ReportKind.values)[i % 4] if i % 3 else ReportKind.PROGRESS,
                state=ReportState.SUBMITTED,
                status_now=f"Bulk status {i}",
                ask=f"Bulk ask {i}" if (i // 2) % 3 else "",
                ask_state=[AskState.NONE, AskState.OPEN, AskState.DONE][(i // 2) % 3],
                quality_score=50 + i % 50,
                on_time=bool(i % 4),
                submitted_at=now - dt.timedelta(hours=i),
                read_at=now if i % 5 == 0 else None,
                acknowledged_at=now if i % 3 == 0 else None,
                acknowledged_by=company.manager_a if i % 3 == 0 else None,
                decision=PlanDecision.KEEP_PUSHING if i % 4 == 1 else "",
            )
        )
        if i % 6 == 0:
            reports.append(
                Report(
                    author=author,
                    team=company.team_a,
                    lead=leads[author.pk],
                    status_now=f"Draft {i}",
                )
            )
    created = Report.objects.bulk_create(reports)
    ReportReply.objects.bulk_create(
        ReportReply(report=report, author=company.manager_a, body="ok")
        for report in created[::2]
        if report.state == ReportState.SUBMITTED
    )


def count_queries(client: Client, url: str) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries), html(response)


@pytest.mark.parametrize(("page", "who"), [("report-inbox", "manager_a"), ("my-manager", "rep_a1")])
def test_report_pages_do_not_grow_with_the_reports(
    company: Company, page: str, who: str, django_assert_max_num_queries: Any
) -> None:
    client = Client()
    client.force_login(company.people[who])
    url = reverse(page)
    client.get(url)  # warm up: the session, caches
    add_reports(company, 5)
    small, small_page = count_queries(client, url)
    add_reports(company, 35)
    large, large_page = count_queries(client, url)

    links = re.compile(r'href="/reports/\d+/')
    assert len(links.findall(small_page)) >= 3
    assert len(links.findall(large_page)) > len(links.findall(small_page))
    assert small == large
    with django_assert_max_num_queries(PINNED[page]):
        client.get(url)


# --- Chinese ----------------------------------------------------------------------------------


def translated(*labels: str) -> list[str]:
    with translation.override("zh-hans"):
        return [gettext(label) for label in labels]


FORM_LABELS = [
    "Progress report",
    "Status now",
    "What I did",
    "Next step",
    "Next step by",
    "Backup plan if it fails",
    "What I need from my manager (optional)",
    "Needed by",
    "Send to my manager",
    "Save draft",
    "Your draft saves itself as you type.",
    "The lead",
]
INBOX_LABELS = [
    "Report inbox",
    "Unread",
    "Not acknowledged",
    "Open asks",
    "Reporting by rep (last 30 days)",
    "Last report",
    "Average quality",
    "On time",
    "open ask",
]


def test_report_form_in_chinese(company: Company, client_for: ClientFor) -> None:
    client = client_for(company.rep_a1, "zh-hans")

    page = html(client.get(reverse("report-create") + f"?lead={company.lead_a1.pk}"))

    assert '<html lang="zh-hans"' in page
    missing = [
        label
        for label, chinese in zip(FORM_LABELS, translated(*FORM_LABELS), strict=True)
        if chinese == label or chinese not in page
    ]
    assert missing == []
    assert "Status now" not in page


def test_autosave_and_refusals_in_chinese(company: Company, client_for: ClientFor) -> None:
    client = client_for(company.rep_a1, "zh-hans")

    saved = html(
        client.post(
            reverse("report-create"),
            form(lead=company.lead_a1.pk, action="autosave", backup_plan=""),
            **HTMX,
        )
    )
    refused = html(client.post(reverse("report-create"), form(action="submit", status_now="")))

    with translation.override("zh-hans"):
        assert gettext("No backup plan: what will you do if the next step fails?") in saved
        assert (gettext("Draft saved at %(time)s.") % {"time": ""}).split(" ")[0] in saved
        assert gettext("Say where things stand now before sending.") in refused
    assert "No backup plan" not in saved


def test_inbox_in_chinese(company: Company, client_for: ClientFor) -> None:
    sent(company.rep_a1, company.lead_a1, ask="请帮我约他们的总经理", ask_due=in_days(3))
    client = client_for(company.manager_a, "zh-hans")

    page = html(client.get(reverse("report-inbox")))

    assert '<html lang="zh-hans"' in page
    missing = [
        label
        for label, chinese in zip(INBOX_LABELS, translated(*INBOX_LABELS), strict=True)
        if chinese == label or chinese not in page
    ]
    assert missing == []
    with translation.override("zh-hans"):
        assert gettext("Progress report") in page
        assert gettext("quality %(score)s/100") % {"score": 100} in page
