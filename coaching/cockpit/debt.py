"""What waits on the manager: the team's stalled leads (idle the longest first, with any
escalation plan still undecided) and the manager's own debt — reports not acknowledged and asks
not answered, the oldest first.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import (
    BooleanField,
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
)
from django.utils import timezone

from crm.models import AskState, Lead, Report, ReportKind, ReportState, Team, User
from crm.permissions import can_manage_team
from crm.selectors import stalled_q, with_idle_since

STALLED_LIMIT = 25
# What the stalled list shows of a lead and its owner (coaching.views.cockpit_rows): the ORM's
# cost of the other 40 lead columns and 30 user columns was more than the query's own.
STALLED_COLUMNS = (
    "company",
    "is_chicken_rib",
    "stage",
    "owner__display_name",
    "owner__first_name",
    "owner__last_name",
    "owner__username",
)
DEBT_LIMIT = 10
# What the debt lists show of a report, its author and its lead (templates/coaching/team.html).
DEBT_COLUMNS = (
    "kind",
    "ask",
    "ask_due",
    "submitted_at",
    "author__display_name",
    "author__first_name",
    "author__last_name",
    "author__username",
    "lead__company",
)


def _age(now: dt.datetime, column: str) -> ExpressionWrapper:
    """How long ago `column` was, computed by the database."""
    return ExpressionWrapper(
        Value(now, output_field=DateTimeField()) - F(column), output_field=DurationField()
    )


def stalled_leads(
    *, team: Team, now: dt.datetime | None = None, limit: int = STALLED_LIMIT
) -> list[Lead]:
    """The team's stalled leads, idle the longest first, each with its days idle and the
    escalation plan still waiting for a decision, if any."""
    now = now or timezone.now()
    plans = Report.objects.filter(
        lead=OuterRef("pk"), kind=ReportKind.ESCALATION, state=ReportState.SUBMITTED, decision=""
    ).order_by("-submitted_at", "-pk")
    return list(
        with_idle_since(Lead.objects.filter(team=team))
        .filter(stalled_q(now), closed_at__isnull=True)  # lead_team_idle's condition
        .annotate(
            idle_for=_age(now, "idle_since"),
            open_plan_id=Subquery(plans.values("pk")[:1], output_field=IntegerField()),
            open_plan_at=Subquery(plans.values("submitted_at")[:1], output_field=DateTimeField()),
            open_plan_shared=Subquery(
                plans.values("share_with_director")[:1], output_field=BooleanField()
            ),
        )
        .select_related("owner")
        .only(*STALLED_COLUMNS)
        .order_by(F("idle_since").asc(), "pk")[:limit]
    )


def can_answer_for(user: User, team: Team) -> bool:
    """Who owes answers to this team's reports: its manager, or an admin."""
    return can_manage_team(user, team)


def my_debt(
    *,
    user: User,
    team: Team,
    now: dt.datetime | None = None,
    limit: int = DEBT_LIMIT,
    reports: list[dict[str, Any]] | None = None,
) -> dict[str, Any] | None:
    """What the viewer owes this team: reports not acknowledged and asks not answered, the
    oldest first. None for someone who does not answer this team's reports (a +2). `reports`:
    the team's `report_cells` (coaching.cockpit.reports), when the page has read them, give
    the counts without a query of their own: every submitted report but the viewer's."""
    if not can_answer_for(user, team):
        return None
    now = now or timezone.now()
    waiting = (
        Report.objects.filter(team=team, state=ReportState.SUBMITTED)
        .exclude(author=user)
        .select_related("author", "lead")
        .only(*DEBT_COLUMNS)
        .annotate(waited=_age(now, "submitted_at"))
        .order_by("submitted_at", "pk")
    )
    if reports is not None:
        others = [c for c in reports if c["team"] == team.pk and c["author"] != user.pk]
        counts = {
            "unacknowledged": sum(cell["unacknowledged"] for cell in others),
            "asks": sum(cell["open_asks"] for cell in others),
        }
    else:
        counts = waiting.aggregate(
            unacknowledged=Count("pk", filter=Q(acknowledged_at__isnull=True)),
            asks=Count("pk", filter=Q(ask_state=AskState.OPEN)),
        )
    return {
        "unacknowledged": list(waiting.filter(acknowledged_at__isnull=True)[:limit]),
        "asks": list(waiting.filter(ask_state=AskState.OPEN)[:limit]),
        "counts": counts,
    }
