"""report_due and stalled judge every team in one statement, each team with its own thresholds
(coaching.scans.FOLDED: a CASE on the team), where they used to run once per group of teams
sharing thresholds. Each of those runs read all the open leads; the folded one must find
exactly what the groups found, nudge for nudge."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from coaching import playbook, scans
from coaching.models import Nudge, RuleSetting
from coaching.preferences import threshold_groups
from crm import services
from crm.models import Role, Source, Team
from crm.pipeline import Stage
from tests.coaching.helpers import START, at, nudges, scan
from tests.factories import bulk_leads, make_user

if TYPE_CHECKING:
    from crm.models import User
    from tests.conftest import Company

pytestmark = pytest.mark.django_db

FOLDED_RULES = ("report_due", "stalled_lead")


def _team_c(company: Company, name: str = "c") -> tuple[Team, User]:
    manager = make_user(username=f"manager_{name}", role=Role.MANAGER)
    team = Team.objects.create(name=f"Team {name}", manager=manager, director=company.director)
    rep = make_user(username=f"rep_{name}1", role=Role.REP)
    services.rep_join_team(user=rep, team=team)
    return team, rep


def _settings(company: Company, team_c: Team) -> None:
    """Team A and team B each shorten both rules, differently; team C keeps the playbook's."""
    RuleSetting.objects.bulk_create(
        [
            RuleSetting(
                team=company.team_a,
                rule_id="report_due",
                thresholds={"days": 3, "days_near_deadline": 1, "deadline_window_days": 20},
            ),
            RuleSetting(team=company.team_b, rule_id="report_due", thresholds={"days": 5}),
            RuleSetting(
                team=company.team_a,
                rule_id="stalled_lead",
                thresholds={"days": 9, "days_new": 4, "days_negotiation": 6},
            ),
            RuleSetting(team=company.team_b, rule_id="stalled_lead", thresholds={"days": 11}),
        ]
    )


def _leads(company: Company, team_c: Team, rep_c: User, team_d: Team) -> None:
    """Leads of every age from 0 to 15 days in every stage, for the three teams' reps; some
    chicken-rib, some near a tender, some with a next step; and hand-offs in batches. One
    moment is a batch in team C only (team A's three leads handed at the same moment are no
    batch), one owner's twelve leads at one moment are split over two teams (a batch in
    neither), and team A has a batch of its own."""
    now = timezone.now()
    stages = [Stage.NEW, Stage.CONTACTED, Stage.NEGOTIATION]
    owners = [
        (company.rep_a1, company.team_a),
        (company.rep_b1, company.team_b),
        (rep_c, team_c),
    ]

    def moment(i: int) -> dt.datetime:
        return now - dt.timedelta(days=i % 16, hours=i % 7)

    bulk_leads(
        240,
        company=lambda i: f"Folded {i}",
        source=Source.BRAND,
        stage=lambda i: stages[i % 3],
        team_id=lambda i: owners[(i // 3) % 3][1].pk,
        owner=lambda i: owners[(i // 3) % 3][0],
        handed_by=company.manager_a,
        handed_at=moment,
        created_at=lambda i: moment(i) - dt.timedelta(days=1),
        last_activity_at=lambda i: moment(i) if i % 4 == 0 else None,
        last_reported_at=lambda i: moment(i) + dt.timedelta(hours=1) if i % 5 == 0 else None,
        is_chicken_rib=lambda i: i % 7 == 0,
        tender_date=lambda i: now.date() + dt.timedelta(days=i % 25) if i % 6 == 0 else None,
        next_step_due=lambda i: now.date() + dt.timedelta(days=1) if i % 11 == 0 else None,
    )
    for days, team, owner, count in [
        (9, team_c, rep_c, 12),  # a batch in team C ...
        (9, company.team_a, company.rep_a1, 3),  # ... and, at the same moment, none in team A
        (10, company.team_a, rep_c, 6),  # rep C's twelve, six in team A ...
        (10, team_c, rep_c, 6),  # ... and six in team C: no batch in either group
        (11, company.team_a, company.rep_a2, 14),  # team A's own batch
        (12, company.team_b, company.rep_b1, 13),  # team B's
        (13, team_c, rep_c, 6),  # rep C's twelve, six in team C ...
        (13, team_d, rep_c, 6),  # ... and six in team D, which switched both rules off
    ]:
        handed = START + dt.timedelta(days=30 - days)
        bulk_leads(
            count,
            company=lambda i, d=days: f"Batch {d} {i}",
            source=Source.BRAND,
            stage=lambda i: stages[i % 3],
            team_id=team.pk,
            owner=owner,
            handed_by=company.manager_a,
            handed_at=handed,
            created_at=handed,
        )


def _by_group(rule: playbook.Rule, now: dt.datetime) -> list[tuple[str, Any]]:
    """What the rule found as it did before the fold: once per group of teams sharing its
    thresholds."""
    found = []
    for team_ids, exclude, t in threshold_groups(rule):
        group = scans.ScanInput(
            rule=rule,
            t=t,
            leads=scans.rules.open_owned_leads(team_ids, exclude),
            reps=scans.rules.active_reps(team_ids, exclude),
            now=now,
            today=timezone.localdate(now),
            team_ids=team_ids,
            exclude=exclude,
        )
        found += [(spec.key, spec.context) for spec in scans.SCANS[rule.scan](group)]
    return sorted(found, key=str)


def _folded(
    rule: playbook.Rule, now: dt.datetime, batches: list[Any] | None = None
) -> tuple[list[tuple[str, Any]], int]:
    inputs = scans._inputs(rule, now=now, today=timezone.localdate(now), batches=batches)
    assert len(inputs) == 1
    with CaptureQueriesContext(connection) as queries:
        found = [(spec.key, spec.context) for spec in scans.SCANS[rule.scan](inputs[0])]
    return sorted(found, key=str), len(queries.captured_queries)


def test_the_folded_scan_finds_what_each_group_of_teams_found(
    company: Company, clock: time_machine.Traveller
) -> None:
    clock.move_to(at(days=30))
    team_c, rep_c = _team_c(company)
    team_d, _rep_d = _team_c(company, "d")
    _settings(company, team_c)
    for rule_id in FOLDED_RULES:
        RuleSetting.objects.create(team=team_d, rule_id=rule_id, enabled=False, thresholds={})
    _leads(company, team_c, rep_c, team_d)
    rules = playbook.rules()
    now = timezone.now()
    # The large hand-offs as run_scans reads them once for both rules: every open lead,
    # counted for each team with a setting.
    named = set(RuleSetting.objects.values_list("team_id", flat=True))
    batches = scans.rules.recent_batches(scans.rules.open_owned_leads(None, []), now, named)
    for rule_id in FOLDED_RULES:
        rule = rules[rule_id]
        assert len(threshold_groups(rule)) == 3
        before = _by_group(rule, now)
        after, statements = _folded(rule, now)
        assert after == before, rule_id
        # One read of the leads and one of the recent hand-offs, however many groups.
        assert statements == 2, rule_id
        shared, statements = _folded(rule, now, batches)
        assert shared == before, rule_id
        assert statements == 1, rule_id
        # Every team has findings, and some came late because of a batch.
        leads_found = {int(key.split("|")[1].split(":")[1]) for key, _context in after}
        teams = set(scans.Lead.objects.filter(pk__in=leads_found).values_list("team_id", flat=True))
        assert teams == {company.team_a.pk, company.team_b.pk, team_c.pk}, rule_id


def test_the_folded_scan_spreads_a_batch_only_in_its_own_team(
    company: Company, clock: time_machine.Traveller
) -> None:
    """Twelve leads handed to rep C at one moment are a batch (their report-due findings come
    over several days), while team A's three, handed at the same moment, are not and are all
    due at once under team A's own three days."""
    team_c, rep_c = _team_c(company)
    _settings(company, team_c)
    handed = START
    for team, owner, count in [(team_c, rep_c, 12), (company.team_a, company.rep_a1, 3)]:
        bulk_leads(
            count,
            company=lambda i, t=team.name: f"{t} {i}",
            source=Source.BRAND,
            stage=Stage.CONTACTED,
            team_id=team.pk,
            owner=owner,
            handed_by=company.manager_a,
            handed_at=handed,
            created_at=handed,
        )
    clock.move_to(at(days=7, hours=1))
    scan()
    team_c_due = [n for n in nudges("report_due") if n.lead and n.lead.team_id == team_c.pk]
    team_a_due = [
        n
        for n in nudges("report_due", recipient=company.rep_a1)
        if n.lead and n.lead.company.startswith("Team A")
    ]
    assert len(team_a_due) == 3
    assert 0 < len(team_c_due) < 12  # the rest wait their turn in the spread


def test_two_teams_with_their_own_days_are_both_found_on_their_days(
    company: Company, clock: time_machine.Traveller
) -> None:
    """Team A's reports are due after 3 days, team B's after 5, in one scan; a team that
    switched the rule off hears nothing."""
    team_c, rep_c = _team_c(company)
    _settings(company, team_c)
    RuleSetting.objects.create(team=team_c, rule_id="report_due", enabled=False, thresholds={})
    bulk_leads(
        1,
        company="Charlie Steel",
        source=Source.BRAND,
        stage=Stage.CONTACTED,
        team_id=team_c.pk,
        owner=rep_c,
        handed_at=START,
        created_at=START,
    )
    clock.move_to(at(days=4))  # lead_a1 and lead_b1 were handed down 4 days ago
    scan()
    assert {n.lead for n in nudges("report_due")} == {company.lead_a1, company.lead_a2}

    clock.move_to(at(days=5, hours=1))
    scan()
    assert {n.lead for n in nudges("report_due")} == {
        company.lead_a1,
        company.lead_a2,
        company.lead_b1,
    }

    clock.move_to(at(days=30))
    scan()
    assert not Nudge.objects.filter(rule_id="report_due", recipient=rep_c).exists()
