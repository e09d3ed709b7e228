"""The lead cube (coaching.cockpit.cube) is counted from the lead_team_cube index alone: the
index holds every column the counts read, in group order, so SQLite walks a team's entries
without reading the table or sorting for the GROUP BY. The figures themselves are pinned by
test_cockpit.py and test_cockpit_history.py; this pins the plan, which no figure would show
losing (only the page's time at 50,000 leads)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pytest
from django.db import connection

from coaching.cockpit.cube import cube_rows
from crm.models import Lead

if TYPE_CHECKING:
    from tests.conftest import Company

NOW = dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.UTC)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's planner, with bound params")
@pytest.mark.parametrize("teams", ["one team", "a director's teams"])
def test_sqlite_counts_the_cube_from_the_index_alone(company: Company, teams: str) -> None:
    ids = [company.team_a.pk] if teams == "one team" else [company.team_a.pk, company.team_b.pk]
    rows = cube_rows(Lead.objects.filter(team_id__in=ids), days=30, now=NOW)
    assert sum(row["n"] for row in rows) == Lead.objects.filter(team_id__in=ids).count() > 0

    sql, params = rows.query.sql_with_params()  # bound parameters, as Django runs it
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " | ".join(str(row[-1]) for row in cursor.fetchall())
    assert "USING COVERING INDEX lead_team_cube" in plan, plan
    assert "TEMP B-TREE FOR GROUP BY" not in plan, plan
