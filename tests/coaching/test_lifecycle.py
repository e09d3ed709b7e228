"""One test per moment in COACHING.md's "Where the product speaks" table (plus the manager's
plan decision and the manager's follow-up on a stalled lead).

Each test builds the situation through the CRM's services, moves the clock where the rule needs
time to pass, lets the coach work (events and/or scans, twice: the second run must change
nothing), checks that the right person got exactly one nudge, then does what the nudge asks and
checks that the nudge closed by itself.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from coaching import selectors, services
from coaching.models import CreditPost, NudgeState, Thanks
from crm import services as crm
from crm.models import ActivityKind, ChickenRibReason, Outcome, PlanDecision, ReportKind, Role
from crm.pipeline import Stage
from tests.coaching.helpers import (
    at,
    check_texts,
    new_lead,
    nudges,
    only_nudge,
    process,
    report,
    scan,
    state_of,
    win,
)
from tests.factories import make_user

if TYPE_CHECKING:
    from tests.conftest import Company

pytestmark = pytest.mark.django_db


# --- The reports the coach listens to ---------------------------------------------------------


def test_reports_can_be_sent_acknowledged_and_decided(company: Company) -> None:
    general = report(company.rep_a1, kind=ReportKind.QUESTION)
    plan = report(company.rep_a1, company.lead_a1, kind=ReportKind.ESCALATION)
    crm.report_acknowledge(actor=company.manager_a, report=general)
    crm.report_decide(actor=company.manager_a, report=plan, decision=PlanDecision.KEEP_PUSHING)
    plan.refresh_from_db()
    assert plan.decision == PlanDecision.KEEP_PUSHING


# --- Lead handed down --------------------------------------------------------------------------


def test_handed_down_lead_asks_for_a_first_plan_until_the_first_report(company: Company) -> None:
    lead = new_lead(company.manager_a, "Canton Valves", to=company.rep_a1)
    process()
    process()

    nudge = only_nudge("handoff_first_plan", company.rep_a1, lead=lead)
    assert nudge.state == NudgeState.OPEN
    check_texts(nudge)
    # A report on another lead is not the first plan for this one.
    report(company.rep_a1, company.lead_a1)
    process()
    assert state_of(nudge) == NudgeState.OPEN

    report(company.rep_a1, lead)
    process()
    assert state_of(nudge) == NudgeState.DONE
    assert nudge.resolved_by == "report_submitted"


# --- Report due --------------------------------------------------------------------------------


def test_report_due_after_seven_days_without_a_report(
    company: Company, clock: time_machine.Traveller
) -> None:
    clock.move_to(at(days=6, hours=23))
    scan()
    assert nudges("report_due") == []

    clock.move_to(at(days=7, hours=1))
    scan()
    scan()
    nudge = only_nudge("report_due", company.rep_a1, lead=company.lead_a1)
    only_nudge("report_due", company.rep_a2, lead=company.lead_a2)
    assert nudge.context["days"] == 7
    check_texts(nudge, "7")

    report(company.rep_a1, company.lead_a1)
    process()
    assert state_of(nudge) == NudgeState.DONE
    scan()
    assert len(nudges("report_due", lead=company.lead_a1)) == 1


def test_report_due_after_three_days_when_the_tender_is_within_two_weeks(
    company: Company, clock: time_machine.Traveller
) -> None:
    tender = new_lead(
        company.manager_a,
        "Tender Works",
        to=company.rep_a1,
        tender_date=at(days=10).date(),
    )
    clock.move_to(at(days=2, hours=23))
    scan()
    assert nudges("report_due") == []

    clock.move_to(at(days=4))
    scan()
    scan()
    nudge = only_nudge("report_due", company.rep_a1, lead=tender)
    # The lead without a deadline keeps its 7 days.
    assert nudges("report_due", lead=company.lead_a1) == []
    check_texts(nudge, "4")

    report(company.rep_a1, tender)
    process()
    assert state_of(nudge) == NudgeState.DONE


# --- Rejection or unreachable ------------------------------------------------------------------


@pytest.mark.parametrize(
    "resolution",
    ["escalation plan", "later activity"],
)
@pytest.mark.parametrize("outcome", [Outcome.UNREACHABLE, Outcome.REFUSED])
def test_unreachable_or_refused_asks_not_to_bounce_it_back(
    company: Company, outcome: str, resolution: str
) -> None:
    process()  # the fixture's own events
    crm.activity_log(
        actor=company.rep_a1, lead=company.lead_a1, kind=ActivityKind.CALL, outcome=Outcome.REACHED
    )
    process()
    assert nudges("bounce_back") == []

    crm.activity_log(
        actor=company.rep_a1, lead=company.lead_a1, kind=ActivityKind.CALL, outcome=outcome
    )
    process()
    process()
    nudge = only_nudge("bounce_back", company.rep_a1, lead=company.lead_a1)
    check_texts(nudge)

    if resolution == "escalation plan":
        report(company.rep_a1, company.lead_a1, kind=ReportKind.ESCALATION)
    else:
        crm.activity_log(
            actor=company.rep_a1,
            lead=company.lead_a1,
            kind=ActivityKind.DOORSTEP,
            outcome=Outcome.INTERESTED,
        )
    process()
    assert state_of(nudge) == NudgeState.DONE


# --- Stalled lead ------------------------------------------------------------------------------


def _stalled_setup(company: Company) -> None:
    """lead_a1 moves on to "contacted" and then nothing happens; lead_a2 has a next step
    planned for later, so it is waiting, not stalled."""
    crm.lead_change_stage(actor=company.rep_a1, lead=company.lead_a1, to_stage=Stage.CONTACTED)
    crm.lead_change_stage(actor=company.rep_a2, lead=company.lead_a2, to_stage=Stage.CONTACTED)
    crm.lead_update(
        actor=company.rep_a2,
        lead=company.lead_a2,
        data={"next_step": "Call back after their budget meeting", "next_step_due": at(30).date()},
    )
    process()


STALLED_RESOLUTIONS = [
    "activity",
    "escalation plan",
    "lead closed",
]


def _act_on_stalled(company: Company, resolution: str) -> None:
    if resolution == "activity":
        crm.activity_log(actor=company.rep_a1, lead=company.lead_a1, kind=ActivityKind.VISIT)
    elif resolution == "escalation plan":
        report(company.rep_a1, company.lead_a1, kind=ReportKind.ESCALATION)
    else:
        crm.lead_change_stage(
            actor=company.rep_a1, lead=company.lead_a1, to_stage=Stage.LOST, reason="No budget"
        )
    process()


@pytest.mark.parametrize("resolution", STALLED_RESOLUTIONS)
def test_stalled_lead_after_fourteen_days_idle(
    company: Company, clock: time_machine.Traveller, resolution: str
) -> None:
    _stalled_setup(company)
    clock.move_to(at(days=13, hours=23))
    scan()
    assert nudges("stalled_lead", lead=company.lead_a1) == []

    clock.move_to(at(days=15))
    scan()
    scan()
    nudge = only_nudge("stalled_lead", company.rep_a1, lead=company.lead_a1)
    assert nudges("stalled_lead", lead=company.lead_a2) == []  # a future next step
    check_texts(nudge, "15")

    _act_on_stalled(company, resolution)
    assert state_of(nudge) == NudgeState.DONE


@pytest.mark.parametrize("resolution", STALLED_RESOLUTIONS)
def test_stalled_lead_ignored_for_three_days_goes_to_the_manager(
    company: Company, clock: time_machine.Traveller, resolution: str
) -> None:
    _stalled_setup(company)
    clock.move_to(at(days=15))
    scan()
    rep_nudge = only_nudge("stalled_lead", company.rep_a1, lead=company.lead_a1)

    clock.move_to(at(days=17, hours=23))
    scan()
    assert nudges("stalled_lead_manager", lead=company.lead_a1) == []

    clock.move_to(at(days=18, hours=1))
    scan()
    scan()
    nudge = only_nudge("stalled_lead_manager", company.manager_a, lead=company.lead_a1)
    check_texts(nudge, "rep_a1")

    _act_on_stalled(company, resolution)
    assert state_of(nudge) == NudgeState.DONE
    assert state_of(rep_nudge) == NudgeState.DONE


def test_a_chicken_rib_lead_stalls_sooner(company: Company, clock: time_machine.Traveller) -> None:
    rib = new_lead(
        company.manager_a,
        "Old Bones Trading",
        to=company.rep_a1,
        is_chicken_rib=True,
        chicken_rib_reasons=[ChickenRibReason.WILL_BUY_FOREVER],
    )
    for lead in (rib, company.lead_a1):
        crm.lead_change_stage(actor=company.rep_a1, lead=lead, to_stage=Stage.CONTACTED)
    clock.move_to(at(days=8))
    scan()
    # 8 days idle: the chicken-rib lead has stalled, the ordinary one (14 days) has not.
    nudge = only_nudge("stalled_lead", company.rep_a1, recipient=company.rep_a1)
    assert nudge.lead == rib


def test_the_manager_is_told_how_long_the_lead_has_really_been_idle(
    company: Company, clock: time_machine.Traveller
) -> None:
    _stalled_setup(company)
    clock.move_to(at(days=15))
    scan()
    clock.move_to(at(days=18, hours=1))
    scan()
    nudge = only_nudge("stalled_lead_manager", company.manager_a, lead=company.lead_a1)
    # The rep's nudge said 15 days three days ago; the lead has now been idle for 18.
    assert "18 days" in selectors.show(nudge, "en").title


# --- Deadline near -----------------------------------------------------------------------------


def test_deadline_within_seven_days_asks_to_report_now(company: Company) -> None:
    soon = new_lead(company.manager_a, "Soon Steel", to=company.rep_a1, expected_close=at(6).date())
    new_lead(company.manager_a, "Later Labs", to=company.rep_a1, expected_close=at(9).date())
    scan()
    scan()
    nudge = only_nudge("deadline_near", company.rep_a1)
    assert nudge.lead == soon
    check_texts(nudge, "6")

    report(company.rep_a1, soon)
    process()
    assert state_of(nudge) == NudgeState.DONE


# --- Won ---------------------------------------------------------------------------------------


def test_won_lead_asks_to_thank_the_manager_who_handed_it_down(
    company: Company, client_for
) -> None:  # type: ignore[no-untyped-def]
    own = crm.lead_create(actor=company.rep_a1, data={"company": "Own Find", "source": "referral"})
    process()
    win(own, company.rep_a1)  # nobody handed it down: nobody to thank
    win(company.lead_a1, company.rep_a1)
    process()
    process()
    nudge = only_nudge("lead_won_thanks", company.rep_a1)
    assert nudge.lead == company.lead_a1
    check_texts(nudge)

    services.thanks_send(
        author=company.rep_a1,
        lead=company.lead_a1,
        body="Thank you for trusting me with Alpha Robotics.",
        reward_note="Dinner is on me.",
        public_post="We won Alpha Robotics — without manager_a's advice there'd be no win.",
        credited=[company.manager_a],
    )
    process()
    assert state_of(nudge) == NudgeState.DONE
    post = CreditPost.objects.get()
    assert list(post.credited.all()) == [company.manager_a]
    assert Thanks.objects.get().recipient == company.manager_a

    page = client_for(company.manager_a).get(reverse("coach-feed"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "without manager_a&#x27;s advice there&#x27;d be no win" in html  # the public credit
    assert "Thank you for trusting me with Alpha Robotics." in html  # the private thanks
    other_team = client_for(company.rep_b1).get(reverse("coach-feed")).content.decode()
    assert "Alpha Robotics" not in other_team


# --- Lost --------------------------------------------------------------------------------------


def test_lost_lead_asks_for_an_honest_loss_review(company: Company) -> None:
    process()
    crm.lead_change_stage(
        actor=company.rep_a1, lead=company.lead_a1, to_stage=Stage.LOST, reason="Price"
    )
    process()
    process()
    nudge = only_nudge("loss_review", company.rep_a1, lead=company.lead_a1)
    check_texts(nudge)

    report(company.rep_a1, company.lead_a1)  # a progress report is not the review
    process()
    assert state_of(nudge) == NudgeState.OPEN

    report(company.rep_a1, company.lead_a1, kind=ReportKind.LOSS_REVIEW)
    process()
    assert state_of(nudge) == NudgeState.DONE


# --- Year end ----------------------------------------------------------------------------------


def test_year_end_asks_for_thank_you_notes(company: Company, clock: time_machine.Traveller) -> None:
    win(company.lead_a1, company.rep_a1)
    process()
    clock.move_to(dt.datetime(2025, 12, 19, 10, 0, tzinfo=timezone.get_default_timezone()))
    scan()
    assert nudges("year_end_thanks") == []

    clock.move_to(dt.datetime(2025, 12, 20, 10, 0, tzinfo=timezone.get_default_timezone()))
    scan()
    scan()
    nudge = only_nudge("year_end_thanks", company.rep_a1, recipient=company.rep_a1)
    only_nudge("year_end_thanks", company.rep_a2, recipient=company.rep_a2)
    assert nudge.context["count"] == 1  # the one win a manager handed down
    check_texts(nudge, "1")

    services.year_end_note_send(
        author=company.rep_a1, recipient=company.manager_a, body="Thank you for this year."
    )
    process()
    assert state_of(nudge) == NudgeState.DONE
    assert nudges("year_end_thanks", recipient=company.rep_a2)[0].state == NudgeState.OPEN


# --- Low contact -------------------------------------------------------------------------------


def test_low_contact_after_ten_days_without_a_report_or_question(
    company: Company, clock: time_machine.Traveller
) -> None:
    clock.move_to(at(days=9, hours=23))
    scan()
    assert nudges("low_contact") == []

    clock.move_to(at(days=10, hours=1))
    scan()
    scan()
    nudge = only_nudge("low_contact", company.rep_a1, recipient=company.rep_a1)
    only_nudge("low_contact", company.rep_a2, recipient=company.rep_a2)
    check_texts(nudge, "10")

    report(company.rep_a1, kind=ReportKind.QUESTION)  # any question counts
    process()
    assert state_of(nudge) == NudgeState.DONE
    assert nudges("low_contact", recipient=company.rep_a2)[0].state == NudgeState.OPEN


# --- Only asks for help ------------------------------------------------------------------------


def test_only_asking_for_help_asks_for_a_report_with_a_plan(
    company: Company, clock: time_machine.Traveller
) -> None:
    for hour in (1, 2):
        clock.move_to(at(hours=hour))
        report(company.rep_a1, kind=ReportKind.QUESTION)
    scan()
    assert nudges("only_asks_for_help") == []

    clock.move_to(at(hours=3))
    report(company.rep_a1, kind=ReportKind.QUESTION)
    scan()
    scan()
    nudge = only_nudge("only_asks_for_help", company.rep_a1)
    check_texts(nudge, "3")

    report(company.rep_a1, company.lead_a1)  # status, what I did, next step, backup
    process()
    assert state_of(nudge) == NudgeState.DONE
    scan()
    assert len(nudges("only_asks_for_help")) == 1


# --- Big deal ----------------------------------------------------------------------------------


def test_big_deal_asks_to_keep_the_plus_two_informed(company: Company) -> None:
    big = new_lead(company.manager_a, "Mega Grid", to=company.rep_a1, value=1_000_000)
    new_lead(company.manager_a, "Almost Big", to=company.rep_a1, value=999_999)
    company.team_b.director = None
    company.team_b.save()
    new_lead(company.manager_b, "No Director Big", to=company.rep_b1, value=5_000_000)
    scan()
    scan()
    nudge = only_nudge("big_deal_keep_director_informed", company.rep_a1)
    assert nudge.lead == big
    check_texts(nudge)

    report(company.rep_a1, big)  # not shared with the +2
    process()
    assert state_of(nudge) == NudgeState.OPEN
    report(company.rep_a1, big, share_with_director=True)
    process()
    assert state_of(nudge) == NudgeState.DONE


# --- Report not acknowledged -------------------------------------------------------------------


def test_unacknowledged_report_nudges_the_manager(
    company: Company, clock: time_machine.Traveller
) -> None:
    sent = report(company.rep_a1, company.lead_a1)
    process()
    clock.move_to(at(days=2, hours=23))
    scan()
    assert nudges("report_unacknowledged") == []

    clock.move_to(at(days=3, hours=1))
    scan()
    scan()
    nudge = only_nudge("report_unacknowledged", company.manager_a, report=sent)
    check_texts(nudge, "rep_a1", "3")

    crm.report_acknowledge(actor=company.manager_a, report=sent)
    process()
    assert state_of(nudge) == NudgeState.DONE


# --- Escalation plan waits for a decision ------------------------------------------------------


def test_escalation_plan_asks_the_manager_to_decide(company: Company) -> None:
    plan = report(company.rep_a1, company.lead_a1, kind=ReportKind.ESCALATION)
    report(company.rep_a1, company.lead_a1)  # a progress report needs no decision
    process()
    process()
    nudge = only_nudge("plan_decision_due", company.manager_a, report=plan)
    check_texts(nudge, "rep_a1")

    crm.report_decide(actor=company.manager_a, report=plan, decision=PlanDecision.KEEP_PUSHING)
    process()
    assert state_of(nudge) == NudgeState.DONE


# --- Reliable rep ------------------------------------------------------------------------------


def test_reliable_rep_on_chicken_rib_leads_is_suggested_for_a_better_lead(
    company: Company, clock: time_machine.Traveller
) -> None:
    rib = new_lead(
        company.manager_a,
        "Bone Dry Ltd",
        to=company.rep_a1,
        is_chicken_rib=True,
        chicken_rib_reasons=[ChickenRibReason.COMPETITOR],
    )
    for day in (2, 4):
        clock.move_to(at(days=day))
        report(company.rep_a1, rib)
    scan()
    assert nudges("reliable_rep") == []

    clock.move_to(at(days=6))
    report(company.rep_a1, rib)
    scan()
    scan()
    nudge = only_nudge("reliable_rep", company.manager_a, subject_user=company.rep_a1)
    assert nudge.context["count"] == 3
    check_texts(nudge, "rep_a1", "3")

    new_lead(company.manager_a, "Prime Prospects", to=company.rep_a1, value=800_000)
    process()
    assert state_of(nudge) == NudgeState.DONE


# --- Uneven distribution -----------------------------------------------------------------------


def test_uneven_distribution_nudges_the_manager(company: Company) -> None:
    rep_a3 = make_user(username="rep_a3", role=Role.REP)
    crm.rep_join_team(user=rep_a3, team=company.team_a)
    # rep_a1 holds 30 open leads, rep_a2 and rep_a3 six each: the median is 6.
    for rep, extra in ((company.rep_a1, 29), (company.rep_a2, 5), (rep_a3, 6)):
        ids = [
            crm.lead_create(
                actor=company.manager_a,
                data={"company": f"{rep.username} lead {n}", "source": "brand"},
            ).pk
            for n in range(extra)
        ]
        crm.lead_hand_off(actor=company.manager_a, lead_ids=ids, to_user=rep)
    scan()
    scan()
    nudge = only_nudge("uneven_distribution", company.manager_a)
    assert nudge.subject_user == company.rep_a1
    assert nudge.context["count"] == 30
    check_texts(nudge, "rep_a1", "30")

    services.nudge_dismiss(
        user=company.manager_a, nudge=nudge, reason="rep_a1 is onboarding two new reps' leads"
    )
    assert state_of(nudge) == NudgeState.DISMISSED
    scan()
    assert len(nudges("uneven_distribution")) == 1
