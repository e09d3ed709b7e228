"""How good is a report, and did it come in time: the score table, the reporting rhythm
(7 days, 3 near a deadline), the on-time flag saved at submission and the per-rep numbers the
manager sees on the inbox."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import translation

from crm import selectors, services
from crm.models import AskState, Lead, Report, ReportState, User
from crm.reporting import ReportParts, assess, report_due_days, was_on_time
from tests.factories import report_sent

if TYPE_CHECKING:
    from tests.conftest import Company


SHANGHAI = ZoneInfo("Asia/Shanghai")
TODAY = dt.date(2025, 3, 3)
NEXT_WEEK = TODAY + dt.timedelta(days=7)
CLEAR_ASK = "Approve a 5% discount for the pilot order"  # well over 8 characters

# Weights (crm/reporting.py), spelled out so the table below can be checked by eye:
#   progress:    status 20 · did 20 · next step 20 · its date 15 · backup 15 · ask 10
#                (no ask at all earns the 10; a vague ask does not)
#   escalation:  facts 25 · next step 30 · its date 15 · ask 30; facts alone are capped at 25
#   question:    ask 50 · situation 30 · what I tried 20
#   loss review: what happened 35 · why we lost 30 · what I will do differently 35
FULL_PROGRESS: dict[str, Any] = {
    "status_now": "Buyer likes the demo; finance is still checking the budget.",
    "what_i_did": "Visited the plant on Tuesday and waited at the door for the buyer.",
    "next_step": "Send the revised quote to the buyer",
    "next_step_due": NEXT_WEEK,
    "backup_plan": "If finance says no, offer the smaller starter package.",
}
FULL_ESCALATION: dict[str, Any] = {
    "status_now": "Unreachable for three weeks; a competitor is entrenched.",
    "next_step": "Wait at the purchasing office on Monday to learn why",
    "next_step_due": NEXT_WEEK,
    "ask": "Call their director with me before the tender",
    "ask_due": NEXT_WEEK,
}

QUALITY_CASES = [
    pytest.param("progress", FULL_PROGRESS, 100, [], id="progress-complete-no-ask"),
    pytest.param(
        "progress",
        FULL_PROGRESS | {"ask": CLEAR_ASK, "ask_due": NEXT_WEEK},
        100,
        [],
        id="progress-complete-with-clear-ask",
    ),
    pytest.param(
        "progress",
        FULL_PROGRESS | {"next_step_due": None},
        100 - 15,
        ["next_step_without_date"],
        id="progress-next-step-without-date",
    ),
    pytest.param(
        "progress",
        FULL_PROGRESS | {"backup_plan": ""},
        100 - 15,
        ["no_backup"],
        id="progress-no-backup",
    ),
    pytest.param(
        "progress",
        FULL_PROGRESS | {"backup_plan": "   \n  "},
        100 - 15,
        ["no_backup"],
        id="progress-whitespace-backup-is-no-backup",
    ),
    pytest.param(
        "progress",
        FULL_PROGRESS | {"ask": CLEAR_ASK},
        100 - 10,
        ["vague_ask"],
        id="progress-ask-without-date-is-vague",
    ),
    pytest.param(
        "progress",
        FULL_PROGRESS | {"ask": "Help!", "ask_due": NEXT_WEEK},
        100 - 10,
        ["vague_ask"],
        id="progress-too-short-ask-is-vague",
    ),
    pytest.param(
        "progress",
        FULL_PROGRESS | {"next_step": "", "next_step_due": NEXT_WEEK},
        100 - 20 - 15,
        ["no_next_step"],
        id="progress-date-without-a-step-earns-nothing",
    ),
    pytest.param(
        "progress",
        {"status_now": "Still waiting."},
        20 + 10,
        ["no_effort", "no_next_step", "no_backup"],
        id="progress-status-only",
    ),
    pytest.param(
        "progress",
        {},
        10,
        ["no_status", "no_effort", "no_next_step", "no_backup"],
        id="progress-empty",
    ),
    pytest.param(
        "escalation",
        {"status_now": FULL_ESCALATION["status_now"]},
        25,
        ["facts_only", "no_next_step", "vague_ask"],
        id="escalation-facts-only",
    ),
    pytest.param(
        "escalation",
        {"status_now": FULL_ESCALATION["status_now"], "next_step_due": NEXT_WEEK},
        25,
        ["facts_only", "no_next_step", "vague_ask"],
        id="escalation-facts-and-a-bare-date-is-still-facts-only",
    ),
    pytest.param("escalation", FULL_ESCALATION, 100, [], id="escalation-complete"),
    pytest.param(
        "escalation",
        FULL_ESCALATION | {"ask": "", "ask_due": None},
        100 - 30,
        ["vague_ask"],
        id="escalation-without-ask",
    ),
    pytest.param(
        "escalation",
        FULL_ESCALATION | {"next_step": "", "next_step_due": None},
        25 + 30,
        ["no_next_step"],
        id="escalation-facts-and-ask-but-no-plan",
    ),
    pytest.param(
        "escalation",
        {},
        0,
        ["no_status", "no_next_step", "vague_ask"],
        id="escalation-empty",
    ),
    pytest.param(
        "question",
        {"status_now": "Customer asks for 90-day terms.", "what_i_did": "Asked finance."},
        30 + 20,
        ["no_question"],
        id="question-without-a-question",
    ),
    pytest.param(
        "question",
        {"ask": "Terms?"},
        50,
        ["no_status"],
        id="question-short-question-is-fine",
    ),
    pytest.param(
        "question",
        {"ask": "May I offer 90-day terms?", "status_now": "They insist.", "what_i_did": "Asked"},
        100,
        [],
        id="question-complete",
    ),
    pytest.param(
        "loss_review",
        {"status_now": "Lost the tender to the incumbent.", "what_i_did": "Price was 12% high."},
        35 + 30,
        ["no_lesson"],
        id="loss-review-without-lesson",
    ),
    pytest.param(
        "loss_review",
        {
            "status_now": "Lost the tender.",
            "what_i_did": "Price was high.",
            "next_step": "Meet the technical buyer before the tender is written.",
        },
        100,
        [],
        id="loss-review-complete",
    ),
]


@pytest.mark.parametrize(("kind", "parts", "score", "issues"), QUALITY_CASES)
def test_quality_score(kind: str, parts: dict[str, Any], score: int, issues: list[str]) -> None:
    quality = assess(ReportParts(kind=kind, **parts))

    assert (quality.score, quality.issues) == (score, issues)


def test_every_issue_has_a_message_for_the_rep() -> None:
    from crm.reporting import ISSUES, issue_label

    for code in ISSUES:
        assert issue_label(code) != code
        assert len(issue_label(code)) > 15


@pytest.mark.parametrize(
    ("deadline", "days"),
    [
        pytest.param(None, 7, id="no-deadline"),
        pytest.param(TODAY + dt.timedelta(days=30), 7, id="far-deadline"),
        pytest.param(TODAY + dt.timedelta(days=15), 7, id="15-days-out"),
        pytest.param(TODAY + dt.timedelta(days=14), 3, id="14-days-out"),
        pytest.param(TODAY + dt.timedelta(days=5), 3, id="5-days-out"),
        pytest.param(TODAY, 3, id="deadline-today"),
        pytest.param(TODAY - dt.timedelta(days=1), 7, id="yesterday-does-not-count"),
        pytest.param(TODAY - dt.timedelta(days=100), 7, id="long-past-does-not-count"),
    ],
)
def test_report_due_days(deadline: dt.date | None, days: int) -> None:
    assert report_due_days(close_or_tender=deadline, today=TODAY) == days


NOON = dt.datetime(2025, 3, 3, 12, 0, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("previous", "allowed", "on_time"),
    [
        pytest.param(None, 7, True, id="first-report"),
        pytest.param(NOON - dt.timedelta(days=2), 7, True, id="two-days"),
        pytest.param(NOON - dt.timedelta(days=7), 7, True, id="exactly-seven-days"),
        pytest.param(NOON - dt.timedelta(days=7, minutes=1), 7, False, id="seven-days-and-a-bit"),
        pytest.param(NOON - dt.timedelta(days=3), 3, True, id="exactly-three-near-deadline"),
        pytest.param(NOON - dt.timedelta(days=4), 3, False, id="four-days-near-deadline"),
    ],
)
def test_was_on_time(previous: dt.datetime | None, allowed: int, on_time: bool) -> None:
    assert was_on_time(previous=previous, now=NOON, allowed_days=allowed) is on_time


# --- The score and the on-time flag saved with a submitted report ---------------------------

START = dt.datetime(2025, 3, 3, 9, 0, tzinfo=SHANGHAI)


@pytest.fixture
def clock(time_machine: Any) -> Any:
    """Frozen time, started before the company exists (ask for it before `company`)."""
    time_machine.move_to(START, tick=False)
    return time_machine


def submit(
    author: User, *, lead: Lead | None = None, kind: str = "progress", **parts: Any
) -> Report:
    data = {"kind": kind, "status_now": "Where things stand."} | parts
    return report_sent(author, lead, **data)


def test_submitted_report_keeps_its_score_and_weaknesses(clock: Any, company: Company) -> None:
    report = submit(
        company.rep_a1,
        lead=company.lead_a1,
        what_i_did="Called twice.",
        next_step="Visit the plant",
        ask="Join the visit",  # clear enough, but no date: vague
    )

    report.refresh_from_db()
    with translation.override("en"):
        labels = [str(label) for label in report.quality_issue_labels()]
    # status 20 + did 20 + next step 20 + no date 0 + no backup 0 + vague ask 0
    assert report.quality_score == 60
    assert report.quality_issues == ["next_step_without_date", "no_backup", "vague_ask"]
    assert labels == [
        "Your next step has no date: by when will you do it?",
        "No backup plan: what will you do if the next step fails?",
        "Your ask does not say clearly what you need and by when; give both.",
    ]


@pytest.mark.parametrize(
    ("days_after_handoff", "on_time"),
    [pytest.param(7, True, id="day-7"), pytest.param(8, False, id="day-8")],
)
def test_first_report_on_a_lead_is_due_seven_days_after_the_handoff(
    clock: Any, company: Company, days_after_handoff: int, on_time: bool
) -> None:
    clock.move_to(START + dt.timedelta(days=days_after_handoff))

    assert submit(company.rep_a1, lead=company.lead_a1).on_time is on_time


@pytest.mark.parametrize(
    ("gap_days", "on_time"),
    [pytest.param(3, True, id="3-days"), pytest.param(4, False, id="4-days")],
)
def test_a_near_tender_shortens_the_rhythm_to_three_days(
    clock: Any, company: Company, gap_days: int, on_time: bool
) -> None:
    Lead.objects.filter(pk=company.lead_a1.pk).update(tender_date=TODAY + dt.timedelta(days=20))
    clock.move_to(START + dt.timedelta(days=1))
    submit(company.rep_a1, lead=company.lead_a1)
    # From day 10 on, the tender (day 20) is within 14 days.
    clock.move_to(START + dt.timedelta(days=10))
    submit(company.rep_a1, lead=company.lead_a1)

    clock.move_to(START + dt.timedelta(days=10 + gap_days))

    assert submit(company.rep_a1, lead=company.lead_a1).on_time is on_time


def test_a_past_tender_does_not_hide_a_near_close_date(clock: Any, company: Company) -> None:
    Lead.objects.filter(pk=company.lead_a1.pk).update(
        tender_date=TODAY - dt.timedelta(days=1), expected_close=TODAY + dt.timedelta(days=10)
    )
    clock.move_to(START + dt.timedelta(days=1))
    submit(company.rep_a1, lead=company.lead_a1)

    clock.move_to(START + dt.timedelta(days=5))  # 4 days later; close is 5 days away: allowed 3

    assert submit(company.rep_a1, lead=company.lead_a1).on_time is False


def test_general_updates_keep_their_own_rhythm(clock: Any, company: Company) -> None:
    submit(company.rep_a1)  # first general update: on time
    clock.move_to(START + dt.timedelta(days=6))
    submit(company.rep_a1, lead=company.lead_a1)  # a lead report does not reset the rhythm
    clock.move_to(START + dt.timedelta(days=9))

    late = submit(company.rep_a1)

    assert late.on_time is False


# --- Per-rep numbers on the inbox --------------------------------------------------------------


def test_rep_report_stats_match_a_hand_count(clock: Any, company: Company) -> None:
    """rep_a1's general updates, 30-day window ending at NOW = START + 60 days:

    when       gap    on time  score                          ask
    NOW-40d    first  yes      100 (complete, clear ask)      open        (outside window)
    NOW-25d    15d    no        85 (no backup)                —
    NOW-20d     5d    yes       50 (status + did, no plan)    —
    NOW-10d    10d    no       100 (complete, clear ask)      answered: done
    NOW-5d      5d    yes       90 (complete, vague ask)      open
    + a draft scoring 10, which counts for nothing.
    """
    now = START + dt.timedelta(days=60)
    rep = company.rep_a1
    plan: dict[str, Any] = {
        "what_i_did": "Visited.",
        "next_step": "Send the quote",
        "backup_plan": "Offer the starter package.",
    }

    def at(days_before: int) -> dt.date:
        clock.move_to(now - dt.timedelta(days=days_before))
        return (now - dt.timedelta(days=days_before - 3)).date()

    due = at(40)
    first = submit(rep, **plan, next_step_due=due, ask=CLEAR_ASK, ask_due=due)
    due = at(25)
    submit(rep, what_i_did="Visited.", next_step="Send the quote", next_step_due=due)
    at(20)
    submit(rep, what_i_did="Visited.")
    due = at(10)
    answered = submit(rep, **plan, next_step_due=due, ask=CLEAR_ASK, ask_due=due)
    services.report_answer_ask(actor=company.manager_a, report=answered, state=AskState.DONE)
    due = at(5)
    last = submit(rep, **plan, next_step_due=due, ask=CLEAR_ASK)
    services.report_save_draft(author=rep, data={"kind": "progress"})
    # rep_a2 reported once, 31 days ago: outside the window.
    at(31)
    old = submit(company.rep_a2)
    clock.move_to(now)

    assert Report.objects.filter(author=rep, state=ReportState.DRAFT, quality_score=10).exists()
    stats: dict[str, Any] = {
        user.username: user
        for user in selectors.rep_report_stats(reps=User.objects.filter(team=company.team_a))
    }
    a1, a2 = stats["rep_a1"], stats["rep_a2"]
    assert a1.last_report_at == last.submitted_at == now - dt.timedelta(days=5)
    assert (a1.reports_on_time, a1.reports_recent) == (2, 4)
    assert a1.quality_avg == pytest.approx((85 + 50 + 100 + 90) / 4)  # 81.25
    assert a1.open_asks == 2
    assert a1.oldest_open_ask == first.submitted_at
    assert a2.last_report_at == old.submitted_at
    assert (a2.reports_on_time, a2.reports_recent, a2.quality_avg, a2.open_asks) == (0, 0, None, 0)

    # The same numbers on the manager's inbox.
    from django.test import Client

    client = Client()
    client.force_login(company.manager_a)
    html = client.get(reverse("report-inbox")).content.decode()
    table = html[html.index('id="reps-h"') :]
    row = table[table.index("<td>rep_a1</td>") :]
    row = row[: row.index("</tr>")]
    assert (now - dt.timedelta(days=5)).strftime("%Y-%m-%d") in row
    assert '<td class="num">2/4</td>' in row
    assert '<td class="num">81</td>' in row
    assert '<td class="num">2</td>' in row
    assert "rep_b1" not in table  # another team's rep
