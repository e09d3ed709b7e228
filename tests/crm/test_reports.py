"""Reports (汇报) through the services: a rep drafts and sends, the manager reads, acknowledges,
answers the ask and decides on escalation plans; each step is one transaction that writes its
domain event to the outbox, and nothing when it is refused."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from crm import events, selectors, services
from crm.models import (
    AskState,
    DomainEvent,
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


def in_days(days: int) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=days)


PROGRESS: dict[str, Any] = {
    "kind": ReportKind.PROGRESS,
    "status_now": "Buyer likes the demo; finance checks the budget.",
    "what_i_did": "Visited the plant and met the buyer.",
    "next_step": "Send the revised quote",
    "backup_plan": "Offer the starter package.",
}
ESCALATION: dict[str, Any] = {
    "kind": ReportKind.ESCALATION,
    "status_now": "Unreachable for three weeks.",
    "next_step": "Wait at their purchasing office on Monday",
    "ask": "Call their director with me",
}


def draft(author: User, lead: Lead | None = None, **data: Any) -> Report:
    payload = PROGRESS | {"next_step_due": in_days(3)} | data
    return services.report_save_draft(author=author, data=payload, lead=lead)


def sent(author: User, lead: Lead | None = None, **data: Any) -> Report:
    return report_sent(author, lead, **(PROGRESS | {"next_step_due": in_days(3)} | data))


def escalation(company: Company, **data: Any) -> Report:
    payload = ESCALATION | {"next_step_due": in_days(3), "ask_due": in_days(2)} | data
    return sent(company.rep_a1, company.lead_a1, **payload)


def snapshot(report: Report) -> dict[str, Any]:
    """What the rep and the manager can notice about a report and its lead."""
    report = Report.objects.get(pk=report.pk)
    lead = Lead.objects.get(pk=report.lead_id) if report.lead_id else None
    return {
        "report": {
            field: getattr(report, field)
            for field in (
                "state",
                "read_at",
                "acknowledged_at",
                "ask_state",
                "ask_resolved_at",
                "ask_resolution_note",
                "decision",
                "decided_at",
                "park_until",
            )
        },
        "replies": ReportReply.objects.filter(report=report).count(),
        "lead": (lead.owner_id, lead.stage, lead.next_step_due, lead.lost_reason) if lead else None,
        "lead_events": LeadEvent.objects.filter(lead_id=report.lead_id or 0).count(),
        "outbox": DomainEvent.objects.count(),
    }


def names(since: int = 0) -> list[str]:
    return list(DomainEvent.objects.filter(pk__gt=since).values_list("name", flat=True))


def last_event_id() -> int:
    return DomainEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


# --- The rep's side ---------------------------------------------------------------------------


def test_rep_drafts_then_sends_a_progress_report(company: Company) -> None:
    first = services.report_save_draft(
        author=company.rep_a1,
        data={"kind": "progress", "status_now": "  Waiting for the budget.  "},
        lead=company.lead_a1,
    )
    again = services.report_save_draft(
        author=company.rep_a1,
        report=first,
        data={"what_i_did": "Called the buyer.", "ask": "Join my visit", "ask_due": in_days(2)},
    )

    assert again.pk == first.pk
    assert Report.objects.filter(author=company.rep_a1).count() == 1
    stored = Report.objects.get(pk=first.pk)
    assert stored.state == ReportState.DRAFT
    assert stored.submitted_at is None
    assert stored.status_now == "Waiting for the budget."  # trimmed, and not lost
    assert stored.what_i_did == "Called the buyer."
    assert (stored.team, stored.lead) == (company.team_a, company.lead_a1)

    report = services.report_submit(author=company.rep_a1, report=stored)

    report.refresh_from_db()
    assert report.state == ReportState.SUBMITTED
    assert report.submitted_at is not None
    # status 20 + did 20 + no next step 0 + 0 + no backup 0 + clear ask 10
    assert report.quality_score == 50
    assert report.quality_issues == ["no_next_step", "no_backup"]
    assert report.ask_state == AskState.OPEN
    assert report.on_time is True


def test_report_without_an_ask_has_no_open_ask(company: Company) -> None:
    report = sent(company.rep_a1, company.lead_a1)

    assert report.ask_state == AskState.NONE
    assert report.quality_score == 100


def test_a_general_weekly_update_has_no_lead(company: Company) -> None:
    report = sent(company.rep_a2, None, status_now="A quiet week; three quotes out.")

    assert report.lead is None
    assert report.team == company.team_a
    assert report.state == ReportState.SUBMITTED
    assert selectors.report_inbox(user=company.manager_a).filter(pk=report.pk).exists()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        pytest.param({"status_now": ""}, "status_now", id="empty-status"),
        pytest.param({"status_now": "   "}, "status_now", id="blank-status"),
        pytest.param({"next_step_due": -1}, "next_step_due", id="next-step-in-past"),
        pytest.param({"ask": "Join me", "ask_due": -1}, "ask_due", id="ask-due-in-past"),
        pytest.param({"kind": "question", "ask": ""}, "ask", id="question-without-question"),
    ],
)
def test_submit_refuses_an_incomplete_report(
    company: Company, data: dict[str, Any], field: str
) -> None:
    dates = {k: in_days(v) for k, v in data.items() if k.endswith("_due")}
    report = draft(company.rep_a1, company.lead_a1, **(data | dates))
    before = snapshot(report)

    with pytest.raises(ValidationError) as refused:
        services.report_submit(author=company.rep_a1, report=report)

    assert field in refused.value.message_dict
    assert snapshot(report) == before
    assert Report.objects.get(pk=report.pk).submitted_at is None


@pytest.mark.parametrize("kind", [ReportKind.ESCALATION, ReportKind.LOSS_REVIEW])
def test_plans_and_loss_reviews_need_a_lead(company: Company, kind: str) -> None:
    report = draft(company.rep_a1, None, kind=kind)

    with pytest.raises(ValidationError) as refused:
        services.report_submit(author=company.rep_a1, report=report)

    assert "kind" in refused.value.message_dict
    assert Report.objects.get(pk=report.pk).state == ReportState.DRAFT


def test_a_sent_report_can_no_longer_be_changed(company: Company) -> None:
    report = sent(company.rep_a1, company.lead_a1)

    with pytest.raises(ValidationError):
        services.report_save_draft(author=company.rep_a1, report=report, data={"status_now": "x"})
    with pytest.raises(ValidationError):
        services.report_submit(author=company.rep_a1, report=report)

    assert Report.objects.get(pk=report.pk).status_now == PROGRESS["status_now"]


def test_only_the_author_touches_a_draft(company: Company) -> None:
    report = draft(company.rep_a1, company.lead_a1)

    with pytest.raises(ValidationError):
        services.report_save_draft(author=company.rep_a2, report=report, data={"status_now": "x"})
    with pytest.raises(ValidationError):
        services.report_submit(author=company.rep_a2, report=report)

    stored = Report.objects.get(pk=report.pk)
    assert (stored.state, stored.status_now) == (ReportState.DRAFT, PROGRESS["status_now"])


@pytest.mark.parametrize("who", ["manager_a", "director", "admin"])
def test_only_reps_write_reports(company: Company, who: str) -> None:
    with pytest.raises(ValidationError):
        draft(company.people[who])

    assert not Report.objects.exists()


def test_a_rep_reports_only_on_their_own_leads(company: Company) -> None:
    for lead in (company.lead_a2, company.lead_a_pool, company.lead_b1):
        with pytest.raises(ValidationError):
            draft(company.rep_a1, lead)

    assert not Report.objects.exists()


def test_report_on_the_lead_timeline_follows_visibility(company: Company) -> None:
    private = sent(company.rep_a1, company.lead_a1, status_now="Private to my manager")

    def reports_seen_by(user: User) -> list[int]:
        timeline = selectors.lead_timeline(lead=company.lead_a1, viewer=user)
        return [entry.item.pk for entry in timeline if entry.kind == "report"]

    assert reports_seen_by(company.rep_a1) == [private.pk]
    assert reports_seen_by(company.manager_a) == [private.pk]
    assert reports_seen_by(company.admin) == [private.pk]
    assert reports_seen_by(company.director) == []

    shared = sent(company.rep_a1, company.lead_a1, share_with_director=True)

    assert reports_seen_by(company.director) == [shared.pk]
    assert reports_seen_by(company.manager_a) == [shared.pk, private.pk]


def test_drafts_never_reach_the_manager(company: Company) -> None:
    report = draft(company.rep_a1, company.lead_a1, share_with_director=True)

    for who in ("manager_a", "director", "admin"):
        user = company.people[who]
        assert not selectors.report_inbox(user=user).exists(), who
        assert not [
            e
            for e in selectors.lead_timeline(lead=company.lead_a1, viewer=user)
            if e.kind == "report"
        ], who
    assert selectors.my_manager(user=company.rep_a1)["drafts"] == [report]


# --- The manager's side -----------------------------------------------------------------------


def test_inbox_lists_the_teams_reports_newest_first(company: Company) -> None:
    older = sent(company.rep_a1, company.lead_a1)
    newer = sent(company.rep_a2, company.lead_a2)
    other_team = sent(company.rep_b1, company.lead_b1)
    now = timezone.now()
    for report, hours_ago in ((older, 3), (other_team, 2), (newer, 1)):
        Report.objects.filter(pk=report.pk).update(submitted_at=now - dt.timedelta(hours=hours_ago))

    assert list(selectors.report_inbox(user=company.manager_a)) == [newer, older]
    assert list(selectors.report_inbox(user=company.manager_b)) == [other_team]
    assert list(selectors.report_inbox(user=company.admin)) == [newer, other_team, older]
    assert list(selectors.report_inbox(user=company.director)) == []
    assert list(selectors.report_inbox(user=company.rep_a1)) == []


def test_opening_marks_read_only_for_the_manager(company: Company) -> None:
    report = sent(company.rep_a1, company.lead_a1, share_with_director=True)

    services.report_mark_read(actor=company.director, report=report)
    services.report_mark_read(actor=company.rep_a1, report=report)
    assert Report.objects.get(pk=report.pk).read_at is None

    services.report_mark_read(actor=company.manager_a, report=report)
    assert Report.objects.get(pk=report.pk).read_at is not None
    assert not selectors.report_inbox(user=company.manager_a, show="unread").exists()


def test_acknowledge_once(company: Company) -> None:
    report = sent(company.rep_a1, company.lead_a1)
    mark = last_event_id()

    services.report_acknowledge(actor=company.manager_a, report=report)
    first = Report.objects.get(pk=report.pk)
    services.report_acknowledge(actor=company.manager_a, report=report)

    again = Report.objects.get(pk=report.pk)
    assert first.acknowledged_at is not None
    assert first.acknowledged_by == company.manager_a
    assert first.read_at is not None
    assert again.acknowledged_at == first.acknowledged_at
    assert names(mark) == ["report_acknowledged"]
    assert not selectors.report_inbox(user=company.manager_a, show="unacknowledged").exists()


def test_reply_thread(company: Company) -> None:
    report = sent(company.rep_a1, company.lead_a1, share_with_director=True)

    services.report_reply(actor=company.rep_a1, report=report, body="Any news?")
    assert Report.objects.get(pk=report.pk).read_at is None  # the rep's own reply is no read
    services.report_reply(actor=company.manager_a, report=report, body="  Go ahead.  ")
    services.report_reply(actor=company.director, report=report, body="Keep me posted.")

    thread = list(ReportReply.objects.filter(report=report).values_list("author__username", "body"))
    assert thread == [
        ("rep_a1", "Any news?"),
        ("manager_a", "Go ahead."),
        ("director", "Keep me posted."),
    ]
    assert Report.objects.get(pk=report.pk).read_at is not None


def test_an_empty_reply_is_refused(company: Company) -> None:
    report = sent(company.rep_a1, company.lead_a1)
    before = snapshot(report)

    with pytest.raises(ValidationError) as refused:
        services.report_reply(actor=company.manager_a, report=report, body="  \n ")

    assert "body" in refused.value.message_dict
    assert snapshot(report) == before


def test_answer_ask_done_keeps_the_response_time(company: Company, time_machine: Any) -> None:
    time_machine.move_to(timezone.now(), tick=False)
    report = sent(
        company.rep_a1, company.lead_a1, ask="Join my visit on Friday", ask_due=in_days(3)
    )
    time_machine.shift(dt.timedelta(hours=5, minutes=30))

    services.report_answer_ask(actor=company.manager_a, report=report, state=AskState.DONE)

    stored = Report.objects.get(pk=report.pk)
    assert stored.ask_state == AskState.DONE
    assert stored.ask_resolved_at and stored.submitted_at
    assert stored.ask_resolved_at - stored.submitted_at == dt.timedelta(hours=5, minutes=30)
    assert not selectors.report_inbox(user=company.manager_a, show="asks").exists()


def test_declining_an_ask_needs_a_reason(company: Company) -> None:
    report = sent(company.rep_a1, company.lead_a1, ask="Approve a 5% discount", ask_due=in_days(3))
    before = snapshot(report)

    with pytest.raises(ValidationError) as refused:
        services.report_answer_ask(
            actor=company.manager_a, report=report, state=AskState.DECLINED, note="  "
        )

    assert refused.value.message_dict["note"] == [
        "Say why you decline, so the rep can plan around it."
    ]
    assert snapshot(report) == before

    services.report_answer_ask(
        actor=company.manager_a, report=report, state=AskState.DECLINED, note="Price floor is 3%."
    )

    stored = Report.objects.get(pk=report.pk)
    assert (stored.ask_state, stored.ask_resolution_note) == (
        AskState.DECLINED,
        "Price floor is 3%.",
    )
    assert stored.ask_resolved_at is not None
    with pytest.raises(ValidationError):
        services.report_answer_ask(actor=company.manager_a, report=report, state=AskState.DONE)
    assert Report.objects.get(pk=report.pk).ask_state == AskState.DECLINED


def test_an_unknown_answer_is_refused(company: Company) -> None:
    report = escalation(company)
    before = snapshot(report)

    with pytest.raises(ValidationError):
        services.report_answer_ask(actor=company.manager_a, report=report, state="maybe")

    assert snapshot(report) == before


def test_decide_keep_pushing(company: Company) -> None:
    report = escalation(company)
    lead_before = snapshot(report)["lead"]

    services.report_decide(
        actor=company.manager_a, report=report, decision=PlanDecision.KEEP_PUSHING, note="Go."
    )

    stored = Report.objects.get(pk=report.pk)
    assert stored.decision == PlanDecision.KEEP_PUSHING
    assert stored.decided_by == company.manager_a
    assert stored.acknowledged_at is not None  # deciding answers the report
    assert snapshot(report)["lead"] == lead_before


def test_decide_park_until_a_future_date(company: Company) -> None:
    report = escalation(company)
    until = in_days(30)

    services.report_decide(
        actor=company.manager_a, report=report, decision=PlanDecision.PARK, park_until=until
    )

    lead = Lead.objects.get(pk=company.lead_a1.pk)
    assert lead.next_step_due == until
    assert lead.next_step  # says it was parked
    assert lead.owner == company.rep_a1
    assert Report.objects.get(pk=report.pk).park_until == until


@pytest.mark.parametrize("until", [None, 0, -3], ids=["no-date", "today", "past"])
def test_park_needs_a_future_date(company: Company, until: int | None) -> None:
    report = escalation(company)
    before = snapshot(report)

    with pytest.raises(ValidationError) as refused:
        services.report_decide(
            actor=company.manager_a,
            report=report,
            decision=PlanDecision.PARK,
            park_until=None if until is None else in_days(until),
        )

    # The date field is `until` since issue 15: it serves keep pushing, joint visit and park.
    assert "until" in refused.value.message_dict
    assert snapshot(report) == before


def test_decide_hand_back_to_the_pool(company: Company) -> None:
    report = escalation(company)

    services.report_decide(
        actor=company.manager_a,
        report=report,
        decision=PlanDecision.HAND_BACK,
        note="Let someone else try.",
    )

    lead = Lead.objects.get(pk=company.lead_a1.pk)
    assert lead.owner is None
    returned = LeadEvent.objects.get(lead=lead, kind=LeadEventKind.RETURNED)
    assert (returned.actor, returned.from_user, returned.note) == (
        company.manager_a,
        company.rep_a1,
        "Let someone else try.",
    )
    assert Report.objects.get(pk=report.pk).decision == PlanDecision.HAND_BACK


def test_close_as_lost_needs_a_note(company: Company) -> None:
    report = escalation(company)
    before = snapshot(report)

    with pytest.raises(ValidationError) as refused:
        services.report_decide(
            actor=company.manager_a, report=report, decision=PlanDecision.CLOSE_LOST, note=" "
        )

    assert "note" in refused.value.message_dict
    assert snapshot(report) == before

    services.report_decide(
        actor=company.manager_a,
        report=report,
        decision=PlanDecision.CLOSE_LOST,
        note="No budget until 2027.",
    )

    lead = Lead.objects.get(pk=company.lead_a1.pk)
    assert (lead.stage, lead.lost_reason) == (Stage.LOST, "No budget until 2027.")
    assert lead.closed_at is not None


def test_a_plan_is_decided_once(company: Company) -> None:
    report = escalation(company)
    services.report_decide(
        actor=company.manager_a, report=report, decision=PlanDecision.KEEP_PUSHING
    )
    before = snapshot(report)

    with pytest.raises(ValidationError):
        services.report_decide(
            actor=company.manager_a, report=report, decision=PlanDecision.HAND_BACK
        )

    assert snapshot(report) == before
    assert Lead.objects.get(pk=company.lead_a1.pk).owner == company.rep_a1


def test_only_escalation_plans_take_a_decision(company: Company) -> None:
    report = sent(company.rep_a1, company.lead_a1)
    before = snapshot(report)

    with pytest.raises(ValidationError):
        services.report_decide(
            actor=company.manager_a, report=report, decision=PlanDecision.HAND_BACK
        )

    assert snapshot(report) == before


ANSWERS: dict[str, Callable[[User, Report], object]] = {
    "acknowledge": lambda user, report: services.report_acknowledge(actor=user, report=report),
    "answer-ask": lambda user, report: services.report_answer_ask(
        actor=user, report=report, state=AskState.DONE
    ),
    "decide": lambda user, report: services.report_decide(
        actor=user, report=report, decision=PlanDecision.HAND_BACK
    ),
}


@pytest.mark.parametrize("who", ["rep_a1", "rep_a2", "rep_b1", "director", "other_director"])
@pytest.mark.parametrize("action", list(ANSWERS))
def test_only_the_manager_answers(company: Company, who: str, action: str) -> None:
    report = escalation(company, share_with_director=True)
    before = snapshot(report)

    with pytest.raises((ValidationError, Report.DoesNotExist)):
        ANSWERS[action](company.people[who], report)

    assert snapshot(report) == before


@pytest.mark.parametrize("action", list(ANSWERS))
def test_another_teams_manager_cannot_answer(company: Company, action: str) -> None:
    report = escalation(company)
    before = snapshot(report)

    with pytest.raises(Report.DoesNotExist):
        ANSWERS[action](company.manager_b, report)

    assert snapshot(report) == before


@pytest.mark.parametrize("action", list(ANSWERS))
def test_an_admin_answers_like_the_manager(company: Company, action: str) -> None:
    report = escalation(company)

    ANSWERS[action](company.admin, report)

    stored = Report.objects.get(pk=report.pk)
    assert stored.acknowledged_at is not None or stored.ask_state == AskState.DONE


# --- Domain events ----------------------------------------------------------------------------


def test_each_step_writes_its_event_with_ids(company: Company) -> None:
    mark = last_event_id()
    report = escalation(company, share_with_director=True)
    services.report_acknowledge(actor=company.manager_a, report=report)
    services.report_answer_ask(actor=company.manager_a, report=report, state=AskState.DONE)
    services.report_decide(
        actor=company.manager_a, report=report, decision=PlanDecision.KEEP_PUSHING
    )

    rows = {e.name: e.payload for e in DomainEvent.objects.filter(pk__gt=mark).order_by("pk")}
    # Since issue 15 the sent plan's next step moves the lead (lead_next_step_set, before the
    # report_submitted row) and every payload carries more for the coach (crm/events.py).
    assert list(rows) == [
        "lead_next_step_set",
        "report_submitted",
        "report_acknowledged",
        "ask_answered",
        "plan_decided",
    ]
    rep, manager, lead = company.rep_a1.pk, company.manager_a.pk, company.lead_a1.pk
    assert rows["report_submitted"] == {
        "report_id": report.pk,
        "author_id": rep,
        "lead_id": lead,
        "kind": "escalation",
        "has_plan": True,
        "has_ask": True,
        "shared": True,
        "team_id": company.team_a.pk,
        "ask_kind": "",
        "quality_score": report.quality_score,
        "quality_issues": report.quality_issues,
        "handed_by_id": manager,
        "first_plan_on_lead": True,
        "next_step_due": in_days(3).isoformat(),
    }
    assert rows["report_acknowledged"] == {
        "report_id": report.pk,
        "actor_id": manager,
        "author_id": rep,
        "lead_id": lead,
    }
    assert rows["ask_answered"] == {
        "report_id": report.pk,
        "actor_id": manager,
        "author_id": rep,
        "lead_id": lead,
        "state": "done",
        "previous_state": "open",
        "ask_kind": "",
    }
    assert rows["plan_decided"] == {
        "report_id": report.pk,
        "actor_id": manager,
        "author_id": rep,
        "lead_id": lead,
        "decision": "keep_pushing",
        "until": None,
    }


def test_outbox_row_is_written_inside_the_transaction_and_the_signal_after_commit(
    company: Company, django_capture_on_commit_callbacks: Any
) -> None:
    report = draft(company.rep_a1, company.lead_a1)
    heard: list[dict[str, Any]] = []

    def listener(sender: object, **payload: Any) -> None:
        heard.append(payload)

    events.report_submitted.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            services.report_submit(author=company.rep_a1, report=report)
            # Already in the outbox, before the commit; nobody told yet.
            assert DomainEvent.objects.filter(
                name="report_submitted", payload__report_id=report.pk
            ).exists()
            assert heard == []
        for callback in callbacks:
            callback()
    finally:
        events.report_submitted.disconnect(listener)

    assert [payload["report_id"] for payload in heard] == [report.pk]


def test_a_rolled_back_change_leaves_no_event(company: Company) -> None:
    report = draft(company.rep_a1, company.lead_a1)
    mark = last_event_id()

    with pytest.raises(RuntimeError), transaction.atomic():
        services.report_submit(author=company.rep_a1, report=report)
        raise RuntimeError("the request failed after the service")

    assert names(mark) == []
    assert Report.objects.get(pk=report.pk).state == ReportState.DRAFT


REFUSED: dict[str, Callable[[Company, Report], object]] = {
    "submit-empty-status": lambda c, r: services.report_submit(author=c.rep_a1, report=r),
    "acknowledge-by-rep": lambda c, r: services.report_acknowledge(actor=c.rep_a1, report=r),
    "decline-without-reason": lambda c, r: services.report_answer_ask(
        actor=c.manager_a, report=r, state=AskState.DECLINED
    ),
    "park-in-the-past": lambda c, r: services.report_decide(
        actor=c.manager_a, report=r, decision=PlanDecision.PARK, park_until=in_days(-1)
    ),
    "close-lost-without-note": lambda c, r: services.report_decide(
        actor=c.manager_a, report=r, decision=PlanDecision.CLOSE_LOST
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_refused_step_writes_no_event(company: Company, case: str) -> None:
    if case == "submit-empty-status":
        report = draft(company.rep_a1, company.lead_a1, status_now="")
    else:
        report = escalation(company)
    mark = last_event_id()

    with pytest.raises(ValidationError):
        REFUSED[case](company, report)

    assert names(mark) == []


def test_close_lost_on_a_won_lead_rolls_back_everything(company: Company) -> None:
    """The decision touches the lead first; when the lead refuses, nothing of it stays."""
    report = escalation(company)
    Lead.objects.filter(pk=company.lead_a1.pk).update(stage=Stage.WON)
    before = snapshot(report)
    mark = last_event_id()

    with pytest.raises(ValidationError):
        services.report_decide(
            actor=company.manager_a,
            report=report,
            decision=PlanDecision.CLOSE_LOST,
            note="Too late",
        )

    assert snapshot(report) == before
    assert names(mark) == []
