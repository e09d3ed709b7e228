"""The +2 page reads its teams' reports once (coaching.cockpit.report_cells, grouped by team
and author) for both its team table and its ranking, where each read them by itself. These
tests hold the rows added up from that one read to the rows each read gave on its own."""

from __future__ import annotations

import datetime as dt
import random
import re
from typing import TYPE_CHECKING

import pytest
from django.db import connection
from django.template.defaultfilters import floatformat
from django.test.utils import CaptureQueriesContext

from coaching import cockpit
from crm.models import AskState, Report, ReportKind, ReportState, Role, Team
from tests.coaching.helpers import held_by
from tests.factories import make_user

if TYPE_CHECKING:
    from tests.conftest import Company

NOW = dt.datetime(2026, 12, 7, 20, 0, tzinfo=dt.UTC)
FIELDS = (
    "last_report_at",
    "days_since_report",
    "reports",
    "on_time",
    "open_asks",
    "oldest_ask_days",
    "unacknowledged",
)


def _varied_reports(company: Company, seed: int) -> None:
    """Reports of every state over 120 days into both teams: from their reps, from a rep who
    reports into both teams, from the managers; asks open and answered, on time or late or
    unknown, acknowledged or not, quality from 0 to 100."""
    chance = random.Random(seed)
    extra = [make_user(username=f"cells-rep-{i}", role=Role.REP) for i in range(4)]
    homes = (company.team_a, company.team_a, company.team_b, None)
    for user, team in zip(extra, homes, strict=True):
        if team is not None:
            user.team = team
            user.save(update_fields=["team"])
    authors = [company.rep_a1, company.rep_a2, company.rep_b1, company.manager_a, *extra]
    rows = []
    for author in authors:
        for _ in range(chance.randint(0, 12)):
            team = chance.choice([company.team_a, company.team_b])
            sent = chance.random() > 0.15
            at = NOW - dt.timedelta(minutes=chance.randint(0, 120 * 24 * 60))
            rows.append(
                Report(
                    author=author,
                    team=team,
                    kind=chance.choice([ReportKind.PROGRESS, ReportKind.ESCALATION]),
                    state=ReportState.SUBMITTED if sent else ReportState.DRAFT,
                    quality_score=chance.randint(0, 100),
                    on_time=chance.choice([True, False, None]),
                    ask_state=chance.choice(list(AskState)),
                    created_at=at,
                    submitted_at=at if sent else None,
                    acknowledged_at=at if chance.random() < 0.5 else None,
                )
            )
    Report.objects.bulk_create(rows)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_one_read_of_the_reports_gives_the_team_and_rep_rows_each_read_gave(
    company: Company, seed: int
) -> None:
    _varied_reports(company, seed)
    team_ids = sorted([company.team_a.pk, company.team_b.pk])
    teams = Team.objects.filter(pk__in=team_ids)
    for days in cockpit.PERIODS:
        cells = cockpit.report_cells(team_ids, days=days, now=NOW)
        pairs = [
            (
                cockpit.team_rows(teams=teams, days=days, now=NOW),
                cockpit.team_rows(teams=teams, days=days, now=NOW, reports=cells),
            ),
            (
                cockpit.reps_across(teams=team_ids, days=days, now=NOW, ranking=True),
                cockpit.reps_across(
                    teams=team_ids, days=days, now=NOW, ranking=True, reports=cells
                ),
            ),
        ]
        for each, once in pairs:
            assert [row.key for row in once] == [row.key for row in each]
            for old, new in zip(each, once, strict=True):
                for name in FIELDS:
                    assert getattr(new, name) == getattr(old, name), (days, old.key, name)
                # The average as the pages show it; PostgreSQL's AVG is a numeric, so the
                # float it becomes may differ from the sum over the count in the last bit.
                if old.quality is None:
                    assert new.quality is None
                else:
                    assert new.quality == pytest.approx(old.quality, rel=1e-12)
                    assert floatformat(new.quality, 0) == floatformat(old.quality, 0)
        assert any(row.reports for row in pairs[1][1])  # the period holds reports


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's planner")
@pytest.mark.django_db
def test_sqlite_counts_the_report_cells_from_the_figures_index_alone(company: Company) -> None:
    """Every column report_cells reads is in report_team_figures, in group order: SQLite
    counts a +2's reports from the index, without the table or a sort (11.9 → 3.0 ms for
    nine teams' 9,000 reports)."""
    _varied_reports(company, 7)
    teams = [company.team_a.pk, company.team_b.pk]
    with CaptureQueriesContext(connection) as ctx:
        assert cockpit.report_cells(teams, days=30, now=NOW)
    (query,) = ctx.captured_queries
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {query['sql']}")
        plan = " | ".join(str(row[-1]) for row in cursor.fetchall())
    assert "USING COVERING INDEX report_team_figures" in plan, plan
    assert "TEMP B-TREE" not in plan, plan


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's covering index")
def test_postgres_index_holds_every_column_the_report_figures_read(company: Company) -> None:
    """The report figures are counted from report_team_figures alone (a +2's 8,400 reports:
    6.4 -> 1.9 ms): every column of crm_report they read is in the index. Counting rows by
    their id, which the index does not hold, sent PostgreSQL to the table."""
    with CaptureQueriesContext(connection) as queries:
        cockpit.report_cells([company.team_a.pk, company.team_b.pk], days=30, now=NOW)
    (query,) = [q["sql"] for q in queries.captured_queries]
    read = set(re.findall(r'"crm_report"\."(\w+)"', query))
    assert {"team_id", "author_id", "submitted_at", "acknowledged_at"} <= read, read
    assert read <= held_by("report_team_figures"), read - held_by("report_team_figures")
