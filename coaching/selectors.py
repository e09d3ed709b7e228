"""Reads for the nudge center, the team feed and the coaching numbers."""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass
from typing import Any

from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q, QuerySet
from django.utils import timezone

from coaching import playbook
from coaching.links import action_url
from coaching.models import (
    ACTIVE_STATES,
    CLOSED_STATES,
    CreditPost,
    Nudge,
    NudgeState,
    Thanks,
    ThanksKind,
)
from crm.models import Lead, Report, ReportState, Role, Team, User
from crm.permissions import reports_to_a_manager, visible_people, visible_teams


def due_q(now: dt.datetime | None = None) -> Q:
    """Open nudges, and snoozed ones whose time has come."""
    now = now or timezone.now()
    return Q(state=NudgeState.OPEN) | Q(state=NudgeState.SNOOZED, snoozed_until__lte=now)


def open_nudge_count(*, user: User) -> int:
    return Nudge.objects.filter(due_q(), recipient=user).count()


@dataclass(frozen=True)
class ShownNudge:
    nudge: Nudge
    title: str
    advice: str
    action_label: str
    action_url: str
    audience: str


def show(nudge: Nudge, language: str) -> ShownNudge:
    """A nudge's text in the reader's language, with the link to its action."""
    rule = playbook.rules().get(nudge.rule_id)
    if rule is None:  # a rule removed from the playbook: keep the row readable
        return ShownNudge(nudge, nudge.rule_id, "", "", action_url(nudge, "lead"), "")
    return ShownNudge(
        nudge=nudge,
        title=rule.text("title", language, nudge.context),
        advice=rule.text("advice", language, nudge.context),
        action_label=rule.label(language),
        action_url=action_url(nudge, rule.action_target),
        audience=rule.audience,
    )


# The nudge center's lists (the page's and the API's `show`): due now, snoozed, closed.
SHOW_STATES: tuple[str, ...] = ("open", "snoozed", "closed")


def nudges_for(*, user: User, show_state: str = "open") -> QuerySet[Nudge]:
    """The user's nudges in one of the SHOW_STATES lists (anything else: the closed ones)."""
    nudges = Nudge.objects.filter(recipient=user).select_related("lead", "report")
    if show_state == "open":
        return nudges.filter(due_q()).order_by("-priority", "-created_at", "-id")
    if show_state == "snoozed":
        return nudges.filter(state=NudgeState.SNOOZED, snoozed_until__gt=timezone.now()).order_by(
            "snoozed_until"
        )
    return nudges.filter(state__in=CLOSED_STATES).order_by("-acted_at", "-id")


def team_feed(*, user: User) -> dict[str, Any]:
    """Credit posts on the user's team(s), and the thanks they received."""
    if reports_to_a_manager(user):
        teams: QuerySet[Team] = Team.objects.filter(pk=user.team_id or 0)
    else:
        teams = visible_teams(user)
    posts = (
        CreditPost.objects.filter(team__in=teams)
        .select_related("author", "lead", "team")
        .prefetch_related("credited")[:50]
    )
    received = Thanks.objects.filter(recipient=user).select_related("author", "lead")[:50]
    sent = Thanks.objects.filter(author=user).select_related("recipient", "lead")[:50]
    return {"posts": posts, "received": received, "sent": sent}


def year_end_candidates(*, user: User, year: int) -> list[dict[str, Any]]:
    """Managers and seniors who handed the user leads this year, with how each lead ended."""
    start = dt.datetime(year, 1, 1, tzinfo=dt.UTC)
    leads = (
        Lead.objects.filter(owner=user, handed_by__isnull=False, handed_at__gte=start)
        .exclude(handed_by=user)
        .select_related("handed_by")
        .order_by("handed_by_id", "-value")
    )
    people: dict[int, dict[str, Any]] = {}
    for lead in leads:
        entry = people.setdefault(
            lead.handed_by_id or 0, {"person": lead.handed_by, "leads": [], "won": 0}
        )
        entry["leads"].append(lead)
        entry["won"] += lead.stage == "won"
    if user.team_id and user.team and user.team.manager_id not in people:
        people[user.team.manager_id] = {"person": user.team.manager, "leads": [], "won": 0}
    already = set(
        Thanks.objects.filter(
            author=user, kind=ThanksKind.YEAR_END, created_at__gte=start
        ).values_list("recipient_id", flat=True)
    )
    for pk, entry in people.items():
        entry["thanked"] = pk in already
    return list(people.values())


def rule_stats(*, scope: QuerySet[Nudge]) -> list[dict[str, Any]]:
    """Per rule: how often it fired, was acted on, was dismissed, and the median time to act."""
    rows = {
        r["rule_id"]: r
        for r in scope.values("rule_id").annotate(
            fired=Count("pk"),
            done=Count("pk", filter=Q(state=NudgeState.DONE)),
            dismissed=Count("pk", filter=Q(state=NudgeState.DISMISSED)),
            open=Count("pk", filter=Q(state__in=ACTIVE_STATES)),
        )
    }
    waits: dict[str, list[float]] = {}
    lag = ExpressionWrapper(F("acted_at") - F("created_at"), output_field=DurationField())
    for rule_id, took in (
        scope.filter(state=NudgeState.DONE, acted_at__isnull=False)
        .annotate(took=lag)
        .values_list("rule_id", "took")
    ):
        if took is not None:
            waits.setdefault(rule_id, []).append(took.total_seconds() / 3600)
    out = []
    for rule_id, rule in playbook.rules().items():
        row = rows.get(rule_id, {"fired": 0, "done": 0, "dismissed": 0, "open": 0})
        hours = waits.get(rule_id)
        out.append(
            {
                "rule": rule,
                "fired": row["fired"],
                "done": row["done"],
                "dismissed": row["dismissed"],
                "open": row["open"],
                "median_hours": statistics.median(hours) if hours else None,
            }
        )
    return out


def reliability(*, viewer: User, days: int = 90) -> list[dict[str, Any]]:
    """The 靠谱 measures per rep the viewer may see: reports on time, how complete they are,
    answers to nudges, conversion of the leads handed down, thanks given after wins."""
    since = timezone.now() - dt.timedelta(days=days)
    reps = (
        visible_people(viewer).filter(role=Role.REP)
        if viewer.role != Role.REP
        else (User.objects.filter(pk=viewer.pk))
    )
    reports = Q(reports__state=ReportState.SUBMITTED, reports__submitted_at__gte=since)
    stats = reps.annotate(
        n_reports=Count("reports", filter=reports, distinct=True),
        n_on_time=Count("reports", filter=reports & Q(reports__on_time=True), distinct=True),
    ).values("pk", "display_name", "username", "n_reports", "n_on_time")
    avg_quality = dict(
        Report.objects.filter(author__in=reps, state=ReportState.SUBMITTED, submitted_at__gte=since)
        .values_list("author_id")
        .annotate(avg=Avg("quality_score"))
    )
    nudge_rows = {
        r["recipient_id"]: r
        for r in Nudge.objects.filter(recipient__in=reps, created_at__gte=since)
        .values("recipient_id")
        .annotate(
            total=Count("pk"),
            done=Count("pk", filter=Q(state=NudgeState.DONE)),
        )
    }
    lead_rows = {
        r["owner_id"]: r
        for r in Lead.objects.filter(owner__in=reps, handed_by__isnull=False)
        .exclude(handed_by=F("owner"))
        .values("owner_id")
        .annotate(
            won=Count("pk", filter=Q(stage="won")),
            lost=Count("pk", filter=Q(stage="lost")),
        )
    }
    thanked = dict(
        Thanks.objects.filter(author__in=reps, kind=ThanksKind.WIN)
        .values_list("author_id")
        .annotate(n=Count("lead_id", distinct=True))
    )
    out = []
    for r in stats:
        leads = lead_rows.get(r["pk"], {"won": 0, "lost": 0})
        nudges = nudge_rows.get(r["pk"], {"total": 0, "done": 0})
        closed = leads["won"] + leads["lost"]
        out.append(
            {
                "name": r["display_name"] or r["username"],
                "reports": r["n_reports"],
                "on_time": r["n_on_time"],
                "on_time_share": (r["n_on_time"] / r["n_reports"]) if r["n_reports"] else None,
                "quality": avg_quality.get(r["pk"]),
                "nudges": nudges["total"],
                "nudges_done": nudges["done"],
                "won": leads["won"],
                "conversion": (leads["won"] / closed) if closed else None,
                "thanked": thanked.get(r["pk"], 0),
            }
        )
    return out
