"""The cockpit's "a week ago" figure, rebuilt from one grouped query over the week's stage
moves (issue 22), checked against the per-lead way it was computed before: the stage each lead
was in at the cutoff from two subqueries per lead. Leads move through the pipeline at random
over three weeks with the CRM's own service, so the history is the one the app writes. The
oldest stalled lead (now read from the lead_team_idle / lead_owner_idle indexes) is checked
against a plain per-rep and per-team query, and the number of queries does not depend on the
number of leads.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest
import time_machine
from django.db import connection
from django.db.models import F, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.test.utils import CaptureQueriesContext

from coaching import cockpit
from coaching.cockpit import figures, pipeline
from crm import services as crm
from crm.models import ActivityKind, Lead, LeadEvent, LeadEventKind, Role, Team, User
from crm.pipeline import next_stages
from crm.selectors import stalled_q, with_idle_since
from tests.coaching.helpers import START, held_by
from tests.factories import lead_new, make_user

if TYPE_CHECKING:
    from tests.conftest import Company

pytestmark = pytest.mark.django_db


def day(n: float) -> dt.datetime:
    return START + dt.timedelta(days=n)


def stage_then_by_subqueries(
    leads: QuerySet[Lead], cutoff: dt.datetime
) -> Counter[tuple[int, str]]:
    """The way the cockpit counted the pipeline at `cutoff` before issue 22: per lead, the last
    move before the cutoff, else where the first later move started, else its stage today."""
    moves = LeadEvent.objects.filter(lead=OuterRef("pk"), kind=LeadEventKind.STAGE_CHANGED)
    before = moves.filter(created_at__lte=cutoff).order_by("-created_at", "-pk")
    after = moves.filter(created_at__gt=cutoff).order_by("created_at", "pk")
    then = Coalesce(
        Subquery(before.values("to_stage")[:1]),
        Subquery(after.values("from_stage")[:1]),
        F("stage"),
    )
    rows = leads.filter(created_at__lte=cutoff).annotate(then=then).values_list("team_id", "then")
    return Counter(rows)


def counted_before(pipes: dict[int, list[cockpit.StageRow]]) -> Counter[tuple[int, str]]:
    return Counter(
        {(team, row.stage): row.count_before for team, rows in pipes.items() for row in rows}
    )


def busy_history(c: Company, clock: time_machine.Traveller, *, seed: int) -> list[Lead]:
    """Leads of both teams created over three weeks, each moved along the pipeline a few times
    at random (forward, back, won, lost, reopened), a move or two a day."""
    rng = random.Random(seed)
    owners = {c.team_a.pk: [c.rep_a1, c.rep_a2], c.team_b.pk: [c.rep_b1]}
    managers = {c.team_a.pk: c.manager_a, c.team_b.pk: c.team_b.manager}
    leads: list[Lead] = []
    for d in range(21):
        clock.move_to(day(d))
        for team_id in (c.team_a.pk, c.team_b.pk):
            if rng.random() < 0.6:
                owner = rng.choice(owners[team_id])
                leads.append(lead_new(managers[team_id], f"Lead {d}/{team_id}", to=owner))
        for lead in rng.sample(leads, k=min(len(leads), 3)):
            lead.refresh_from_db()
            choices = [stage for stage, _label in next_stages(lead.stage)]
            if lead.owner is None or not choices:
                continue
            crm.lead_change_stage(
                actor=lead.owner, lead=lead, to_stage=rng.choice(choices), reason="No budget"
            )
    clock.move_to(day(21))
    return leads


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_week_ago_is_what_the_per_lead_subqueries_gave(
    company: Company, clock: time_machine.Traveller, seed: int
) -> None:
    busy_history(company, clock, seed=seed)
    leads = Lead.objects.all()
    assert LeadEvent.objects.filter(kind=LeadEventKind.STAGE_CHANGED).count() >= 25
    for now in (day(21), day(15), day(9)):  # cutoffs on days 14, 8 and 2
        expected = stage_then_by_subqueries(leads, now - dt.timedelta(days=cockpit.CHANGE_DAYS))
        got = counted_before(cockpit.pipelines(leads=leads, key="team", now=now))
        assert +got == +expected, now
    # The moves of the last week changed the picture: the check above compared something.
    today = cockpit.pipelines(leads=leads, key="team")
    assert any(row.change for rows in today.values() for row in rows)


def oldest_by_subqueries(outer: QuerySet[Any], field: str, now: dt.datetime) -> dict[int, Any]:
    leads = (
        with_idle_since(Lead.objects.filter(**{field: OuterRef("pk")}))
        .filter(stalled_q(now))
        .order_by(F("idle_since").asc(), "pk")
        .values("pk")[:1]
    )
    return dict(outer.annotate(oldest=Subquery(leads)).values_list("pk", "oldest"))


def test_the_oldest_stalled_lead_is_what_the_subqueries_gave(
    company: Company, clock: time_machine.Traveller
) -> None:
    c = company
    leads = busy_history(c, clock, seed=7)
    # Some leads come back to life; the rest sit idle past the stalled threshold.
    for lead in leads[::4]:
        if lead.owner is not None:
            crm.activity_log(actor=lead.owner, lead=lead, kind=ActivityKind.CALL)
    clock.move_to(day(40))
    now = day(40)
    reps = [c.rep_a1, c.rep_a2, c.rep_b1]
    rows = cockpit.reps_across(teams=Team.objects.all(), days=30, now=now)
    by_rep = {row.key: row.oldest_stalled_id for row in rows}

    expected_reps = oldest_by_subqueries(
        User.objects.filter(pk__in=[r.pk for r in reps]), "owner", now
    )
    assert by_rep == expected_reps
    assert all(by_rep.values())
    teams = cockpit.team_rows(teams=Team.objects.all(), days=30, now=now)
    expected_teams = oldest_by_subqueries(Team.objects.all(), "team", now)
    assert {row.key: row.oldest_stalled_id for row in teams} == expected_teams
    assert all(row.oldest_stalled_company for row in teams)


def grow(team: Team, n: int, clock: time_machine.Traveller) -> None:
    """`n` leads handed to the team's one rep, each moved twice, one move in the last week."""
    rep = make_user(username=f"rep-{team.pk}-{n}", role=Role.REP)
    crm.rep_join_team(user=rep, team=team)
    clock.move_to(day(0))
    leads = [lead_new(team.manager, f"Grown {i}", to=rep) for i in range(n)]
    clock.move_to(day(3))
    for lead in leads:
        crm.lead_change_stage(actor=rep, lead=lead, to_stage="contacted")
    clock.move_to(day(18))
    for lead in leads[::2]:
        crm.lead_change_stage(actor=rep, lead=lead, to_stage="qualified")
    clock.move_to(day(20))


def test_the_pipeline_and_the_rows_cost_the_same_for_2_and_20_leads(
    clock: time_machine.Traveller,
) -> None:
    counts = []
    for n in (2, 20):
        manager = make_user(username=f"mgr{n}", role=Role.MANAGER)
        team = Team.objects.create(name=f"Team {n}", manager=manager)
        grow(team, n, clock)
        with CaptureQueriesContext(connection) as pipeline:
            pipes = cockpit.pipelines(leads=Lead.objects.filter(team=team), key="team")
        with CaptureQueriesContext(connection) as rows:
            cockpit.rep_rows(team=team, days=30)
            cockpit.team_rows(teams=Team.objects.filter(pk=team.pk), days=30)
        by_stage = {row.stage: (row.count, row.count_before) for row in pipes[team.pk]}
        assert by_stage["contacted"] == (n // 2, n)
        assert by_stage["qualified"] == (n // 2, 0)
        counts.append((len(pipeline), len(rows)))
    assert counts[0] == counts[1]
    assert counts[0][0] == 2  # the stages today, and the moves of the last week


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's planner, with bound params")
def test_sqlite_reads_the_oldest_stalled_lead_from_the_idle_index(company: Company) -> None:
    """As Django runs it (parameters bound, not written into the SQL), the per-rep query walks
    lead_owner_idle in order and stops: no sort. A stage IN list as the index's condition
    would not be matched by SQLite (bound parameters), and the sort would come back."""
    now = day(40)
    leads = (
        with_idle_since(Lead.objects.filter(owner=company.rep_a1))
        .filter(stalled_q(now), closed_at__isnull=True)
        .order_by(F("idle_since").asc(), F("pk").asc())
        .values("pk")[:1]
    )
    sql, params = leads.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
    assert "lead_owner_idle" in plan and "TEMP B-TREE" not in plan, plan


def handed_by_events(
    team_ids: list[int], since: dt.datetime, key: str = "lead__team_id"
) -> dict[int, tuple[int, int]]:
    """Per team (or per rep handed to: `key`), the leads with a hand-off (or reassignment) in
    the history since `since`, and how many are chicken-rib: the way the cockpit counted them
    before issue 22's sixth pass (every hand-off event of the period joined to its lead)."""
    seen: dict[int, set[tuple[int, bool]]] = {}
    events = LeadEvent.objects.filter(
        kind__in=(LeadEventKind.HANDED_DOWN, LeadEventKind.REASSIGNED),
        created_at__gte=since,
        lead__team_id__in=team_ids,
    ).values_list(key, "lead_id", "lead__is_chicken_rib")
    for team, lead, rib in events:
        seen.setdefault(team, set()).add((lead, rib))
    return {team: (len(leads), sum(rib for _l, rib in leads)) for team, leads in seen.items()}


@pytest.mark.parametrize("seed", [1, 2])
def test_the_teams_hand_offs_are_the_leads_the_history_handed_in_the_period(
    company: Company, clock: time_machine.Traveller, seed: int
) -> None:
    """The +2's "handed down in the period" per team, read from the leads' latest hand-off
    (lead_team_handed), counts the leads the history shows handed down or reassigned in the
    period: each once however often it moved, those taken back to the pool since included,
    those handed only before the period not."""
    rng = random.Random(seed)
    c = company
    reps = {c.team_a.pk: [c.rep_a1, c.rep_a2], c.team_b.pk: [c.rep_b1]}
    managers = {c.team_a.pk: c.manager_a, c.team_b.pk: c.team_b.manager}
    leads: list[Lead] = []
    for d in range(45):
        clock.move_to(day(d))
        for team_id, manager in managers.items():
            lead = lead_new(manager, f"Lead {d}/{team_id}")
            if rng.random() < 0.4:
                Lead.objects.filter(pk=lead.pk).update(is_chicken_rib=True)
            leads.append(lead)
        for lead in rng.sample(leads, k=min(len(leads), 3)):
            lead.refresh_from_db()
            if not lead.is_open:
                continue
            manager = managers[lead.team_id]
            if lead.owner_id and rng.random() < 0.3:
                crm.lead_return_to_pool(actor=manager, lead=lead)
            else:
                to = rng.choice(reps[lead.team_id])
                crm.lead_hand_off(actor=manager, lead_ids=[lead.pk], to_user=to)
    teams = [c.team_a.pk, c.team_b.pk]
    assert LeadEvent.objects.filter(kind=LeadEventKind.REASSIGNED).exists()
    assert LeadEvent.objects.filter(kind=LeadEventKind.RETURNED).exists()
    for days in (7, 30):
        rows = cockpit.team_rows(teams=Team.objects.filter(pk__in=teams), days=days, now=day(45))
        got = {row.key: (row.handed_out, row.handed_out_rib) for row in rows if row.handed_out}
        assert got == handed_by_events(teams, day(45) - dt.timedelta(days=days)), days
        assert any(rib for _n, rib in got.values())
        # Each rep's: the leads handed to them in the period, taken back since or not.
        reps_rows = cockpit.reps_across(teams=teams, days=days, now=day(45))
        got = {row.key: (row.handed_out, row.handed_out_rib) for row in reps_rows if row.handed_out}
        assert got == handed_by_events(
            teams, day(45) - dt.timedelta(days=days), key="to_user_id"
        ), days


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's planner, with bound params")
def test_sqlite_reads_the_periods_hand_offs_and_moves_as_team_ranges(company: Company) -> None:
    """The teams' hand-offs of the period from lead_team_handed alone, the reps' from
    leadevent_handoff_team alone, and the leads that moved
    since a week ago from lead_team_moves alone, one that moved twice looking up its first move
    in its own history (leadevent_lead_time), never the company's week of moves
    (leadevent_kind_time)."""
    captured: list[str] = []
    with CaptureQueriesContext(connection) as queries:
        cockpit.team_rows(teams=Team.objects.filter(pk=company.team_a.pk), days=30)
        cockpit.pipelines(leads=Lead.objects.filter(team=company.team_a), key="team")
        cockpit.rep_rows(team=company.team_a, days=30)
    with connection.cursor() as cursor:
        for query in queries.captured_queries:
            cursor.execute(f"EXPLAIN QUERY PLAN {query['sql']}")
            captured.append(" | ".join(str(row[-1]) for row in cursor.fetchall()))
    plans = "\n".join(captured)
    assert "USING COVERING INDEX lead_team_handed (team_id=? AND handed_at>?)" in plans, plans
    # The reps' hand-offs: the team's range of them, from the index alone.
    assert "USING COVERING INDEX leadevent_handoff_team (team_id=? AND created_at>?)" in plans, (
        plans
    )
    assert "USING COVERING INDEX lead_team_moves (team_id=? AND stage_changed_at>?)" in plans, plans
    assert "USING INDEX leadevent_lead_time (lead_id=?)" in plans, plans
    assert "leadevent_kind_time" not in plans, plans


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's covering index")
def test_postgres_index_holds_every_column_the_teams_hand_offs_read(company: Company) -> None:
    """The teams' hand-offs of the period are counted from lead_team_handed alone (a +2's 1,664:
    2.1 -> 0.3 ms): every column of crm_lead the count reads is in the index. Counted by the
    leads' id, which it does not hold, PostgreSQL visited every lead."""
    with CaptureQueriesContext(connection) as queries:
        figures._handed_into([company.team_a.pk], since=START)
    (query,) = [q["sql"] for q in queries.captured_queries]
    read = set(re.findall(r'"crm_lead"\."(\w+)"', query))
    assert {"team_id", "handed_at", "is_chicken_rib"} <= read, read
    assert read <= held_by("lead_team_handed"), read - held_by("lead_team_handed")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's covering index")
def test_postgres_index_holds_every_column_the_reps_hand_offs_read(company: Company) -> None:
    """The reps' hand-offs of the period are counted from leadevent_handoff_team alone: every
    column of crm_leadevent the count reads is in the index, and no lead is joined."""
    reps = [company.rep_a1.pk, company.rep_a2.pk]
    with CaptureQueriesContext(connection) as queries:
        figures._handed_out([company.team_a.pk], reps, since=START)
    (query,) = [q["sql"] for q in queries.captured_queries]
    read = set(re.findall(r'"crm_leadevent"\."(\w+)"', query))
    assert {"team_id", "created_at", "to_user_id", "was_chicken_rib", "lead_id"} <= read, read
    assert read <= held_by("leadevent_handoff_team"), read - held_by("leadevent_handoff_team")
    assert 'crm_lead"' not in query.replace('"crm_leadevent"', ""), query


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's covering index")
def test_postgres_index_holds_every_column_the_weeks_moves_read(company: Company) -> None:
    """The leads that moved since a week ago are read from lead_team_moves alone: every column
    of crm_lead the query reads outside the history lookup is in the index."""
    with CaptureQueriesContext(connection) as queries:
        pipeline._moved_since(Lead.objects.filter(team=company.team_a), "team", START)
    (query,) = [q["sql"] for q in queries.captured_queries]
    outer = re.sub(r"\(SELECT .*? LIMIT 1\)", "", query)
    read = set(re.findall(r'"crm_lead"\."(\w+)"', outer))
    assert {"team_id", "stage_changed_at", "moved_from", "moved_before_at"} <= read, read
    assert read <= held_by("lead_team_moves"), read - held_by("lead_team_moves")


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's planner, with bound params")
def test_sqlite_reads_the_reps_nudges_of_the_period_as_ranges(company: Company) -> None:
    """The nudges per rep of the period are ranges of nudge_inbox, one per rep and state,
    answered from the index alone: not every nudge the reps ever had."""
    reps = [company.rep_a1.pk, company.rep_a2.pk]
    with CaptureQueriesContext(connection) as queries:
        figures._nudge_figures(reps, since=day(10))
    (query,) = queries.captured_queries
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {query['sql']}")
        plan = " | ".join(str(row[-1]) for row in cursor.fetchall())
    assert (
        "USING COVERING INDEX nudge_inbox (recipient_id=? AND state=? AND created_at>?)" in plan
    ), plan
