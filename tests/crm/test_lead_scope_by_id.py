"""The lists' visibility with a manager's or +2's teams named by id (issue 22): the same leads
as the rule reached through crm_team, for every person, from the lead and from a related
model; and a +2's list page walks (updated_at) and stops at its rows instead of sorting every
visible lead (SQLite's plan: no temporary B-tree for the ORDER BY)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm import selectors, services
from crm.models import Activity, Lead, LeadEvent, LeadEventKind, Role, Team, User
from crm.permissions import lead_scope, visible_leads

if TYPE_CHECKING:
    from tests.conftest import Company

pytestmark = pytest.mark.django_db


def test_by_id_the_same_leads_as_through_the_join_for_everyone(company: Company) -> None:
    # A third team of the director's and a manager of no team: the edges.
    spare_manager = User.objects.create_user(username="spare", role=Role.MANAGER)
    spare = Team.objects.create(name="Spare", director=company.director, manager=spare_manager)
    Lead.objects.create(company="Spare Co", team=spare, source="brand")
    lonely = User.objects.create_user(username="lonely", role=Role.MANAGER)
    gone = company.manager_b
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    people = {**company.people, "spare": spare_manager, "lonely": lonely, "inactive": gone}
    for name, user in people.items():
        joined = set(visible_leads(user).values_list("pk", flat=True))
        by_id = set(visible_leads(user, teams_by_id=True).values_list("pk", flat=True))
        assert by_id == joined, name
        related = Activity.objects.filter(lead_scope(user, "lead__", teams_by_id=True))
        assert set(related.values_list("lead_id", flat=True)) <= joined, name
    assert visible_leads(company.director, teams_by_id=True).count() == 5


def test_a_team_handed_to_another_director_leaves_the_list_at_once(
    company: Company, client: Client
) -> None:
    """The ids are read per request: a team moved away is gone from the next page."""
    client.force_login(company.director)
    assert company.lead_b1.company in client.get(reverse("lead-list")).content.decode()
    Team.objects.filter(pk=company.team_b.pk).update(director=company.other_director)
    page = client.get(reverse("lead-list")).content.decode()
    assert company.lead_b1.company not in page
    assert company.lead_a1.company in page


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's planner")
def test_a_directors_page_walks_updated_at_and_stops(company: Company, client: Client) -> None:
    """As in the bench company: twenty teams, ten of them the director's (half the leads)."""
    teams = [company.team_a, company.team_b]
    for n in range(18):
        manager = User.objects.create_user(username=f"manager_{n}", role=Role.MANAGER)
        director = company.director if n < 8 else company.other_director
        teams.append(Team.objects.create(name=f"Team {n}", manager=manager, director=director))
    Lead.objects.bulk_create(
        Lead(company=f"Walk {team.pk} {i:03d}", team=team, source="brand")
        for team in teams
        for i in range(40)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    client.force_login(company.director)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(reverse("lead-list")).status_code == 200
    (page,) = [
        q["sql"] for q in ctx.captured_queries if "ORDER BY" in q["sql"] and "crm_lead" in q["sql"]
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {page}")
        plan = " / ".join(row[3] for row in cursor.fetchall())
    assert "lead_updated" in plan, plan
    assert "TEMP B-TREE FOR ORDER BY" not in plan, plan


def test_my_days_hand_offs_are_the_teams_of_the_week(company: Company) -> None:
    """Read from the history's (kind, created_at) with the teams checked on the way: each
    person sees the hand-offs of the leads they may see, and only those."""
    services.lead_hand_off(
        actor=company.manager_a, lead_ids=[company.lead_a_pool.pk], to_user=company.rep_a2
    )
    services.lead_hand_off(
        actor=company.manager_b, lead_ids=[company.lead_b1.pk], to_user=company.rep_b1
    )
    handed = set(
        LeadEvent.objects.filter(
            kind__in=[LeadEventKind.HANDED_DOWN, LeadEventKind.REASSIGNED]
        ).values_list("lead_id", flat=True)
    )
    assert {company.lead_a_pool.pk, company.lead_b1.pk} <= handed
    for name, user in company.people.items():
        shown = {event.lead_id for event in selectors.my_day(user=user)["handoffs"]}
        visible = set(visible_leads(user).values_list("pk", flat=True))
        assert shown == visible & handed, name
    manager_a = {e.lead_id for e in selectors.my_day(user=company.manager_a)["handoffs"]}
    assert company.lead_a_pool.pk in manager_a and company.lead_b1.pk not in manager_a
