"""What goes up a level: late first plans and ignored nudges to the manager, backlogs to the +2."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, F, Min

from coaching import rules
from coaching.models import Nudge, NudgeState
from coaching.rules import NudgeSpec
from coaching.scans.registry import ScanInput, _person, scan
from crm.models import Report, User


@scan("first_plan_overdue")
def first_plan_overdue(s: ScanInput) -> list[NudgeSpec]:
    """The manager hears of a hand-off whose first plan is past its due date: the rep's
    handoff_first_plan nudge (its date set from the team's working_days) is still open."""
    late = s.in_teams(
        Nudge.objects.active().filter(
            rule_id="handoff_first_plan",
            context__due__lt=s.today.toordinal(),
            lead__stage__in=rules.OPEN_STAGES,
            lead__owner_id=F("recipient_id"),
            lead__team__manager__isnull=False,
        ),
        "lead__team_id",
    ).values(
        "lead_id",
        "lead__company",
        "lead__team__manager_id",
        "period",
        "context",
        "recipient__display_name",
        "recipient__username",
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
                "date": r["context"].get("date", ""),
            },
        )
        for r in late
    ]


@scan("report_due_ignored")
def report_due_ignored(s: ScanInput) -> list[NudgeSpec]:
    """The manager hears, once a week per rep, of a rep who has left report-due nudges open for
    `days_ignored`: how many leads, and the longest silence. Settled by the scan once the rep
    has none left open that long."""
    ignored = s.in_teams(
        Nudge.objects.active().filter(
            rule_id="report_due",
            created_at__lt=s.now - dt.timedelta(days=s.t.get("days_ignored", 2)),
            lead__stage__in=rules.OPEN_STAGES,
            lead__owner_id=F("recipient_id"),
            recipient__team__manager__isnull=False,
        ),
        "lead__team_id",
    )
    rows = (
        ignored.values("recipient_id", "recipient__team__manager_id")
        .annotate(count=Count("pk"), since=Min("created_at"))
        .order_by()
    )
    found = {r["recipient_id"]: r for r in rows}
    stale = s.in_teams(
        Nudge.objects.active().filter(rule_id=s.rule.id), "subject_user__team_id"
    ).exclude(subject_user_id__in=list(found))
    stale.update(state=NudgeState.DONE, acted_at=s.now, resolved_by="cleared")
    names = _names(set(found))
    return [
        NudgeSpec(
            s.rule.id,
            r["recipient__team__manager_id"],
            period=_week(s.today),
            subject_user_id=rep_id,
            context={
                "rep": names.get(rep_id, ""),
                "count": r["count"],
                "days": (s.now - r["since"]).days,
            },
        )
        for rep_id, r in found.items()
    ]


def _week(today: dt.date) -> str:
    return f"{today.isocalendar().year}-W{today.isocalendar().week:02d}"


def _amount(value: Any, currency: str = "") -> str:
    return f"{value:,.0f} {currency}".strip() if value is not None else "—"


def _names(user_ids: set[int]) -> dict[int, str]:
    people = User.objects.filter(pk__in=user_ids).values("pk", "display_name", "username")
    return {p["pk"]: _person(p) for p in people}


def _per_manager(
    s: ScanInput, groups: dict[int, dict[str, Any]], directors: dict[int, int]
) -> list[NudgeSpec]:
    """One nudge per manager for their director (subject: the manager), this ISO week; the
    director's open nudges of this rule about managers no longer found are settled."""
    names = _names(set(groups))
    _settle_cleared(s, found=set(groups))
    return [
        NudgeSpec(
            s.rule.id,
            directors[manager_id],
            period=_week(s.today),
            subject_user_id=manager_id,
            context=context | {"manager": names.get(manager_id, "")},
        )
        for manager_id, context in groups.items()
    ]


def _settle_cleared(s: ScanInput, *, found: set[int]) -> None:
    """Close this rule's active nudges about managers (of this group's teams) it no longer
    finds: the backlog was answered, the deal moved, the reps reported."""
    stale = s.in_teams(
        Nudge.objects.active().filter(rule_id=s.rule.id), "subject_user__managed_team__id"
    ).exclude(subject_user_id__in=found)
    stale.update(state=NudgeState.DONE, acted_at=s.now, resolved_by="cleared")


@scan("director_answers_waiting")
def director_answers_waiting(s: ScanInput) -> list[NudgeSpec]:
    """A manager with reports or plan decisions waiting past the team's threshold, for the +2:
    the count, the oldest (days) and the biggest lead waiting."""
    reports = s.in_teams(Report.objects.order_by(), "team_id")
    groups: dict[int, dict[str, Any]] = {}
    directors: dict[int, int] = {}
    for r in rules.waiting_for_manager(reports, **s.clock):
        manager_id = r["team__manager_id"]
        directors[manager_id] = r["team__director_id"]
        groups[manager_id] = {
            "count": r["count"],
            "days": (s.now - r["oldest"]).days,
            "value": _amount(r["biggest"]),
            "team_id": r["team_id"],
        }
    return _per_manager(s, groups, directors)


@scan("director_big_deal_stalled")
def director_big_deal_stalled(s: ScanInput) -> list[NudgeSpec]:
    """Big deals stalled in a manager's team, for the +2: the count and the biggest."""
    groups: dict[int, dict[str, Any]] = {}
    directors: dict[int, int] = {}
    biggest: dict[int, tuple[Any, float, int]] = {}
    for r in rules.big_deals_stalled(s.leads, **s.clock):
        manager_id = r["team__manager_id"]
        if manager_id is None:
            continue
        directors[manager_id] = r["team__director_id"]
        group = groups.setdefault(manager_id, {"count": 0, "team_id": r["team_id"]})
        group["count"] += 1
        # The biggest; of equal values the one idle longest, then the first made: the rows
        # come in no fixed order (the first seen won a tie before, so SQLite and PostgreSQL
        # named different leads).
        rank = (r["value"], -r["idle_since"].timestamp(), -r["pk"])
        if manager_id not in biggest or rank > biggest[manager_id]:
            biggest[manager_id] = rank
            group |= {
                "company": r["company"],
                "value": _amount(r["value"], r["currency"]),
                "days": (s.now - r["idle_since"]).days,
            }
    return _per_manager(s, groups, directors)


@scan("director_silent_reps")
def director_silent_reps(s: ScanInput) -> list[NudgeSpec]:
    """Reps who have gone silent in a manager's team, for the +2: the count and the longest."""
    groups: dict[int, dict[str, Any]] = {}
    directors: dict[int, int] = {}
    for r in rules.silent_reps(s.reps, **s.clock):
        manager_id = r["team__manager_id"]
        directors[manager_id] = r["team__director_id"]
        days = (s.now - r["reference"]).days
        group = groups.setdefault(manager_id, {"count": 0, "days": -1, "team_id": r["team_id"]})
        group["count"] += 1
        if days > group["days"]:
            group |= {"days": days, "rep": _person(r)}
    return _per_manager(s, groups, directors)
