"""The coaching numbers page: a manager sees their own team's reps and how each rule does; a
rep sees only themselves."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from django.urls import reverse

from coaching import playbook, services
from coaching.models import Nudge
from tests.coaching.helpers import process

if TYPE_CHECKING:
    from crm.models import User
    from tests.conftest import Company

pytestmark = pytest.mark.django_db
CELL = re.compile(r"<td[^>]*>(.*?)</td>", re.DOTALL)


def _tables(client, user: User) -> tuple[dict[str, list[str]], dict[str, list[str]]]:  # type: ignore[no-untyped-def]
    """The page's two tables as {first cell: the other cells}: reps, then rules."""
    response = client.get(reverse("coach-stats"))
    assert response.status_code == 200
    html = response.content.decode()
    bodies = re.findall(r"<tbody>(.*?)</tbody>", html, re.DOTALL)
    assert len(bodies) == 2, f"expected the reliability and the per-rule tables for {user}"
    tables = []
    for body in bodies:
        rows = {}
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.DOTALL):
            cells = [c.strip() for c in CELL.findall(row)]
            rows[cells[0]] = cells[1:]
        tables.append(rows)
    # The rules table names each rule in words (the client reads English); key it by rule id.
    ids = {rule.name_in("en"): rule.id for rule in playbook.rules().values()}
    assert set(tables[1]) <= set(ids), "a rule is shown by its id, not its name"
    return tables[0], {ids[name]: cells for name, cells in tables[1].items()}


@pytest.fixture
def coached(company: Company) -> Company:
    """Each rep got a hand-off nudge; rep_a1 dismissed theirs."""
    process()
    nudge = Nudge.objects.get(recipient=company.rep_a1, rule_id="handoff_first_plan")
    services.nudge_dismiss(user=company.rep_a1, nudge=nudge, reason="Planned it by phone")
    return company


def test_a_manager_sees_their_teams_reps_and_each_rule(coached: Company, client_for) -> None:  # type: ignore[no-untyped-def]
    reps, rules = _tables(client_for(coached.manager_a), coached.manager_a)
    assert set(reps) == {"rep_a1", "rep_a2"}
    assert set(rules) == set(playbook.rules())
    # fired, acted on, dismissed, open: team A's two hand-off nudges, not team B's.
    assert rules["handoff_first_plan"][:4] == ["2", "0", "1", "1"]
    assert rules["report_due"][:4] == ["0", "0", "0", "0"]
    assert reps["rep_a1"][2] == "0/1"  # nudges acted on / received


def test_a_rep_sees_only_themselves(coached: Company, client_for) -> None:  # type: ignore[no-untyped-def]
    reps, rules = _tables(client_for(coached.rep_a2), coached.rep_a2)
    assert set(reps) == {"rep_a2"}
    assert rules["handoff_first_plan"][:4] == ["1", "0", "0", "1"]


def test_a_director_sees_the_reps_of_their_teams(coached: Company, client_for) -> None:  # type: ignore[no-untyped-def]
    reps, rules = _tables(client_for(coached.director), coached.director)
    assert set(reps) == {"rep_a1", "rep_a2", "rep_b1"}
    assert rules["handoff_first_plan"][0] == "3"
    other, _rules = _tables(client_for(coached.other_director), coached.other_director)
    assert list(other) == ["No reps to show."]
