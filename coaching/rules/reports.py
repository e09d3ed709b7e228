"""The report rules: reports waiting for the manager's acknowledgement or decision."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Max, Min, Q, QuerySet

from coaching.rules.queries import Rows
from crm.models import Report, ReportKind, ReportState


def unacknowledged(
    reports: QuerySet[Report], *, now: dt.datetime, today: dt.date, t: dict[str, int]
) -> Rows:
    """Submitted reports the manager has not acknowledged for `days`."""
    return reports.filter(
        state=ReportState.SUBMITTED,
        acknowledged_at__isnull=True,
        submitted_at__lt=now - dt.timedelta(days=t.get("days", 3)),
    ).values("pk", "team__manager_id", "author__display_name", "author__username", "submitted_at")


def waiting_for_manager(
    reports: QuerySet[Report], *, now: dt.datetime, today: dt.date, t: dict[str, int]
) -> Rows:
    """Per team with a director: how many reports wait past `days` for the manager (not
    acknowledged, or an escalation plan with no decision), the oldest and the biggest lead."""
    plan_open = Q(kind=ReportKind.ESCALATION, lead__isnull=False, decision="")
    return (
        reports.filter(
            Q(acknowledged_at__isnull=True) | plan_open,
            state=ReportState.SUBMITTED,
            submitted_at__lt=now - dt.timedelta(days=t.get("days", 3)),
            team__manager__isnull=False,
            team__director__isnull=False,
        )
        .values("team_id", "team__manager_id", "team__director_id")
        .annotate(count=Count("pk"), oldest=Min("submitted_at"), biggest=Max("lead__value"))
        .order_by()
    )
