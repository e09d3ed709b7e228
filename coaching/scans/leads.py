"""The lead scans: a report due, a stalled lead (and its nudge ignored), a deadline, a big deal."""

from __future__ import annotations

import datetime as dt

from django.db.models import CharField, Value
from django.db.models.functions import Cast

from coaching import rules
from coaching.models import Nudge, NudgeState
from coaching.rules import NudgeSpec
from coaching.scans.keys import _not_yet, _utc_day
from coaching.scans.registry import ScanInput, _person, scan


@scan("report_due")
def report_due(s: ScanInput) -> list[NudgeSpec]:
    return [
        NudgeSpec(
            s.rule.id,
            r["owner_id"],
            period=r["reference"].date().isoformat(),
            lead_id=r["pk"],
            context={"company": r["company"], "days": (s.now - r["reference"]).days},
        )
        for r in _not_yet(
            rules.report_due(s.leads, **s.clock, **s.folded), s, _utc_day("reference")
        )
    ]


@scan("stalled")
def stalled(s: ScanInput) -> list[NudgeSpec]:
    return [
        NudgeSpec(
            s.rule.id,
            r["owner_id"],
            period=r["idle_since"].date().isoformat(),
            lead_id=r["pk"],
            context={
                "company": r["company"],
                "days": (s.now - r["idle_since"]).days,
                "chicken_rib": r["is_chicken_rib"],
            },
        )
        for r in _not_yet(rules.stalled(s.leads, **s.clock, **s.folded), s, _utc_day("idle_since"))
    ]


@scan("stalled_ignored")
def stalled_ignored(s: ScanInput) -> list[NudgeSpec]:
    """The manager hears of a stalled-lead nudge the rep has left open for `days_ignored`."""
    ignored = s.in_teams(
        Nudge.objects.active().filter(
            rule_id="stalled_lead",
            created_at__lt=s.now - dt.timedelta(days=s.t.get("days_ignored", 3)),
            lead__stage__in=rules.OPEN_STAGES,
        ),
        "lead__team_id",
    )
    # Idle counted as the rep's stalled nudge counts it (rules.stalled), so both say the same days.
    rows = ignored.annotate(
        idle_since=rules.latest_of("lead__last_activity_at", prefix="lead__")
    ).values(
        "lead_id",
        "lead__team__manager_id",
        "lead__company",
        "period",
        "context",
        "recipient__display_name",
        "recipient__username",
        "idle_since",
    )
    return [
        NudgeSpec(
            s.rule.id,
            r["lead__team__manager_id"],
            period=r["period"],
            lead_id=r["lead_id"],
            context={
                "company": r["lead__company"],
                "rep": _person(r, "recipient__"),
                "days": (s.now - r["idle_since"]).days,
            },
        )
        for r in rows
    ]


@scan("deadline_near")
def deadline_near(s: ScanInput) -> list[NudgeSpec]:
    return [
        NudgeSpec(
            s.rule.id,
            r["owner_id"],
            period=r["deadline"].isoformat(),
            lead_id=r["pk"],
            context={
                "company": r["company"],
                "days": (r["deadline"] - s.today).days,
                "date": r["deadline"].isoformat(),
            },
        )
        for r in _not_yet(rules.deadline_near(s.leads, **s.clock), s, Cast("deadline", CharField()))
    ]


@scan("big_deal")
def big_deal(s: ScanInput) -> list[NudgeSpec]:
    return [
        NudgeSpec(s.rule.id, r["owner_id"], lead_id=r["pk"], context={"company": r["company"]})
        for r in _not_yet(rules.big_deal(s.leads, **s.clock), s, Value("once"))
    ]


@scan("no_decision_maker")
def no_decision_maker(s: ScanInput) -> list[NudgeSpec]:
    """A big deal worked past the team's days with no decision maker among its people; the
    nudge settles itself (cleared) once someone is named, as the scan no longer finds it."""
    found = rules.no_decision_maker(s.leads, **s.clock)
    stale = s.in_teams(Nudge.objects.active().filter(rule_id=s.rule.id), "lead__team_id")
    stale.exclude(lead_id__in=found.values("pk")).update(
        state=NudgeState.DONE, acted_at=s.now, resolved_by="cleared"
    )
    rows = list(_not_yet(found, s, Value("once")))  # the settling above needs them all
    return [
        NudgeSpec(s.rule.id, r["owner_id"], lead_id=r["pk"], context={"company": r["company"]})
        for r in rows
    ]
