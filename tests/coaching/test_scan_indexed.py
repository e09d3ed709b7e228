"""The scan's lead queries are written for SQLite's planner (no statistics): the rules that
keep most open leads read the table through instead of walking the stage or owner index and
fetching each lead by its id, and the three big-deal rules read only the big leads through
lead_team_stage_value. Each must find exactly what the plain definition found."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
import time_machine
from django.db import connection
from django.db.models import Count, Exists, IntegerField, OuterRef, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from coaching import playbook, rules, scans
from coaching.models import Nudge, RuleSetting
from crm.models import ContactRole, Lead, LeadContact, Report, ReportState, Role, Source, Team
from crm.pipeline import OPEN_STAGES, Stage
from tests.coaching.helpers import at, report, scan
from tests.factories import bulk_leads, make_user

if TYPE_CHECKING:
    from crm.models import User
    from tests.conftest import Company

pytestmark = pytest.mark.django_db

BIG = 1_000_000
STAGES = list(Stage)


def _rep() -> rules.Unindexed:
    return rules.Unindexed("owner_id", output_field=IntegerField())


def _old_open_leads(team_ids: list[int] | None, exclude: list[int]) -> Any:
    """open_owned_leads as it was: the plain columns."""
    leads = Lead.objects.filter(
        stage__in=OPEN_STAGES, owner__isnull=False, owner__is_active=True
    ).order_by()
    if team_ids is not None:
        leads = leads.filter(team_id__in=team_ids)
    if exclude:
        leads = leads.exclude(team_id__in=exclude)
    return leads


def _old_big_deal(leads: Any) -> set[Any]:
    shared = Report.objects.filter(
        lead=OuterRef("pk"), state=ReportState.SUBMITTED, share_with_director=True
    )
    rows = leads.filter(value__gte=BIG, team__director__isnull=False).exclude(Exists(shared))
    return {tuple(r.values()) for r in rows.values("pk", "owner_id", "company")}


def _old_no_decision_maker(leads: Any, now: dt.datetime) -> set[Any]:
    decider = LeadContact.objects.filter(lead=OuterRef("pk"), role=ContactRole.DECISION_MAKER)
    since = now - dt.timedelta(days=14)
    rows = (
        leads.filter(value__gte=BIG)
        .filter(Q(handed_at__lt=since) | Q(handed_at__isnull=True, created_at__lt=since))
        .exclude(Exists(decider))
    )
    return {tuple(r.values()) for r in rows.values("pk", "owner_id", "company")}


def _old_big_deals_stalled(leads: Any, now: dt.datetime) -> set[Any]:
    rows = (
        leads.filter(value__gte=BIG, team__director__isnull=False)
        .annotate(idle_since=Coalesce("last_activity_at", "handed_at", "created_at"))
        .filter(idle_since__lt=now - dt.timedelta(days=14))
        .exclude(next_step_due__gte=timezone.localdate(now))
        .exclude(parked_until__gte=timezone.localdate(now))
    )
    return {tuple(r.values()) for r in rows.values("pk", "value", "idle_since", "team_id")}


def _team(company: Company, name: str, *, director: bool) -> tuple[Team, User]:
    manager = make_user(username=f"manager_{name}", role=Role.MANAGER)
    team = Team.objects.create(
        name=f"Team {name}", manager=manager, director=company.director if director else None
    )
    rep = make_user(username=f"rep_{name}", role=Role.REP, team=team)
    return team, rep


def _leads(company: Company) -> tuple[Team, Team]:
    """Leads of every stage, values on both sides of the big-deal line, owned by active and
    inactive reps and in the pool, in teams with and without a director; idle, worked, with
    a next step, parked; and hand-offs of one moment to one rep (batches)."""
    team_c, rep_c = _team(company, "c", director=False)
    team_d, rep_d = _team(company, "d", director=True)
    gone = make_user(username="rep_gone", role=Role.REP, team=team_d, is_active=False)
    owners = [
        (company.rep_a1, company.team_a),
        (company.rep_a2, company.team_a),
        (company.rep_b1, company.team_b),
        (rep_c, team_c),
        (rep_d, team_d),
        (gone, team_d),
        (None, company.team_a),
    ]
    values = [Decimal("999999.99"), Decimal(BIG), Decimal(5_000_000), Decimal(10_000)]
    now = timezone.now()

    def moment(i: int) -> dt.datetime:
        return now - dt.timedelta(days=i % 40, hours=i % 5)

    bulk_leads(
        420,
        company=lambda i: f"Indexed {i}",
        source=Source.BRAND,
        stage=lambda i: STAGES[i % len(STAGES)],
        lost_reason=lambda i: "Price" if STAGES[i % len(STAGES)] == Stage.LOST else "",
        closed_at=lambda i: moment(i) if STAGES[i % len(STAGES)] not in OPEN_STAGES else None,
        team_id=lambda i: owners[i % len(owners)][1].pk,
        owner=lambda i: owners[i % len(owners)][0],
        value=lambda i: values[(i // 3) % len(values)],
        handed_by=company.manager_a,
        handed_at=lambda i: moment(i) if i % 3 else None,
        created_at=lambda i: moment(i) - dt.timedelta(days=2),
        last_activity_at=lambda i: moment(i) if i % 4 == 0 else None,
        last_reported_at=lambda i: moment(i) if i % 5 == 0 else None,
        next_step_due=lambda i: now.date() + dt.timedelta(days=i % 3 - 1) if i % 6 == 0 else None,
        parked_until=lambda i: now.date() + dt.timedelta(days=2) if i % 13 == 0 else None,
        tender_date=lambda i: now.date() + dt.timedelta(days=i % 9) if i % 7 == 0 else None,
    )
    handed = now - dt.timedelta(days=8)
    for owner, team, count in [(rep_c, team_c, 12), (company.rep_b1, company.team_b, 14)]:
        bulk_leads(
            count,
            company=lambda i, t=team.name: f"{t} batch {i}",
            source=Source.BRAND,
            stage=Stage.CONTACTED,
            team_id=team.pk,
            owner=owner,
            value=lambda i: Decimal(2_000_000) if i % 2 else Decimal(500),
            handed_at=handed,
            created_at=handed,
        )
    return team_c, team_d


def _groups(company: Company, team_d: Team) -> list[tuple[list[int] | None, list[int]]]:
    """The shapes of a threshold group: everyone, one team, everyone but two."""
    return [(None, []), ([team_d.pk], []), (None, [company.team_a.pk, team_d.pk])]


def test_the_big_deal_rules_find_what_the_plain_queries_found(
    company: Company, clock: time_machine.Traveller
) -> None:
    clock.move_to(at(days=60))
    _team_c, team_d = _leads(company)
    now = timezone.now()
    today = timezone.localdate(now)
    t = {"value": BIG, "days": 14}
    for team_ids, exclude in _groups(company, team_d):
        old, new = _old_open_leads(team_ids, exclude), rules.open_owned_leads(team_ids, exclude)
        found = rules.big_deal(new, now=now, today=today, t=t)
        assert {tuple(r.values()) for r in found} == _old_big_deal(old)
        found = rules.no_decision_maker(new, now=now, today=today, t=t)
        assert {tuple(r.values()) for r in found} == _old_no_decision_maker(old, now)
        stalled = rules.big_deals_stalled(new, now=now, today=today, t=t)
        got = {(r["pk"], r["value"], r["idle_since"], r["team_id"]) for r in stalled}
        assert got == _old_big_deals_stalled(old, now)
    # The data reaches every case: big and not, with and without a director.
    everyone = rules.open_owned_leads(None, [])
    assert rules.big_deal(everyone, now=now, today=today, t=t).count() > 10
    assert rules._big_deals(everyone, BIG).filter(team__director__isnull=True).exists()
    assert rules._big_deals(everyone, BIG).count() < everyone.count() / 2


def test_the_open_leads_and_their_groupings_are_the_plain_queries(
    company: Company, clock: time_machine.Traveller
) -> None:
    """open_owned_leads, the hand-off batches and each rep's load, as the plain columns."""
    clock.move_to(at(days=60))
    _team_c, team_d = _leads(company)
    now = timezone.now()
    for team_ids, exclude in _groups(company, team_d):
        old, new = _old_open_leads(team_ids, exclude), rules.open_owned_leads(team_ids, exclude)
        assert set(new.values_list("pk", flat=True)) == set(old.values_list("pk", flat=True))
        old_loads = {r["owner_id"]: r["n"] for r in old.values("owner_id").annotate(n=Count("pk"))}
        new_loads = {r["rep"]: r["n"] for r in new.values(rep=_rep()).annotate(n=Count("pk"))}
        assert new_loads == old_loads
    named = {company.team_b.pk}
    batches = rules.recent_batches(rules.open_owned_leads(None, []), now, named)
    old_batches = (
        rules.open_owned_leads(None, [])
        .filter(handed_at__gte=now - dt.timedelta(days=rules.SPREAD_DAYS * 2 + 31))
        .values("owner_id", "handed_at")
        .annotate(n=Count("pk"), n_b=Count("pk", filter=Q(team_id=company.team_b.pk)))
        .filter(n__gt=rules.BATCH_SIZE)
    )
    key = f"n_{company.team_b.pk}"
    assert sorted((b["by"], b["handed_at"], b["n"], b[key]) for b in batches) == sorted(
        (b["owner_id"], b["handed_at"], b["n"], b["n_b"]) for b in old_batches
    )
    assert {b["n"] for b in batches} == {12, 14}


def test_each_rep_is_counted_in_the_uneven_distribution(
    company: Company, clock: time_machine.Traveller
) -> None:
    """The reps far from their team's median are named with their own count of open leads."""
    RuleSetting.objects.create(
        team=company.team_a,
        rule_id="uneven_distribution",
        thresholds={"ratio_percent": 120, "min_leads": 1},
    )
    bulk_leads(
        30,
        company=lambda i: f"Load {i}",
        source=Source.BRAND,
        stage=Stage.CONTACTED,
        team_id=company.team_a.pk,
        owner=lambda i: company.rep_a1 if i < 24 else company.rep_a2,
    )
    rule = playbook.rules()["uneven_distribution"]
    found = scans._inputs(rule, now=timezone.now(), today=timezone.localdate())
    specs = [spec for s in found for spec in scans.SCANS[rule.scan](s)]
    counts = {spec.subject_user_id: spec.context["count"] for spec in specs}
    assert counts == {
        rep.pk: Lead.objects.filter(owner=rep, stage__in=OPEN_STAGES).count()
        for rep in (company.rep_a1, company.rep_a2)
    }
    assert counts[company.rep_a1.pk] >= 24


def test_the_director_hears_of_the_longest_idle_of_equal_big_deals(
    company: Company, clock: time_machine.Traveller
) -> None:
    """Two stalled big deals of the same value in a team: the +2's nudge names the one idle
    longest, whichever the database reads first."""
    clock.move_to(at(days=60))
    now = timezone.now()
    for company_name, idle_days in [("Newer Steel", 20), ("Older Steel", 35), ("Small", 50)]:
        bulk_leads(
            1,
            company=company_name,
            source=Source.BRAND,
            stage=Stage.NEGOTIATION,
            team_id=company.team_a.pk,
            owner=company.rep_a1,
            value=Decimal(3_000_000) if company_name != "Small" else Decimal(BIG),
            handed_at=now - dt.timedelta(days=idle_days),
            created_at=now - dt.timedelta(days=idle_days),
        )
    scan()
    nudge = Nudge.objects.get(rule_id="director_big_deal_stalled", recipient=company.director)
    assert nudge.context["company"] == "Older Steel"
    assert nudge.context["count"] >= 3
    assert nudge.context["days"] == 35


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's planner only")
def test_sqlite_reads_the_big_deals_by_index_and_the_rest_through_the_table(
    company: Company,
) -> None:
    now = timezone.now()
    today = timezone.localdate(now)
    leads = rules.open_owned_leads(None, [])

    def plan(rows: Any) -> str:
        sql, params = rows.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            return " / ".join(str(row[-1]) for row in cursor.fetchall())

    t = {"value": BIG, "days": 14}
    for rule in (rules.big_deal, rules.no_decision_maker, rules.big_deals_stalled):
        assert "lead_team_stage_value" in plan(rule(leads, now=now, today=today, t=t))
    report_due = rules.report_due(leads, now=now, today=today, t={"days": 7})
    assert "SCAN crm_lead" in plan(report_due)
    loads = leads.values(rep=_rep()).annotate(n=Count("pk"))
    for rows in (report_due, loads):
        assert "lead_stage_activity" not in plan(rows)
        assert "lead_owner" not in plan(rows)


def test_sqlite_skips_the_nudges_made_as_not_exists_did(
    company: Company, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lead rules' look-up of the nudges made (NOT IN on SQLite, NOT EXISTS elsewhere)
    finds the same rows after a scan, with some nudges deleted, some leads handed to another
    rep (their nudge is someone else's) and the clock moved on (new periods)."""
    clock.move_to(at(days=60))
    _leads(company)
    scan()
    made = Nudge.objects.filter(rule_id__in=["report_due", "stalled_lead", "deadline_near"])
    Nudge.objects.filter(
        pk__in=list(made.order_by("pk").values_list("pk", flat=True))[::3]
    ).delete()
    moved = Lead.objects.filter(owner=company.rep_a1, stage__in=OPEN_STAGES).order_by("pk")
    Lead.objects.filter(pk__in=[lead.pk for lead in moved[::2]]).update(owner=company.rep_a2)
    clock.move_to(at(days=63))
    now = timezone.now()
    rulebook = playbook.rules()
    lead_scans = {"report_due", "stalled", "deadline_near", "big_deal", "no_decision_maker"}

    def found(rule: playbook.Rule) -> list[tuple[str, Any]]:
        inputs = scans._inputs(rule, now=now, today=timezone.localdate(now))
        return sorted(
            (spec.key, spec.context) for s in inputs for spec in scans.SCANS[rule.scan](s)
        )

    for rule in rulebook.values():
        if rule.scan not in lead_scans:
            continue
        new = found(rule)  # NOT IN on SQLite
        monkeypatch.setattr(
            "coaching.scans.keys.connection", type("Other", (), {"vendor": "other"})()
        )
        old = found(rule)
        monkeypatch.undo()
        assert new == old, rule.id
    everything = Nudge.objects.filter(rule_id="report_due").count()
    report_due = found(rulebook["report_due"])
    assert 0 < len(report_due) < everything


def test_unacknowledged_leaves_out_the_reports_already_nudged_as_not_exists_did(
    company: Company, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The manager's unacknowledged-report nudges: the reports already nudged are left out in
    SQL (the key NOT IN on SQLite, NOT EXISTS elsewhere), the same ones either way."""
    leads = [company.lead_a1, company.lead_a2, company.lead_b1]
    for day in range(4):
        clock.move_to(at(days=day))
        for lead in leads:
            assert lead.owner is not None
            report(lead.owner, lead)
    clock.move_to(at(days=5))
    scan()
    made = Nudge.objects.filter(rule_id="report_unacknowledged").order_by("pk")
    assert made.count() >= 3
    first = made.first()
    assert first is not None
    first.delete()
    clock.move_to(at(days=8))  # the later reports are now past the days too
    rule = playbook.rules()["report_unacknowledged"]
    now = timezone.now()

    def found() -> list[tuple[str, Any]]:
        inputs = scans._inputs(rule, now=now, today=timezone.localdate(now))
        specs = [spec for s in inputs for spec in scans.SCANS[rule.scan](s)]
        return sorted(((spec.key, spec.context) for spec in specs), key=str)

    new = found()
    monkeypatch.setattr("coaching.scans.reps.connection", type("Other", (), {"vendor": "other"})())
    assert found() == new
    assert 0 < len(new) < len(leads) * 4
    assert not {key for key, _context in new} & set(made.values_list("key", flat=True))
    # The report whose nudge was deleted is found again.
    assert first.key in {key for key, _context in new}
