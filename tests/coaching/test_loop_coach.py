"""The coach closes the loop (issue 15): answers reach the rep, thanks and outcomes reach the
manager, the +2 hears of what waits in a manager's team, and the coach reads before it speaks.

Each test builds the situation through the services, moves the clock where the rule needs time,
lets the coach work (events and scans, as the lifecycle tests do), and checks who heard what and
that the update or advice closes when it should.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pytest
import time_machine
from django.urls import reverse

from coaching import playbook, selectors, services, updates
from coaching.models import Nudge, NudgeState
from crm import services as crm
from crm.models import AskState, ChickenRibReason, PlanDecision, ReportKind
from crm.pipeline import Stage
from tests.coaching.helpers import (
    CJK,
    START,
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

if TYPE_CHECKING:
    from tests.conftest import Company

pytestmark = pytest.mark.django_db


def _titles(nudge: Nudge) -> tuple[str, str]:
    return selectors.show(nudge, "en").title, selectors.show(nudge, "zh-hans").title


# --- 1. Answers reach the rep at once, one update per answer, closed when seen ----------------


def test_every_answer_reaches_the_rep_until_they_open_the_report(
    company: Company, clock: time_machine.Traveller
) -> None:
    sent = report(company.rep_a1, company.lead_a1, ask="Your view on the discount, please.")
    process()
    crm.report_acknowledge(actor=company.manager_a, report=sent)
    crm.report_reply(actor=company.manager_a, report=sent, body="Good work. Keep it at 5%.")
    crm.report_reply(actor=company.rep_a1, report=sent, body="Thanks!")  # the rep's own: none
    for state in (AskState.ACCEPTED, AskState.IN_PROGRESS, AskState.DONE):
        clock.shift(dt.timedelta(minutes=5))
        crm.report_answer_ask(actor=company.manager_a, report=sent, state=state)
    process()
    process()

    found = nudges("report_answered", report=sent)
    assert [n.recipient for n in found] == [company.rep_a1] * 5
    assert [n.context["answer"] for n in found] == [
        "acknowledged",
        "replied",
        "ask_accepted",
        "ask_in_progress",
        "ask_done",
    ]
    assert all(playbook.rule(n.rule_id).instant for n in found)
    en, zh = _titles(found[3])
    assert en == "manager_a is handling your ask" and zh == "manager_a说：这事我来办"
    for nudge in found:
        check_texts(nudge, "manager_a")

    clock.shift(dt.timedelta(minutes=5))
    sent.refresh_from_db()
    assert crm.report_mark_seen(author=company.rep_a1, report=sent)
    process()
    assert {state_of(n) for n in found} == {NudgeState.DONE}
    assert {n.resolved_by for n in nudges("report_answered")} == {"report_seen"}


def test_a_decision_reaches_the_rep_in_its_own_words(company: Company) -> None:
    plan = report(company.rep_a1, company.lead_a1, kind=ReportKind.ESCALATION)
    process()
    until = START.date() + dt.timedelta(days=20)
    crm.report_decide(actor=company.manager_a, report=plan, decision=PlanDecision.PARK, until=until)
    process()
    nudge = only_nudge("report_answered", company.rep_a1, report=plan)
    en, zh = _titles(nudge)
    assert en == f"manager_a parked Alpha Robotics until {until.isoformat()}"
    assert zh == f"manager_a决定Alpha Robotics暂缓到{until.isoformat()}"
    assert "until" in selectors.show(nudge, "en").advice.lower() or until.isoformat() in (
        selectors.show(nudge, "en").advice
    )
    # The manager's plan_decision_due closed as before.
    assert state_of(only_nudge("plan_decision_due", company.manager_a)) == NudgeState.DONE


# --- 2. The manager hears thanks, credit, outcomes and the first plan --------------------------


def test_thanks_and_public_credit_reach_the_people_named(company: Company) -> None:
    lead = new_lead(company.manager_a, "Canton Valves", to=company.rep_a1)
    win(lead, company.rep_a1)
    process()
    services.thanks_send(
        author=company.rep_a1,
        lead=lead,
        body="Thank you for trusting me with Canton Valves.",
        public_post="Without manager_a and rep_a2 there would be no win.",
        credited=[company.manager_a, company.rep_a2],
    )
    thanked = only_nudge("thanks_received", company.manager_a, lead=lead)
    assert thanked.context["public"] is True
    en, zh = _titles(thanked)
    assert "credited you on the team feed" in en and "公开提到了你" in zh
    credited = only_nudge("credit_named", company.rep_a2, lead=lead)
    check_texts(credited, "rep_a1")
    assert playbook.rule("thanks_received").instant

    updates.feed_seen(user=company.manager_a)
    assert state_of(thanked) == NudgeState.DONE
    assert state_of(credited) == NudgeState.OPEN
    assert updates.mark_seen(user=company.rep_a2, nudge=credited) == 1
    assert state_of(credited) == NudgeState.DONE


def test_private_thanks_says_nothing_of_a_public_post(company: Company) -> None:
    lead = new_lead(company.manager_a, "Canton Valves", to=company.rep_a1)
    win(lead, company.rep_a1)
    process()
    services.thanks_send(author=company.rep_a1, lead=lead, body="Thank you!")
    thanked = only_nudge("thanks_received", company.manager_a, lead=lead)
    en, _zh = _titles(thanked)
    assert en == "rep_a1 thanked you for Canton Valves"
    assert nudges("credit_named") == []


def test_the_manager_hears_how_a_lead_they_handed_down_ended(company: Company) -> None:
    won = new_lead(company.manager_a, "Canton Valves", to=company.rep_a1)
    lost = new_lead(company.manager_a, "Delta Export", to=company.rep_a1)
    win(won, company.rep_a1)
    crm.lead_change_stage(actor=company.rep_a1, lead=lost, to_stage=Stage.LOST, reason="Price")
    process()
    process()
    told_won = only_nudge("handed_lead_closed", company.manager_a, lead=won)
    told_lost = only_nudge("handed_lead_closed", company.manager_a, lead=lost)
    assert _titles(told_won)[0] == "Canton Valves, which you handed to rep_a1, was won"
    assert _titles(told_lost)[1] == "你交给rep_a1的Delta Export丢单了"
    check_texts(told_lost, "rep_a1")


def test_the_first_plan_on_a_handed_lead_reaches_its_manager_once(company: Company) -> None:
    lead = new_lead(company.manager_a, "Canton Valves", to=company.rep_a1)
    process()
    report(company.rep_a1, lead, kind=ReportKind.QUESTION)  # no plan yet
    process()
    assert nudges("handed_lead_first_plan") == []
    first = report(company.rep_a1, lead)
    report(company.rep_a1, lead)
    process()
    nudge = only_nudge("handed_lead_first_plan", company.manager_a, report=first)
    check_texts(nudge, "rep_a1")
    crm.report_acknowledge(actor=company.manager_a, report=first)
    process()
    assert state_of(nudge) == NudgeState.DONE


# --- 3. The director's signals, one per manager -----------------------------------------------


def test_the_director_hears_of_a_manager_sitting_on_reports(
    company: Company, clock: time_machine.Traveller
) -> None:
    waiting = [report(company.rep_a1, company.lead_a1), report(company.rep_a2, company.lead_a2)]
    answered = report(company.rep_b1, company.lead_b1)
    crm.report_acknowledge(actor=company.manager_b, report=answered)
    process()
    clock.move_to(at(days=4))
    scan()
    scan()
    nudge = only_nudge("director_answers_waiting", company.director)
    assert nudge.subject_user == company.manager_a
    assert nudge.context["count"] == 2 and nudge.context["days"] == 4
    assert nudge.context["team_id"] == company.team_a.pk
    check_texts(nudge, "manager_a")
    assert selectors.show(nudge, "en").action_url == reverse(
        "coach-team-detail", args=[company.team_a.pk]
    )

    for sent in waiting:
        crm.report_acknowledge(actor=company.manager_a, report=sent)
    clock.move_to(at(days=5))
    scan()
    assert state_of(nudge) == NudgeState.DONE
    assert Nudge.objects.get(pk=nudge.pk).resolved_by == "cleared"


def test_the_director_hears_of_big_deals_stalled_per_manager(
    company: Company, clock: time_machine.Traveller
) -> None:
    big = new_lead(company.manager_a, "Huge Steel", to=company.rep_a1, value=3_000_000)
    new_lead(company.manager_a, "Big Port", to=company.rep_a2, value=1_500_000)
    new_lead(company.manager_b, "Small Shop", to=company.rep_b1, value=20_000)
    process()
    clock.move_to(at(days=15))
    scan()
    nudge = only_nudge("director_big_deal_stalled", company.director)
    assert nudge.subject_user == company.manager_a
    assert nudge.context["count"] == 2
    assert nudge.context["company"] == big.company
    assert nudge.context["value"].startswith("3,000,000")
    check_texts(nudge, "manager_a")


def test_the_director_hears_of_reps_gone_silent(
    company: Company, clock: time_machine.Traveller
) -> None:
    clock.move_to(at(days=12))
    report(company.rep_a1, company.lead_a1)
    report(company.rep_b1, company.lead_b1)
    clock.move_to(at(days=15))
    scan()
    nudge = only_nudge("director_silent_reps", company.director)
    assert nudge.subject_user == company.manager_a
    assert nudge.context["count"] == 1 and nudge.context["rep"] == "rep_a2"
    check_texts(nudge, "manager_a")


# --- 4. The coach reads before it speaks -------------------------------------------------------


def test_deadline_near_waits_for_no_report_and_closes_with_one(
    company: Company, clock: time_machine.Traveller
) -> None:
    tender = START.date() + dt.timedelta(days=10)
    reported = new_lead(company.manager_a, "Canton Valves", to=company.rep_a1, tender_date=tender)
    silent = new_lead(company.manager_a, "Delta Export", to=company.rep_a1, tender_date=tender)
    clock.move_to(at(days=2))
    report(company.rep_a1, reported)
    process()
    clock.move_to(at(days=4))  # the tender is 6 days away: within the 7-day window
    scan()
    assert nudges("deadline_near", lead=reported) == []
    nudge = only_nudge("deadline_near", company.rep_a1, lead=silent)
    report(company.rep_a1, silent)
    process()
    assert state_of(nudge) == NudgeState.DONE


# --- 5. Chicken-rib: flagged → a plan; texts only for those leads ------------------------------


def test_flagging_chicken_rib_asks_for_a_plan_within_the_teams_working_days(
    company: Company,
) -> None:
    services.rule_setting_update(
        actor=company.manager_a,
        team=company.team_a,
        rule_id="chicken_rib_plan",
        enabled=True,
        values={"working_days": 5},
    )
    crm.lead_update(
        actor=company.manager_a,
        lead=company.lead_a1,
        data={"is_chicken_rib": True, "chicken_rib_reasons": [ChickenRibReason.COMPETITOR]},
    )
    process()
    nudge = only_nudge("chicken_rib_plan", company.rep_a1, lead=company.lead_a1)
    assert nudge.context["date"] == "2025-03-10"  # Monday + 5 working days
    check_texts(nudge)
    crm.lead_update(actor=company.manager_a, lead=company.lead_a1, data={"value": 5000})
    process()
    assert len(nudges("chicken_rib_plan")) == 1  # other edits say nothing
    report(company.rep_a1, company.lead_a1, kind=ReportKind.ESCALATION)
    process()
    assert state_of(nudge) == NudgeState.DONE


def test_chicken_rib_words_only_for_chicken_rib_leads(
    company: Company, clock: time_machine.Traveller
) -> None:
    rib = new_lead(
        company.manager_a,
        "Old Mill",
        to=company.rep_a1,
        is_chicken_rib=True,
        chicken_rib_reasons=[ChickenRibReason.UNREACHABLE],
    )
    plain = new_lead(company.manager_a, "New Plant", to=company.rep_a1)
    process()
    clock.move_to(at(days=15))
    scan()
    for rule_id in ("handoff_first_plan", "stalled_lead"):
        rib_nudge = only_nudge(rule_id, company.rep_a1, lead=rib)
        plain_nudge = only_nudge(rule_id, company.rep_a1, lead=plain)
        assert "鸡肋" in selectors.show(rib_nudge, "zh-hans").advice
        assert "chicken-rib" in selectors.show(rib_nudge, "en").advice
        assert "鸡肋" not in selectors.show(plain_nudge, "zh-hans").advice
        assert "chicken-rib" not in selectors.show(plain_nudge, "en").advice


# --- 6. Asks that hand the work back count as "only asks for help" -----------------------------


@pytest.mark.parametrize(
    ("ask", "fires"),
    [("你帮我打个电话吧", True), ("A budget line for the pilot, by Friday.", False)],
)
def test_asks_that_hand_the_work_back_count_as_asking_for_help(
    company: Company, ask: str, fires: bool
) -> None:
    for n in range(3):
        with time_machine.travel(at(hours=n + 1), tick=False):
            report(company.rep_a1, company.lead_a1, ask=ask)
    scan()
    assert len(nudges("only_asks_for_help", recipient=company.rep_a1)) == int(fires)


# --- 7. The first-plan rule's working days do something ----------------------------------------


def test_a_late_first_plan_reaches_the_manager_after_the_teams_working_days(
    company: Company, clock: time_machine.Traveller
) -> None:
    services.rule_setting_update(
        actor=company.manager_a,
        team=company.team_a,
        rule_id="handoff_first_plan",
        enabled=True,
        values={"working_days": 1},
    )
    clock.move_to(at(days=4))  # Friday
    lead = new_lead(company.manager_a, "Canton Valves", to=company.rep_a1)
    process()
    handoff = only_nudge("handoff_first_plan", company.rep_a1, lead=lead)
    assert handoff.context["date"] == "2025-03-10"  # the next working day is Monday
    assert "2025-03-10" in selectors.show(handoff, "zh-hans").title
    clock.move_to(at(days=7))  # Monday: due today, not late
    scan()
    assert nudges("first_plan_overdue", lead=lead) == []
    clock.move_to(at(days=8))
    scan()
    scan()
    late = only_nudge("first_plan_overdue", company.manager_a, lead=lead)
    check_texts(late, "rep_a1")
    report(company.rep_a1, lead)
    process()
    assert state_of(late) == NudgeState.DONE and state_of(handoff) == NudgeState.DONE


def test_the_settings_and_numbers_pages_speak_words_not_ids(company: Company, client_for) -> None:  # type: ignore[no-untyped-def]
    manager = client_for(company.manager_a, "zh-hans")
    page = manager.get(reverse("coach-settings")).content.decode()
    assert "发初步计划的期限（工作日）" in page
    assert "新交给你的商机：初步计划" in page
    assert "(handoff_first_plan)" not in page
    assert ">working_days" not in page and ">days_near_deadline" not in page
    numbers = manager.get(reverse("coach-stats")).content.decode()
    assert "主管积压汇报" in numbers
    assert "<td>report_unacknowledged</td>" not in numbers


def test_every_rule_and_threshold_has_a_name_in_both_languages() -> None:
    rules = playbook.rules().values()
    for language in ("en", "zh-hans"):
        assert len({rule.name_in(language) for rule in rules}) == len(rules), language
    for rule in rules:
        assert CJK.search(rule.name_in("zh-hans")) and not CJK.search(rule.name_in("en"))
        for name in rule.thresholds:
            assert CJK.search(rule.threshold_label(name, "zh-hans")), (rule.id, name)
            assert rule.threshold_label(name, "en") != name, (rule.id, name)


# --- 8. The hand-off nudge carries the manager's note ------------------------------------------


def test_the_handoff_nudge_carries_the_managers_note(company: Company) -> None:
    lead = new_lead(company.manager_a, "Canton Valves")
    crm.lead_hand_off(
        actor=company.manager_a,
        lead_ids=[lead.pk],
        to_user=company.rep_a1,
        note="Their CTO knows us; call him first.",
    )
    process()
    nudge = only_nudge("handoff_first_plan", company.rep_a1, lead=lead)
    assert nudge.context["note"] == "Their CTO knows us; call him first."
    en, zh = _titles(nudge)
    assert "Their CTO knows us; call him first." in en
    assert "主管留言" in zh and "Their CTO knows us" in zh


# --- A rep who stops reporting reaches the manager within days, once per rep -------------------


def test_the_manager_hears_of_a_rep_who_leaves_report_reminders_open(
    company: Company, clock: time_machine.Traveller
) -> None:
    second = new_lead(company.manager_a, "Canton Valves", to=company.rep_a2)
    clock.move_to(at(days=8))
    scan()
    assert nudges("report_due", recipient=company.rep_a2)
    report(company.rep_a1, company.lead_a1)  # rep_a1 answers the reminder
    process()
    clock.move_to(at(days=10))
    scan()
    assert nudges("report_due_ignored") == []  # not yet ignored past 2 days
    clock.move_to(at(days=11, hours=1))
    scan()
    scan()
    nudge = only_nudge("report_due_ignored", company.manager_a, recipient=company.manager_a)
    assert nudge.subject_user == company.rep_a2 and nudge.context["count"] == 2
    other = only_nudge("report_due_ignored", company.manager_b, recipient=company.manager_b)
    assert other.subject_user == company.rep_b1
    check_texts(nudge, "rep_a2")
    report(company.rep_a2, company.lead_a2)
    report(company.rep_a2, second)
    process()
    clock.move_to(at(days=12))
    scan()
    assert state_of(nudge) == NudgeState.DONE
