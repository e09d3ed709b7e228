"""The lead list's "Stalled" view (issue 22): the same leads, in the same order, as stalled_q
spelled out on the columns picks, for every role and sort, now that the list reads each team's
(or the rep's) range of the lead_*_idle indexes; and on SQLite a +2's stalled list starts from
those ranges, not from the company's open leads by activity."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm import selectors
from crm.models import Lead
from crm.pipeline import OPEN_STAGES
from crm.selectors import stalled_q
from tests.crm.test_board_day_walks import spread

if TYPE_CHECKING:
    from tests.conftest import Company

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("who", ["manager_a", "director", "rep_a1", "admin"])
def test_the_stalled_view_lists_the_stalled_leads_in_each_sort(company: Company, who: str) -> None:
    c = company
    spread(c, c.team_a, [c.rep_a1, c.rep_a2, None], 6, "Alpha")
    spread(c, c.team_b, [c.rep_b1, None], 6, "Bravo")
    visible = {
        "manager_a": Lead.objects.filter(team=c.team_a),
        "director": Lead.objects.filter(team__in=[c.team_a, c.team_b]),
        "rep_a1": Lead.objects.filter(owner=c.rep_a1),
        "admin": Lead.objects.all(),
    }[who]
    stalled = visible.filter(stage__in=OPEN_STAGES).filter(stalled_q(timezone.now()))
    assert stalled.count() >= 3
    for sort in selectors.SORTS:
        filters = selectors.LeadFilters.from_params({"view": "stalled", "sort": sort})
        listed = selectors.lead_list(user=c.people[who], filters=filters)
        want = stalled.order_by(*listed.query.order_by)  # the sort's own order, ties by id
        assert list(listed.values_list("pk", flat=True)) == list(
            want.values_list("pk", flat=True)
        ), (who, sort)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's plan")
def test_a_directors_stalled_list_reads_the_teams_idle_ranges(company: Company) -> None:
    c = company
    spread(c, c.team_a, [c.rep_a1, None], 6, "Alpha")
    filters = selectors.LeadFilters.from_params({"view": "stalled"})
    rows = selectors.lead_list(user=c.director, filters=filters)[:50]
    with CaptureQueriesContext(connection) as ctx:
        list(rows)
    sql = ctx.captured_queries[-1]["sql"]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
        plan = " / ".join(row[3] for row in cursor.fetchall())
    assert "lead_team_idle" in plan and "lead_stage_activity" not in plan, plan


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's plan")
def test_a_directors_stalled_count_reads_the_teams_idle_ranges(
    company: Company, client: Client
) -> None:
    c = company
    spread(c, c.team_a, [c.rep_a1, None], 6, "Alpha")
    client.force_login(c.director)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/leads/?view=stalled").status_code == 200
    (count,) = [
        q["sql"] for q in ctx.captured_queries if "COUNT(" in q["sql"] and "crm_lead" in q["sql"]
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {count}")
        plan = " / ".join(row[3] for row in cursor.fetchall())
    assert "lead_team_idle" in plan, plan
