"""The board and My day read index ranges, not every lead a manager or a +2 may see (issue 22):
each column's biggest leads walked team by team and stage by stage, My day's due and stalled
leads counted over their own ranges. What a person sees must not change: the right cards in the
right order (ties by the newest id), across several teams; counts and totals per currency; the
rotting marks; a rep sees only their own leads in a team full of others'; My day's lists and
counts are the open leads that are due or stalled, and nothing else."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm import selectors
from crm.models import Lead, Source, Team, User
from crm.pipeline import OPEN_STAGES, Stage
from crm.selectors import board as board_selectors
from crm.selectors import stalled_q
from tests.conftest import Company
from tests.factories import bulk_leads, make_user

pytestmark = pytest.mark.django_db

CURRENCIES = ("CNY", "EUR", "USD")


def spread(company: Company, team: Team, owners: list[User | None], n: int, tag: str) -> None:
    """`n` leads of `team` per stage, values repeating (ties need the id), three currencies,
    some stalled, some parked, some due, closed ones closed."""
    now = timezone.now()
    today = timezone.localdate(now)

    def stage(i: int) -> str:
        return Stage.values[i % len(Stage.values)]

    def idle(i: int) -> dt.datetime:
        return now - dt.timedelta(days=(i * 7) % 40, hours=1)

    bulk_leads(
        n * len(Stage.values),
        company=lambda i: f"{tag} {i:03d}",
        source=Source.BRAND,
        value=lambda i: Decimal(500 * ((i // 3) % 5)),
        currency=lambda i: CURRENCIES[(i // 2) % 3],
        stage=stage,
        lost_reason=lambda i: "No budget" if stage(i) == Stage.LOST else "",
        closed_at=lambda i: now if stage(i) in (Stage.WON, Stage.LOST) else None,
        team=team,
        owner=lambda i: owners[(i // 5) % len(owners)],
        created_at=lambda i: now - dt.timedelta(days=60),
        last_activity_at=lambda i: idle(i) if i % 4 else None,
        handed_at=lambda i: idle(i) if i % 4 == 0 and i % 8 else None,
        next_step_due=lambda i: today + dt.timedelta(days=(i % 5) - 2) if i % 3 else None,
        parked_until=lambda i: today + dt.timedelta(days=3) if i % 11 == 0 else None,
        is_chicken_rib=lambda i: i % 6 == 0,
    )


def board_of(client: Any) -> dict[str, dict[str, Any]]:
    """Each column as shown: its count, its totals line, its card ids, the rotting ones."""
    html = client.get("/leads/board/").content.decode()
    out = {}
    for stage in Stage.values:
        column = html.split(f'<section class="column stage-col-{stage}"')[1].split("</section>")[0]
        cards = re.findall(r'<li class="board-card([^"]*)" id="card-(\d+)"', column)
        out[stage] = {
            "count": int(re.search(r'<span class="count">(\d+)</span>', column)[1]),  # type: ignore[index]
            "totals": re.search(r'<p class="totals">(.*?)</p>', column)[1],  # type: ignore[index]
            "cards": [int(pk) for _classes, pk in cards],
            "rotting": {int(pk) for classes, pk in cards if "rotting" in classes},
        }
    return out


def expected_board(leads: Any) -> dict[str, dict[str, Any]]:
    """The board of these leads, worked out lead by lead in Python."""
    rows = list(leads)
    stalled = set(leads.filter(stalled_q()).values_list("pk", flat=True))
    out = {}
    for stage in Stage.values:
        mine = [lead for lead in rows if lead.stage == stage]
        top = sorted(mine, key=lambda lead: (lead.value, lead.pk), reverse=True)[:20]
        totals = {}
        for currency in sorted({lead.currency for lead in mine}):
            total = sum(lead.value for lead in mine if lead.currency == currency)
            totals[currency] = f"<span>{currency} {int(total):,}</span>"
        out[stage] = {
            "count": len(mine),
            "totals": "".join(totals.values()) or '<span class="muted">—</span>',
            "cards": [lead.pk for lead in top],
            "rotting": {lead.pk for lead in top if lead.pk in stalled},
        }
    return out


def test_a_directors_board_merges_their_teams_biggest_leads(
    company: Company, client_for: Any
) -> None:
    c = company
    spread(c, c.team_a, [c.rep_a1, c.rep_a2, None], 30, "Alpha")
    spread(c, c.team_b, [c.rep_b1, None], 30, "Bravo")
    # A third team under another +2: never on this board.
    other = Team.objects.create(
        name="Team C", manager=make_user(username="manager_c"), director=c.other_director
    )
    spread(c, other, [None], 30, "Charlie")
    Lead.objects.filter(company__startswith="Charlie").update(value=Decimal(10**9))
    shown = board_of(client_for(c.director))
    want = expected_board(Lead.objects.filter(team__in=[c.team_a, c.team_b]))
    assert shown == want
    # Both teams' leads among the cards, interleaved by value: the merge, not one team's 20.
    teams = set(
        Lead.objects.filter(pk__in=shown[Stage.NEW]["cards"]).values_list("team", flat=True)
    )
    assert teams == {c.team_a.pk, c.team_b.pk}
    assert any(column["rotting"] for column in shown.values())
    assert all(len(column["cards"]) == 20 for column in shown.values())


def test_a_managers_board_is_their_team_only(company: Company, client_for: Any) -> None:
    c = company
    spread(c, c.team_a, [c.rep_a1, None], 25, "Alpha")
    spread(c, c.team_b, [c.rep_b1], 25, "Bravo")
    Lead.objects.filter(company__startswith="Bravo").update(value=Decimal(10**9))
    assert board_of(client_for(c.manager_a)) == expected_board(Lead.objects.filter(team=c.team_a))


def test_a_rep_sees_their_own_leads_in_a_team_full_of_others(
    company: Company, client_for: Any
) -> None:
    c = company
    spread(c, c.team_a, [c.rep_a2, None, c.rep_a1, c.rep_a2], 25, "Alpha")
    shown = board_of(client_for(c.rep_a1))
    assert shown == expected_board(Lead.objects.filter(owner=c.rep_a1))
    assert (
        sum(column["count"] for column in shown.values())
        < Lead.objects.filter(team=c.team_a).count()
    )


def test_an_admin_of_many_teams_gets_the_same_board_by_numbering(
    company: Company, client_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = company
    spread(c, c.team_a, [c.rep_a1, None], 25, "Alpha")
    spread(c, c.team_b, [c.rep_b1], 25, "Bravo")
    client = client_for(c.admin)
    walked = board_of(client)
    assert walked == expected_board(Lead.objects.all())
    # Past BOARD_WALKS (team, stage) pairs the board numbers every visible lead instead: the
    # same board.
    monkeypatch.setattr(board_selectors, "BOARD_WALKS", 3)
    with CaptureQueriesContext(connection) as queries:
        numbered = board_of(client)
    assert numbered == walked
    numbering = [q["sql"] for q in queries if "ROW_NUMBER" in q["sql"]]
    assert numbering and not any("UNION ALL" in sql or "LATERAL" in sql for sql in numbering)


def test_the_board_reads_the_same_queries_for_one_team_or_several_of_any_size(
    company: Company, client_for: Any
) -> None:
    c = company
    counts = {}
    for n, tag in ((1, "Small"), (30, "Large")):
        spread(c, c.team_a, [c.rep_a1, None], n, f"{tag} A")
        spread(c, c.team_b, [c.rep_b1], n, f"{tag} B")
        for person in (c.manager_a, c.director, c.rep_a1):
            client = client_for(person)
            client.get("/leads/board/")  # the session
            with CaptureQueriesContext(connection) as queries:
                client.get("/leads/board/")
            counts[(person.username, tag)] = len(queries)
    # session, user, the lead tally's counts and totals (the teams a subquery), the cards
    # (their ids a subquery), the bell
    assert set(counts.values()) == {5}, counts


def test_the_cards_read_only_what_a_card_shows(company: Company, client_for: Any) -> None:
    """The cards' query reads the lead's and its owner's columns a card shows, not every
    column of both (a +2's 140 cards: 1,400 moments converted on each board)."""
    c = company
    spread(c, c.team_a, [c.rep_a1, None], 3, "Shown")
    client = client_for(c.director)
    client.get("/leads/board/")  # the session
    with CaptureQueriesContext(connection) as queries:
        html = client.get("/leads/board/").content.decode()
    assert "Shown" in html
    cards = [q["sql"] for q in queries if '"crm_lead"."company"' in q["sql"]]
    assert len(cards) == 1, cards
    for column in ('"crm_lead"."notes"', '"crm_lead"."updated_at"', "password", "calendar_token"):
        assert column not in cards[0], column


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's plan")
def test_the_columns_are_walked_by_the_team_stage_value_index(
    company: Company, client_for: Any
) -> None:
    c = company
    spread(c, c.team_a, [c.rep_a1, None], 30, "Alpha")
    spread(c, c.team_b, [c.rep_b1], 30, "Bravo")
    client = client_for(c.director)
    with CaptureQueriesContext(connection) as queries:
        client.get("/leads/board/")
    (cards,) = [q["sql"] for q in queries if "UNION ALL" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {cards}")
        plan = [row[3] for row in cursor.fetchall()]
    walks = [line for line in plan if "lead_team_stage_value" in line]
    assert len(walks) == 2 * len(Stage.values), plan  # each (team, stage) by the index
    # No arm sorts a team's leads: the only sort is the numbering of the few rows walked.
    assert not any("crm_lead" in line and "SCAN" in line and "INDEX" not in line for line in plan)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plan")
def test_postgresql_walks_each_team_and_stage_then_reads_the_cards_by_id(
    company: Company, client_for: Any
) -> None:
    c = company
    spread(c, c.team_a, [c.rep_a1, None], 30, "Alpha")
    spread(c, c.team_b, [c.rep_b1], 30, "Bravo")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE crm_lead")
    client = client_for(c.director)
    with CaptureQueriesContext(connection) as queries:
        client.get("/leads/board/")
    (cards,) = [q["sql"] for q in queries if "LATERAL" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {cards}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    # Each (team, stage) pair is read by lead_team_stage_value (team, stage, value, id): at
    # 100k leads the planner stops at 20 (bench/README); on these 60 leads it may as well sort
    # a pair's 30 entries, a choice by cost, not a scan.
    assert 'Index Cond: ((team_id = "*VALUES*".column1) AND' in plan, plan
    assert "Seq Scan on crm_lead" not in plan, plan
    assert "crm_lead_pkey" in plan, plan


# --- My day ---------------------------------------------------------------------------------


def day_expected(leads: Any, limit: int = 15) -> dict[str, Any]:
    now = timezone.now()
    today = timezone.localdate(now)
    open_leads = leads.filter(stage__in=OPEN_STAGES)
    due = [lead for lead in open_leads if lead.next_step_due and lead.next_step_due <= today]
    stalled_ids = set(open_leads.filter(stalled_q(now)).values_list("pk", flat=True))
    stalled = [lead for lead in open_leads if lead.pk in stalled_ids]

    def idle_since(lead: Lead) -> dt.datetime:
        return lead.last_activity_at or lead.handed_at or lead.created_at

    return {
        "due": sorted(due, key=lambda lead: (lead.next_step_due, -lead.value, -lead.pk))[:limit],
        "stalled": sorted(stalled, key=lambda lead: (idle_since(lead), lead.pk))[:limit],
        "counts": {
            "due": len(due),
            "stalled": len(stalled),
            "open": open_leads.count(),
            "unassigned": open_leads.filter(owner__isnull=True).count(),
        },
    }


@pytest.mark.parametrize("who", ["manager_a", "director", "rep_a1", "admin"])
def test_my_day_lists_and_counts_the_due_and_stalled_open_leads(company: Company, who: str) -> None:
    c = company
    spread(c, c.team_a, [c.rep_a1, c.rep_a2, None], 12, "Alpha")
    spread(c, c.team_b, [c.rep_b1, None], 12, "Bravo")
    person = c.people[who]
    visible = {
        "manager_a": Lead.objects.filter(team=c.team_a),
        "director": Lead.objects.filter(team__in=[c.team_a, c.team_b]),
        "rep_a1": Lead.objects.filter(owner=c.rep_a1),
        "admin": Lead.objects.all(),
    }[who]
    day = selectors.my_day(user=person)
    want = day_expected(visible)
    assert day["counts"] == want["counts"]
    enough = 3 if who == "rep_a1" else 15  # more than a list shows, but for the rep's few
    assert want["counts"]["due"] > enough and want["counts"]["stalled"] > enough, want["counts"]
    assert [lead.pk for lead in day["stalled"]] == [lead.pk for lead in want["stalled"]]
    # Due: by date, then the biggest first, then the newest (the values repeat here).
    assert [lead.pk for lead in day["due"]] == [lead.pk for lead in want["due"]]


def test_my_day_of_nobody_active_is_empty(company: Company) -> None:
    c = company
    spread(c, c.team_a, [c.rep_a1, None], 5, "Alpha")
    User.objects.filter(pk=c.manager_a.pk).update(is_active=False)
    c.manager_a.refresh_from_db()
    day = selectors.my_day(user=c.manager_a)
    assert day["counts"] == {"due": 0, "stalled": 0, "open": 0, "unassigned": 0}
    assert day["due"] == day["stalled"] == day["handoffs"] == []


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's plan")
def test_a_managers_due_and_stalled_leads_are_index_ranges(company: Company) -> None:
    c = company
    spread(c, c.team_a, [c.rep_a1, None], 12, "Alpha")
    with CaptureQueriesContext(connection) as queries:
        selectors.my_day(user=c.manager_a)
    plans = []
    for query in queries:
        if '"crm_lead"' in query["sql"]:
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN QUERY PLAN {query['sql']}")
                plans.append(" / ".join(row[3] for row in cursor.fetchall()))
    text = "\n".join(plans)
    assert "lead_team_due (team_id=? AND next_step_due<?)" in text, text
    assert "lead_team_idle (team_id=? AND <expr><?)" in text, text
