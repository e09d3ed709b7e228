"""A rep moving team gives their open leads back to the old team's pool. The coach must hear of
each lead that went back, or the rep keeps advice about leads that are no longer theirs: their
nudges on those leads expire, the rest of the team's stay, and nobody is asked for a first plan
on a lead that has no owner."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pytest
from django.utils import timezone

from coaching import services
from coaching.models import NudgeState
from crm import services as crm
from crm.models import ActivityKind, Outcome
from tests.coaching.helpers import new_lead, nudges, only_nudge, process, state_of

if TYPE_CHECKING:
    from tests.conftest import Company

pytestmark = pytest.mark.django_db


def test_a_rep_moving_team_loses_the_nudges_on_the_leads_they_gave_back(company: Company) -> None:
    lead = new_lead(company.manager_a, "Canton Valves", to=company.rep_a1)
    crm.activity_log(
        actor=company.rep_a1, lead=lead, kind=ActivityKind.CALL, outcome=Outcome.UNREACHABLE
    )
    kept = new_lead(company.manager_a, "Foshan Pumps", to=company.rep_a2)
    process()
    first_plan = only_nudge("handoff_first_plan", company.rep_a1, lead=lead)
    bounce = only_nudge("bounce_back", company.rep_a1, lead=lead)
    services.nudge_snooze(
        user=company.rep_a1, nudge=bounce, until=timezone.now() + dt.timedelta(days=3)
    )
    colleague = only_nudge("handoff_first_plan", company.rep_a2, lead=kept)
    assert state_of(first_plan) == NudgeState.OPEN
    assert state_of(bounce) == NudgeState.SNOOZED

    returned = crm.rep_move_team(actor=company.admin, user=company.rep_a1, team=company.team_b)
    assert returned == 2  # Canton Valves and the fixture's lead_a1
    process()

    # Open or snoozed, the rep's advice on a lead they no longer own is gone.
    assert state_of(first_plan) == NudgeState.EXPIRED
    assert state_of(bounce) == NudgeState.EXPIRED
    assert first_plan.resolved_by == "expired"
    # A colleague's nudge on a lead that stayed is untouched.
    assert state_of(colleague) == NudgeState.OPEN
    # Back in the pool, the lead has no owner to ask for a first plan.
    assert [n.recipient for n in nudges("handoff_first_plan", lead=lead)] == [company.rep_a1]

    # A second run of the coach changes nothing.
    process()
    assert state_of(first_plan) == NudgeState.EXPIRED
    assert state_of(colleague) == NudgeState.OPEN
