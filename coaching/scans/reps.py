"""The scans of reps and their reports: silent, only asking, unacknowledged, reliable, uneven."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db import connection
from django.db.models import Count, Exists, IntegerField, OuterRef, Value

from coaching import rules
from coaching.models import Nudge
from coaching.rules import NudgeSpec
from coaching.scans.keys import _sql_key, _Unmade
from coaching.scans.registry import ScanInput, _person, scan
from crm.models import Lead, Report


@scan("low_contact")
def low_contact(s: ScanInput) -> list[NudgeSpec]:
    return [
        NudgeSpec(
            s.rule.id,
            r["pk"],
            period=r["reference"].date().isoformat(),
            context={"days": (s.now - r["reference"]).days},
        )
        for r in rules.low_contact(s.reps, **s.clock)
    ]


@scan("only_help")
def only_help(s: ScanInput) -> list[NudgeSpec]:
    return [
        NudgeSpec(
            s.rule.id, r["pk"], period=f"r{r['latest']}", context={"count": s.t.get("last", 3)}
        )
        for r in rules.only_help(s.reps, **s.clock)
    ]


@scan("unacknowledged")
def unacknowledged(s: ScanInput) -> list[NudgeSpec]:
    """Reports waiting for the manager's acknowledgement whose nudge the manager has not had
    yet: like the lead rules (_not_yet), the nudges made are left out in SQL, not read back
    (6,330 reports at 100k leads) for create_nudges to look their keys up."""
    reports = s.in_teams(Report.objects.order_by(), "team_id")
    rows = rules.unacknowledged(reports, **s.clock)
    if connection.vendor == "sqlite":
        key = _sql_key(f"{s.rule.id}|report:", "team__manager_id", Value("once"))
        rows = rows.filter(_Unmade(key, True))
    else:
        made = Nudge.objects.filter(
            report_id=OuterRef("pk"),
            rule_id=s.rule.id,
            recipient_id=OuterRef("team__manager_id"),
            period="once",
        )
        rows = rows.exclude(Exists(made))
    return [
        NudgeSpec(
            s.rule.id,
            r["team__manager_id"],
            report_id=r["pk"],
            context={"rep": _person(r, "author__"), "days": (s.now - r["submitted_at"]).days},
        )
        for r in rows
    ]


@scan("reliable_rep")
def reliable_rep(s: ScanInput) -> list[NudgeSpec]:
    return [
        NudgeSpec(
            s.rule.id,
            r["team__manager_id"],
            period=s.today.strftime("%Y-%m"),
            subject_user_id=r["pk"],
            context={"rep": _person(r), "count": r["rib_on_time"]},
        )
        for r in rules.reliable_rep(s.reps, **s.clock)
    ]


@scan("year_end")
def year_end(s: ScanInput) -> list[NudgeSpec]:
    """From the configured day, every rep is asked for a note; the count is their wins this
    year on leads someone handed down."""
    if not rules.year_end_due(today=s.today, t=s.t):
        return []
    year_start = dt.datetime(s.today.year, 1, 1, tzinfo=dt.UTC)
    wins = dict(
        Lead.objects.filter(stage="won", closed_at__gte=year_start, handed_by__isnull=False)
        .values_list("owner_id")
        .annotate(n=Count("pk"))
    )
    return [
        NudgeSpec(s.rule.id, pk, period=str(s.today.year), context={"count": wins.get(pk, 0)})
        for pk in s.reps.values_list("pk", flat=True)
    ]


@scan("uneven_distribution")
def uneven_distribution(s: ScanInput) -> list[NudgeSpec]:
    """Each team's reps whose open leads are far from the team's median, for its manager."""
    counts: dict[int, dict[int, int]] = defaultdict(dict)
    managers: dict[int, int] = {}
    names: dict[int, str] = {}
    team_of: dict[int, int] = {}
    for person in s.reps.values("pk", "team_id", "team__manager_id", "display_name", "username"):
        counts[person["team_id"]][person["pk"]] = 0
        managers[person["team_id"]] = person["team__manager_id"]
        names[person["pk"]] = _person(person)
        team_of[person["pk"]] = person["team_id"]
    # Each rep's open leads, grouped by the owner alone (a rep has one team: the one above) and
    # as +owner_id (rules.Unindexed): by the plain column SQLite walks lead_owner_due and
    # fetches every lead, where it can read lead_team_cube through.
    loads = s.leads.values(rep=rules.Unindexed("owner_id", output_field=IntegerField()))
    for load in loads.annotate(n=Count("pk")):
        if load["rep"] in team_of:
            counts[team_of[load["rep"]]][load["rep"]] = load["n"]
    week = f"{s.today.isocalendar().year}-W{s.today.isocalendar().week:02d}"
    return [
        NudgeSpec(
            s.rule.id,
            managers[team],
            period=week,
            subject_user_id=rep,
            context={"rep": names[rep], "count": n},
        )
        for team, per_rep in counts.items()
        for rep, n, _median in rules.uneven(per_rep, t=s.t)
    ]
