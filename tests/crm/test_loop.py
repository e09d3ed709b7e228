"""The CRM side of the loop (issue 15), through the services: answers carry a time and are "new"
for the rep until they open the report; asks move accepted → in progress → done/declined; a
plan moves the lead (next step from the report, keep pushing until, joint visit, park until);
an activity asks for the next step; a plan with only the facts is refused; each answer sends
its outbox event with report_id, author_id and actor_id."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from crm import selectors, services
from crm.models import (
    AskKind,
    AskState,
    DomainEvent,
    Lead,
    LeadEvent,
    LeadEventKind,
    Outcome,
    PlanDecision,
    Report,
)
from tests.factories import report_sent

if TYPE_CHECKING:
    from tests.conftest import Company

pytestmark = pytest.mark.django_db


def in_days(n: int) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=n)


def progress(**extra: Any) -> dict[str, Any]:
    return {
        "kind": "progress",
        "status_now": "The buyer wants a second demo.",
        "what_i_did": "Called the buyer twice.",
        "next_step": "Second demo at their plant",
        "next_step_due": in_days(5),
        "backup_plan": "Offer a trial unit.",
    } | extra


def plan(**extra: Any) -> dict[str, Any]:
    return {
        "kind": "escalation",
        "status_now": "Unreachable for three weeks.",
        "next_step": "Wait at the purchasing office on Monday",
        "next_step_due": in_days(4),
        "ask": "Approve a visit budget for two days",
        "ask_due": in_days(3),
    } | extra


def events(name: str) -> list[dict[str, Any]]:
    return [e.payload for e in DomainEvent.objects.filter(name=name).order_by("pk")]


# --- 1. Answers carry a time; "new" for the rep until seen -------------------------------------


ANSWERS = {
    "acknowledge": lambda c, r: services.report_acknowledge(actor=c.manager_a, report=r),
    "reply": lambda c, r: services.report_reply(actor=c.manager_a, report=r, body="Good work."),
    "answer-ask": lambda c, r: services.report_answer_ask(
        actor=c.manager_a, report=r, state=AskState.ACCEPTED
    ),
    "decide": lambda c, r: services.report_decide(
        actor=c.manager_a, report=r, decision=PlanDecision.KEEP_PUSHING
    ),
}
ANSWER_EVENTS = {
    "acknowledge": "report_acknowledged",
    "reply": "report_replied",
    "answer-ask": "ask_answered",
    "decide": "plan_decided",
}


@pytest.mark.parametrize("answer", list(ANSWERS))
def test_each_answer_stamps_answered_at_and_sends_its_event(company: Company, answer: str) -> None:
    report = report_sent(company.rep_a1, company.lead_a1, **plan())
    assert report.answered_at is None

    ANSWERS[answer](company, report)

    report.refresh_from_db()
    assert report.answered_at is not None
    payload = events(ANSWER_EVENTS[answer])[-1]
    assert payload["report_id"] == report.pk
    assert payload["author_id"] == company.rep_a1.pk
    assert payload["actor_id"] == company.manager_a.pk
    assert payload["lead_id"] == company.lead_a1.pk


def test_the_reps_own_reply_is_not_an_answer(company: Company) -> None:
    report = report_sent(company.rep_a1, company.lead_a1, **progress())
    services.report_reply(actor=company.rep_a1, report=report, body="One more thing.")
    report.refresh_from_db()
    assert report.answered_at is None
    assert report.author_seen_at is not None
    assert events("report_replied")[-1]["by_author"] is True


def test_mark_seen_clears_new_answers_once(company: Company) -> None:
    report = report_sent(company.rep_a1, company.lead_a1, **progress())
    services.report_reply(actor=company.manager_a, report=report, body="Call me.")
    report.refresh_from_db()

    assert services.report_mark_seen(author=company.manager_a, report=report) is False
    assert services.report_mark_seen(author=company.rep_a1, report=report) is True
    assert services.report_mark_seen(author=company.rep_a1, report=report) is False
    assert events("report_seen") == [
        {"report_id": report.pk, "author_id": company.rep_a1.pk, "lead_id": company.lead_a1.pk}
    ]
    report.refresh_from_db()
    assert report.author_seen_at is not None and report.author_seen_at >= report.answered_at


def test_my_manager_lists_reports_with_unseen_answers_first(company: Company) -> None:
    old = report_sent(company.rep_a1, company.lead_a1, **progress())
    newer = report_sent(company.rep_a1, None, **progress(next_step_due=None, next_step=""))
    services.report_acknowledge(actor=company.manager_a, report=old)

    page = selectors.my_manager(user=company.rep_a1)
    assert page["unseen_count"] == 1
    assert [r.pk for r in page["reports"]] == [old.pk, newer.pk]
    assert [r.is_new for r in page["reports"]] == [True, False]

    services.report_mark_seen(author=company.rep_a1, report=Report.objects.get(pk=old.pk))
    page = selectors.my_manager(user=company.rep_a1)
    assert page["unseen_count"] == 0


# --- 2. Ask states -----------------------------------------------------------------------------


def test_an_ask_moves_forward_and_the_rep_hears_each_step(company: Company) -> None:
    report = report_sent(company.rep_a1, company.lead_a1, **plan())
    for state in (AskState.ACCEPTED, AskState.IN_PROGRESS, AskState.DONE):
        services.report_answer_ask(actor=company.manager_a, report=report, state=state)
    assert [(e["previous_state"], e["state"]) for e in events("ask_answered")] == [
        ("open", "accepted"),
        ("accepted", "in_progress"),
        ("in_progress", "done"),
    ]
    report.refresh_from_db()
    assert report.ask_state == AskState.DONE
    with pytest.raises(ValidationError, match="already answered"):
        services.report_answer_ask(actor=company.manager_a, report=report, state=AskState.DECLINED)


def test_an_ask_does_not_move_back(company: Company) -> None:
    report = report_sent(company.rep_a1, company.lead_a1, **plan())
    services.report_answer_ask(actor=company.manager_a, report=report, state=AskState.IN_PROGRESS)
    with pytest.raises(ValidationError) as refused:
        services.report_answer_ask(actor=company.manager_a, report=report, state=AskState.ACCEPTED)
    assert "state" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        services.report_answer_ask(actor=company.manager_a, report=report, state=AskState.DECLINED)
    assert "note" in refused.value.message_dict
    assert Report.objects.get(pk=report.pk).ask_state == AskState.IN_PROGRESS


def test_a_joint_visit_ask_is_kept_with_its_kind(company: Company) -> None:
    report = report_sent(company.rep_a1, company.lead_a1, **plan(ask_kind=AskKind.JOINT_VISIT))
    assert report.ask_kind == AskKind.JOINT_VISIT
    assert events("report_submitted")[-1]["ask_kind"] == "joint_visit"


# --- 3. A plan moves the lead --------------------------------------------------------------------


def test_a_sent_progress_report_sets_the_leads_next_step(company: Company) -> None:
    report = report_sent(company.rep_a1, company.lead_a1, **progress())
    lead = Lead.objects.get(pk=company.lead_a1.pk)
    assert (lead.next_step, lead.next_step_due) == ("Second demo at their plant", in_days(5))
    entry = LeadEvent.objects.get(lead=lead, kind=LeadEventKind.NEXT_STEP)
    assert entry.changes["report_id"] == report.pk
    assert entry.changes["source"] == "report"
    assert events("lead_next_step_set")[-1]["report_id"] == report.pk


def test_a_report_without_a_date_leaves_the_lead_as_it_was(company: Company) -> None:
    report_sent(company.rep_a1, company.lead_a1, **progress(next_step_due=None))
    lead = Lead.objects.get(pk=company.lead_a1.pk)
    assert lead.next_step == ""
    assert not LeadEvent.objects.filter(lead=lead, kind=LeadEventKind.NEXT_STEP).exists()


def test_a_report_sets_the_lead_out_of_the_stalled_list(company: Company) -> None:
    later = timezone.now() + dt.timedelta(days=20)
    with time_machine.travel(later, tick=False):
        stalled = Lead.objects.filter(selectors.stalled_q())
        assert company.lead_a1 in stalled
        report_sent(company.rep_a1, company.lead_a1, **progress())
        assert company.lead_a1 not in Lead.objects.filter(selectors.stalled_q())


def test_keep_pushing_until_a_date_sets_the_next_step_date(company: Company) -> None:
    report = report_sent(company.rep_a1, company.lead_a1, **plan())
    services.report_decide(
        actor=company.manager_a, report=report, decision=PlanDecision.KEEP_PUSHING, until=in_days(9)
    )
    lead = Lead.objects.get(pk=company.lead_a1.pk)
    assert lead.next_step_due == in_days(9)
    assert lead.next_step == "Wait at the purchasing office on Monday"
    assert events("plan_decided")[-1]["until"] == in_days(9).isoformat()


def test_ill_come_with_you_sets_a_joint_visit_as_the_next_step(company: Company) -> None:
    report = report_sent(company.rep_a1, company.lead_a1, **plan())
    services.report_decide(
        actor=company.manager_a, report=report, decision=PlanDecision.JOINT_VISIT, until=in_days(2)
    )
    lead = Lead.objects.get(pk=company.lead_a1.pk)
    assert lead.is_open and lead.owner_id == company.rep_a1.pk
    assert lead.next_step_due == in_days(2)
    assert str(company.manager_a) in lead.next_step


def test_a_joint_visit_needs_its_date(company: Company) -> None:
    report = report_sent(company.rep_a1, company.lead_a1, **plan())
    with pytest.raises(ValidationError) as refused:
        services.report_decide(
            actor=company.manager_a, report=report, decision=PlanDecision.JOINT_VISIT
        )
    assert "until" in refused.value.message_dict
    assert Report.objects.get(pk=report.pk).decision == ""


def test_a_parked_lead_leaves_the_stalled_lists_until_its_date(company: Company) -> None:
    start = timezone.now() + dt.timedelta(days=20)
    with time_machine.travel(start, tick=False):
        report = report_sent(company.rep_a1, company.lead_a1, **plan())
        services.report_decide(
            actor=company.manager_a, report=report, decision=PlanDecision.PARK, until=in_days(30)
        )
        lead = Lead.objects.get(pk=company.lead_a1.pk)
        assert lead.parked_until == in_days(30)
        until = lead.parked_until
    # The plan's own next step date has passed, but the lead is parked: not stalled.
    with time_machine.travel(start + dt.timedelta(days=29), tick=False):
        Lead.objects.filter(pk=lead.pk).update(next_step_due=None)
        assert lead not in Lead.objects.filter(selectors.stalled_q())
        assert lead not in selectors.my_day(user=company.rep_a1)["stalled"]
    with time_machine.travel(dt.datetime.combine(until, dt.time(12), tzinfo=dt.UTC), tick=False):
        assert lead in Lead.objects.filter(selectors.stalled_q())


def test_an_activity_unparks_the_lead(company: Company) -> None:
    report = report_sent(company.rep_a1, company.lead_a1, **plan())
    services.report_decide(
        actor=company.manager_a, report=report, decision=PlanDecision.PARK, until=in_days(30)
    )
    services.activity_log(actor=company.rep_a1, lead=company.lead_a1, kind="call")
    assert Lead.objects.get(pk=company.lead_a1.pk).parked_until is None


# --- 4. Logging an activity asks for the next step ---------------------------------------------


def test_an_activity_with_a_next_step_moves_the_lead(company: Company) -> None:
    services.activity_log(
        actor=company.rep_a1,
        lead=company.lead_a1,
        kind="call",
        outcome=Outcome.FOLLOW_UP,
        next_step="Send the quote",
        next_step_due=in_days(2),
    )
    lead = Lead.objects.get(pk=company.lead_a1.pk)
    assert (lead.next_step, lead.next_step_due) == ("Send the quote", in_days(2))
    assert LeadEvent.objects.get(lead=lead, kind=LeadEventKind.NEXT_STEP).changes["source"] == (
        "activity"
    )
    assert events("activity_logged")[-1]["next_step_due"] == in_days(2).isoformat()


def test_the_prefilled_next_step_left_as_it_is_changes_nothing(company: Company) -> None:
    services.lead_update(
        actor=company.rep_a1,
        lead=company.lead_a1,
        data={"next_step": "Old step", "next_step_due": in_days(1)},
    )
    # Days later the step is overdue; logging a call with it unchanged is fine.
    with time_machine.travel(timezone.now() + dt.timedelta(days=5)):
        services.activity_log(
            actor=company.rep_a1,
            lead=company.lead_a1,
            kind="call",
            next_step="Old step",
            next_step_due=in_days(-4),
        )
    assert not LeadEvent.objects.filter(kind=LeadEventKind.NEXT_STEP).exists()


def test_a_next_step_in_the_past_is_refused_and_nothing_is_logged(company: Company) -> None:
    with pytest.raises(ValidationError) as refused:
        services.activity_log(
            actor=company.rep_a1,
            lead=company.lead_a1,
            kind="call",
            next_step="Send the quote",
            next_step_due=in_days(-1),
        )
    assert "next_step_due" in refused.value.message_dict
    assert not company.lead_a1.activities.exists()


# --- 5. A plan with only the facts is refused -------------------------------------------------


def test_a_plan_with_only_the_facts_is_refused_naming_what_is_missing(company: Company) -> None:
    draft = services.report_save_draft(
        author=company.rep_a1,
        lead=company.lead_a1,
        data={"kind": "escalation", "status_now": "They stopped answering."},
    )
    with pytest.raises(ValidationError) as refused:
        services.report_submit(author=company.rep_a1, report=draft)
    errors = refused.value.message_dict
    assert "what you will do" in errors["next_step"][0]
    assert "what you need from your manager" in errors["ask"][0]
    assert Report.objects.get(pk=draft.pk).state == "draft"


# --- 8. The hand-off nudge carries the manager's note -------------------------------------------


def test_the_hand_off_event_carries_the_managers_note(company: Company) -> None:
    services.lead_hand_off(
        actor=company.manager_a,
        lead_ids=[company.lead_a_pool.pk],
        to_user=company.rep_a2,
        note="Practice lead: report weekly",
    )
    assert events("lead_handed_down")[-1]["note"] == "Practice lead: report weekly"


def test_report_submitted_tells_the_coach_about_the_first_plan_on_a_handed_lead(
    company: Company,
) -> None:
    report_sent(company.rep_a1, company.lead_a1, **progress())
    report_sent(company.rep_a1, company.lead_a1, **progress())
    first, second = events("report_submitted")
    assert first["first_plan_on_lead"] is True and second["first_plan_on_lead"] is False
    assert first["handed_by_id"] == company.manager_a.pk
    assert first["quality_score"] == 100 and first["quality_issues"] == []
