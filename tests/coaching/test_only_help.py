"""The "only asks for help" rule (coaching.rules.only_help) as one pass over the reports.

The rule once asked, per report row, for its author's latest and n-th report (two correlated
subqueries); it now numbers each rep's submitted reports newest first in one window. These
tests hold the new query to the rule's words on a varied set of reps, and to the old query's
answers wherever that one was well defined.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import TYPE_CHECKING, Any

import pytest
from django.db.models import (
    Case,
    Count,
    DateTimeField,
    F,
    IntegerField,
    OuterRef,
    Q,
    RowRange,
    Subquery,
    Sum,
    When,
    Window,
)
from django.db.models.functions import FirstValue, RowNumber

from coaching import rules
from crm.models import Report, ReportKind, ReportState, Role, User
from tests.factories import make_user

if TYPE_CHECKING:
    from pytest_django import DjangoAssertNumQueries

    from tests.conftest import Company

NOW = dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.UTC)
TODAY = NOW.date()


def _help_only_before(reps: Any, last_n: int) -> dict[int, int]:
    """The rule as it was written before (commit 0029a4f), kept to compare answers."""
    mine = Report.objects.filter(author=OuterRef("pk"), state=ReportState.SUBMITTED).order_by(
        "-submitted_at", "-id"
    )
    nth = Subquery(mine.values("submitted_at")[last_n - 1 : last_n], output_field=DateTimeField())
    latest = Subquery(mine.values("pk")[:1], output_field=IntegerField())
    recent = Q(reports__state=ReportState.SUBMITTED, reports__submitted_at__gte=F("nth"))
    planned = (
        ~Q(reports__next_step="")
        & ~Q(reports__kind=ReportKind.QUESTION)
        & ~Q(reports__quality_issues__icontains=f'"{rules.HANDS_WORK_BACK}"')
    )
    rows = (
        reps.annotate(nth=nth, latest=latest)
        .filter(nth__isnull=False)
        .annotate(planned=Count("reports", filter=recent & planned))
        .filter(planned=0)
        .values("pk", "latest")
    )
    return {row["pk"]: row["latest"] for row in rows}


def _help_only_window(reps: Any, last_n: int) -> dict[int, int]:
    """The rule as one window over the reps' submitted reports (commit 344527a and before),
    kept to compare answers: it numbered every report of theirs, where the rule now reads each
    rep's last `last_n` through report_author."""
    planned = (
        ~Q(next_step="")
        & ~Q(kind=ReportKind.QUESTION)
        & ~Q(quality_issues__icontains=f'"{rules.HANDS_WORK_BACK}"')
    )
    rep = [F("author_id")]
    newest_first = [F("submitted_at").desc(), F("id").desc()]
    rows = (
        Report.objects.filter(author__in=reps.values("pk"), state=ReportState.SUBMITTED)
        .order_by()
        .annotate(
            nth=Window(RowNumber(), partition_by=rep, order_by=newest_first),
            latest=Window(FirstValue("id"), partition_by=rep, order_by=newest_first),
            plans=Window(
                Sum(Case(When(planned, then=1), default=0)),
                partition_by=rep,
                order_by=newest_first,
                frame=RowRange(start=None, end=0),
            ),
        )
        .filter(nth=last_n, plans=0)
        .values("latest", pk=F("author_id"))
    )
    return {row["pk"]: row["latest"] for row in rows}


def _help_only_by_hand(reports: list[Report], last_n: int) -> dict[int, int]:
    """The rule's words: each rep's last `last_n` sent reports (newest first, the later id
    first at the same instant) are all without a plan; the answer names the newest."""
    by_rep: dict[int, list[Report]] = {}
    for report in reports:
        if report.state == ReportState.SUBMITTED:
            by_rep.setdefault(report.author_id, []).append(report)
    found = {}
    for rep_id, theirs in by_rep.items():
        theirs.sort(key=lambda r: (r.submitted_at, r.pk), reverse=True)
        window = theirs[:last_n]
        if len(window) < last_n:
            continue
        if not any(
            r.next_step
            and r.kind != ReportKind.QUESTION
            and rules.HANDS_WORK_BACK not in r.quality_issues
            for r in window
        ):
            found[rep_id] = window[0].pk
    return found


def _varied_reports(company: Company, reps: list[User], seed: int) -> list[Report]:
    """Between zero and seven reports per rep: questions, plans, plans that hand the work back,
    asks without a next step, drafts, and instants shared by two reports of the same rep."""
    chance = random.Random(seed)
    rows = []
    for rep in reps:
        instant = NOW - dt.timedelta(days=30)
        for _ in range(chance.randint(0, 7)):
            if chance.random() > 0.3:  # else the same instant as the one before
                instant += dt.timedelta(hours=chance.randint(1, 30))
            shape = chance.choice(["plan", "question", "ask", "back", "draft"])
            rows.append(
                Report(
                    author=rep,
                    team=company.team_a,
                    kind=ReportKind.QUESTION if shape == "question" else ReportKind.PROGRESS,
                    state=ReportState.DRAFT if shape == "draft" else ReportState.SUBMITTED,
                    next_step="" if shape == "ask" else "Call the buyer on Friday",
                    quality_issues=[rules.HANDS_WORK_BACK] if shape == "back" else [],
                    created_at=instant,
                    submitted_at=None if shape == "draft" else instant,
                )
            )
    # Straight to the table: the rule reads only these columns (the compose-and-send path is
    # tested in test_lifecycle.py), and 40 reps' reports through the services would be slow.
    return Report.objects.bulk_create(rows)


@pytest.mark.parametrize("last_n", [1, 2, 3, 5])
def test_the_set_based_rule_answers_as_the_rule_reads_and_as_it_did(
    company: Company, last_n: int
) -> None:
    reps = [make_user(username=f"help-rep-{i}", role=Role.REP) for i in range(40)]
    reports = _varied_reports(company, reps, seed=22 + last_n)
    everyone = User.objects.filter(pk__in=[rep.pk for rep in reps])

    new = {
        row["pk"]: row["latest"]
        for row in rules.only_help(everyone, now=NOW, today=TODAY, t={"last": last_n})
    }
    by_hand = _help_only_by_hand(reports, last_n)
    assert new == by_hand
    assert 0 < len(new) < len(reps)  # some reps are found, some are not

    # The old query counted every report at the n-th report's instant, so a tie there could
    # take in an (N+1)-th report; away from such ties both answer alike.
    straddling = set()
    for rep in reps:
        sent = sorted(
            (r.submitted_at for r in reports if r.author_id == rep.pk and r.submitted_at),
            reverse=True,
        )
        if len(sent) > last_n and sent[last_n] == sent[last_n - 1]:
            straddling.add(rep.pk)
    before = _help_only_before(everyone, last_n)
    assert {k: v for k, v in new.items() if k not in straddling} == {
        k: v for k, v in before.items() if k not in straddling
    }


def test_a_tie_at_the_nth_report_counts_the_later_id_only(company: Company) -> None:
    """Two reports sent at the same instant are ordered by id, as the latest one is: with
    `last` 1 the second one is the rep's last message, whatever the first one was."""
    rep = company.rep_a1
    plan, question = Report.objects.bulk_create(
        [
            Report(
                author=rep,
                team=company.team_a,
                state=ReportState.SUBMITTED,
                next_step="Visit the plant",
                submitted_at=NOW,
            ),
            Report(
                author=rep,
                team=company.team_a,
                kind=ReportKind.QUESTION,
                state=ReportState.SUBMITTED,
                submitted_at=NOW,
            ),
        ]
    )
    assert question.pk > plan.pk
    reps = User.objects.filter(pk=rep.pk)
    assert list(rules.only_help(reps, now=NOW, today=TODAY, t={"last": 1})) == [
        {"pk": rep.pk, "latest": question.pk}
    ]
    assert list(rules.only_help(reps, now=NOW, today=TODAY, t={"last": 2})) == []


def test_one_query_whatever_the_number_of_reps(
    company: Company, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    reps = [make_user(username=f"many-rep-{i}", role=Role.REP) for i in range(30)]
    _varied_reports(company, reps, seed=7)
    everyone = User.objects.filter(pk__in=[rep.pk for rep in reps])
    with django_assert_max_num_queries(1):
        list(rules.only_help(everyone, now=NOW, today=TODAY, t={"last": 3}))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_each_reps_last_reports_answer_as_the_window_over_all_of_them(
    company: Company, seed: int
) -> None:
    """The rule reads each rep's last `last` reports (a LATERAL per rep on PostgreSQL, a list
    per rep on SQLite) where it numbered all of them in one window: the same reps and the same
    latest report, for any `last`, for a part of the reps (the others' reports are not theirs),
    with ties at every instant and reps with no report, only drafts or a weakness of another
    kind."""
    reps = [make_user(username=f"window-rep-{i}", role=Role.REP) for i in range(36)]
    reports = _varied_reports(company, reps, seed=100 + seed)
    chance = random.Random(seed)
    other_weakness = [r for r in reports if r.next_step and chance.random() < 0.2]
    for report in other_weakness:
        report.quality_issues = ["vague_ask"]
    Report.objects.bulk_update(other_weakness, ["quality_issues"])
    some = User.objects.filter(pk__in=[rep.pk for rep in reps[::2]])
    for reps_here in (User.objects.filter(pk__in=[rep.pk for rep in reps]), some):
        for last_n in (1, 2, 3, 4, 7, 8):
            new = {
                row["pk"]: row["latest"]
                for row in rules.only_help(reps_here, now=NOW, today=TODAY, t={"last": last_n})
            }
            assert new == _help_only_window(reps_here, last_n)
            assert new == {
                k: v
                for k, v in _help_only_by_hand(reports, last_n).items()
                if k in set(reps_here.values_list("pk", flat=True))
            }
