"""The cockpit's lead cube read from the lead tally and index ranges (coaching.cockpit.cube,
`lead_cube(..., teams=...)`) counts exactly what the grouped query over every lead counted
(`cube_rows`), for leads of every kind: each stage, owned and in the pool, chicken-rib, created
before and after a week ago, idle or not, parked, with a next step due, handed down and closed
in the period or before it, thanked or not. And on SQLite the clock's counts read the three
indexes made for them, not the team's leads."""

from __future__ import annotations

import datetime as dt
import random
import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from coaching.cockpit import statements
from coaching.cockpit.cube import CLOCK_COUNTS, clock_query, cube_rows, lead_cube
from coaching.models import Thanks, ThanksKind
from crm.models import Currency, Lead, Source
from crm.pipeline import Stage
from tests.coaching.helpers import held_by
from tests.factories import bulk_leads

if TYPE_CHECKING:
    from tests.conftest import Company

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2025, 3, 20, 9, 0, tzinfo=dt.UTC)
SUMS = ("n", "total", "before", "rib", *CLOCK_COUNTS)


def varied_leads(company: Company, seed: int, count: int = 160) -> None:
    rng = random.Random(seed)
    teams = [company.team_a, company.team_b]
    owners = {
        company.team_a.pk: [None, company.rep_a1.pk, company.rep_a2.pk],
        company.team_b.pk: [None, company.rep_b1.pk],
    }
    days = [0.5, 2, 6.9, 7.1, 10, 20, 40, 100]

    def at(i: int) -> dt.datetime:
        return NOW - dt.timedelta(days=rng.choice(days), hours=i % 5)

    plan = [rng.choice(teams) for _ in range(count)]
    stages = [rng.choice(Stage.values) for _ in range(count)]
    leads = bulk_leads(
        count,
        team_id=lambda i: plan[i].pk,
        owner_id=lambda i: rng.choice(owners[plan[i].pk]),
        company=lambda i: f"V{i}",
        source=Source.BRAND,
        stage=lambda i: stages[i],
        lost_reason="price",
        currency=lambda i: rng.choice(Currency.values),
        value=lambda i: Decimal(rng.randrange(0, 10**7)) / 100,
        is_chicken_rib=lambda i: rng.random() < 0.3,
        created_at=at,
        last_activity_at=lambda i: at(i) if rng.random() < 0.6 else None,
        handed_at=lambda i: at(i) if rng.random() < 0.5 else None,
        handed_by_id=lambda i: plan[i].manager_id if rng.random() < 0.6 else None,
        closed_at=lambda i: at(i) if stages[i] in (Stage.WON, Stage.LOST) else None,
        next_step_due=lambda i: (
            (NOW + dt.timedelta(days=rng.choice([-3, 0, 4]))).date() if rng.random() < 0.3 else None
        ),
        parked_until=lambda i: (
            (NOW + dt.timedelta(days=rng.choice([-2, 5]))).date() if rng.random() < 0.15 else None
        ),
        created_by_id=company.manager_a.pk,
    )
    Thanks.objects.bulk_create(
        Thanks(
            lead=lead,
            kind=ThanksKind.WIN,
            author_id=lead.owner_id,
            recipient_id=lead.handed_by_id or company.manager_a.pk,
            body="Thanks",
        )
        for lead in leads
        if lead.stage == Stage.WON and lead.owner_id and rng.random() < 0.5
    )


def as_set(rows: list[dict[str, Any]]) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    return {
        (r["team"], r["owner"], r["stage"], r["currency"]): tuple(
            Decimal(r[name]).quantize(Decimal("0.01")) if name == "total" else r[name]
            for name in SUMS
        )
        for r in rows
        if r["n"]
    }


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("days", [7, 30, 90])
def test_the_tally_cube_counts_what_the_grouped_query_counted(
    company: Company, seed: int, days: int
) -> None:
    varied_leads(company, seed)
    for ids in ([company.team_a.pk], [company.team_a.pk, company.team_b.pk]):
        leads = Lead.objects.filter(team_id__in=ids)
        old = [dict(row) for row in cube_rows(leads, days=days, now=NOW)]
        new = lead_cube(leads, days=days, now=NOW, teams=ids).rows
        assert as_set(new) == as_set(old)
        if days == 90:  # every figure is exercised: a part that counted nothing would fail
            assert all(sum(r[name] for r in old) for name in SUMS), [
                name for name in SUMS if not sum(r[name] for r in old)
            ]


def test_the_cube_is_two_queries_whatever_the_number_of_leads(company: Company) -> None:
    ids = [company.team_a.pk]
    leads = Lead.objects.filter(team_id__in=ids)
    with CaptureQueriesContext(connection) as few:
        lead_cube(leads, days=30, now=NOW, teams=ids)
    varied_leads(company, 3, count=300)
    with CaptureQueriesContext(connection) as many:
        lead_cube(leads, days=30, now=NOW, teams=ids)
    assert len(few) == len(many) == 2


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's planner, with bound params")
def test_sqlite_reads_the_clock_counts_from_a_team_s_index_entries(company: Company) -> None:
    """Each part of the clock's query searches an index by team, never the table: the week's
    new leads and the period's closed ones their own range (covering: lead_team_created_group,
    lead_team_closed_group), not every entry of the team in lead_team_cube; the stalled ones two
    ranges of lead_team_stalls (the unmarked leads due by now, the marked ones due lately)."""
    varied_leads(company, 4)
    sql, params = clock_query([company.team_a.pk], days=30, now=NOW).query.sql_with_params()
    assert sql.count("UNION ALL") == 3
    with connection.cursor() as cursor:  # bound parameters, as Django runs it
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " | ".join(str(row[-1]) for row in cursor.fetchall())
    assert plan.count("SEARCH crm_lead USING") == 4, plan
    assert "SCAN crm_lead" not in plan, plan
    # From the index alone: every column the two parts read is in its key.
    assert "USING COVERING INDEX lead_team_created_group (team_id=? AND created_at>?)" in plan, plan
    assert "USING COVERING INDEX lead_team_closed_group (team_id=? AND closed_at>?)" in plan, plan
    assert "USING INDEX lead_team_stalls (team_id=? AND stalled_swept=? AND stalls_at<?)" in plan
    assert "USING INDEX lead_team_stalls (team_id=? AND stalled_swept=? AND stalls_at>?)" in plan


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's covering index")
def test_postgres_index_holds_every_column_the_stalled_count_reads(company: Company) -> None:
    """The stalled parts (the unmarked leads that may be stalled, the marked ones that may not)
    can be index-only scans of lead_team_stalls: every column they read is in the index's key
    or its INCLUDE list. A column added to the stalled rule and not to the index fails here; the
    plan itself needs a vacuumed table of thousands of leads (bench/README.md)."""
    sql, _params = clock_query([company.team_a.pk], days=30, now=NOW).query.sql_with_params()
    for stalled_part in sql.split(" UNION ALL ")[1:3]:
        read = set(re.findall(r'"crm_lead"\."(\w+)"', stalled_part))
        held = held_by("lead_team_stalls")
        assert {"team_id", "stage", "owner_id", "next_step_due", "stalls_at"} <= read, read
        assert read <= held, read - held


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's covering index")
def test_postgres_index_holds_every_column_the_closed_count_reads(company: Company) -> None:
    """The period's closed leads are counted from lead_team_closed_group alone (a +2's 2,400 closed
    leads: their rows are not visited): every column of crm_lead the part reads, its thank-you
    subquery's join on the lead's id and owner included, is in the index's key or INCLUDE."""
    sql, _params = clock_query([company.team_a.pk], days=30, now=NOW).query.sql_with_params()
    closed_part = sql.split(" UNION ALL ")[3]
    read = set(re.findall(r'"crm_lead"\."(\w+)"', closed_part))
    assert {"team_id", "closed_at", "handed_by_id", "owner_id", "stage", "id"} <= read, read
    assert read <= held_by("lead_team_closed_group"), read - held_by("lead_team_closed_group")


@pytest.mark.parametrize("days", [7, 30, 90])
@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/New_York", "UTC"])
def test_the_clock_statement_compiled_once_is_what_the_orm_compiles_each_time(
    days: int, zone: str, settings: Any
) -> None:
    """The clock's query is compiled once per shape and filled in with each page's teams and
    clock (coaching.cockpit.statements): the SQL and every parameter are what compiling it
    afresh gives, for one team and nine, at moments either side of midnight and of a change of
    summer time, under a stalled threshold changed in the settings."""
    clear = statements._template.cache_clear
    clear()
    moments = [
        NOW,
        dt.datetime(2026, 3, 8, 6, 59, 59, 999999, tzinfo=dt.UTC),  # New York's clocks change
        dt.datetime(2026, 12, 7, 15, 59, 59, tzinfo=dt.UTC),  # a second to midnight in Shanghai
        dt.datetime(2026, 12, 7, 16, 0, 0, 1, tzinfo=dt.UTC),
    ]
    for stalled_days in (14, 5):
        settings.KAOPU_STALLED_DAYS = stalled_days
        with timezone.override(zone):
            for teams in ([7], [3, 11, 5, 2, 8, 13, 21, 34, 1]):
                for now in moments:
                    fresh = clock_query(teams, days=days, now=now).query.sql_with_params()
                    filled = statements.statement(clock_query, teams=teams, now=now, days=days)
                    assert filled == (fresh[0], list(fresh[1]))
    assert statements._template.cache_info().currsize == 4  # compiled once per shape
    assert all(statements._template.cache_info()[:2])  # and used from the cache
    clear()
