"""Report reads: the manager's inbox, per-rep report figures, a rep's side of the relationship
(my manager) and the facts the report form shows beside a lead's report."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import (
    Avg,
    Case,
    Count,
    DateTimeField,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from crm.models import Activity, AskState, Lead, Report, ReportReply, ReportState, User
from crm.permissions import visible_reports


def report_inbox(
    *, user: User, show: str = "all", inbox: QuerySet[Report] | None = None
) -> QuerySet[Report]:
    """Submitted reports addressed to `user` (their team's; shared ones for a +2), newest first;
    `show` narrows them. `inbox`: this function's own "all" for the same user, given again so
    that a page showing the counts too reads the user's teams once."""
    if inbox is not None:
        return _inbox_shown(inbox, show)
    # The replies counted per row shown, not by grouping every report of the team with its
    # replies (which kept the page from walking the team's index and stopping at 30).
    replies = (
        ReportReply.objects.filter(report=OuterRef("pk"))
        .order_by()
        .values("report")
        .annotate(n=Count("pk"))
        .values("n")
    )
    reports = (
        visible_reports(user, addressed_only=True)
        .filter(state=ReportState.SUBMITTED)
        .select_related("author", "lead")
        .annotate(reply_count=Coalesce(Subquery(replies), 0))
    )
    return _inbox_shown(reports.order_by("-submitted_at", "-id"), show)


def _inbox_shown(reports: QuerySet[Report], show: str) -> QuerySet[Report]:
    if show == "unread":
        return reports.filter(read_at__isnull=True)
    if show == "asks":
        return reports.filter(ask_state=AskState.OPEN)
    if show == "unacknowledged":
        return reports.filter(acknowledged_at__isnull=True)
    return reports


def rep_report_stats(*, reps: QuerySet[User], days: int = 30) -> QuerySet[User]:
    """Per rep: last report, share on time and average quality over `days`, open asks."""
    since = timezone.now() - dt.timedelta(days=days)
    submitted = Q(reports__state=ReportState.SUBMITTED)
    recent = submitted & Q(reports__submitted_at__gte=since)
    return reps.annotate(
        last_report_at=Max("reports__submitted_at", filter=submitted),
        reports_recent=Count("reports", filter=recent),
        reports_on_time=Count("reports", filter=recent & Q(reports__on_time=True)),
        quality_avg=Avg("reports__quality_score", filter=recent),
        open_asks=Count("reports", filter=submitted & Q(reports__ask_state=AskState.OPEN)),
        oldest_open_ask=Min(
            "reports__submitted_at", filter=submitted & Q(reports__ask_state=AskState.OPEN)
        ),
    ).order_by("display_name", "username")


# Answers the author has not seen: answered after they last looked (or never looked).
UNSEEN = Q(answered_at__isnull=False) & (
    Q(author_seen_at__isnull=True) | Q(author_seen_at__lt=F("answered_at"))
)
# Asks the manager has not finished: not answered yet, accepted, or "I'll handle it".
ASKS_WAITING = (AskState.OPEN, AskState.ACCEPTED, AskState.IN_PROGRESS)


def my_manager(*, user: User) -> dict[str, Any]:
    """A rep's side of the relationship: how long since I last reported, what I am waiting for,
    and the reports with answers I have not seen yet (first, and counted)."""
    mine = Report.objects.filter(author=user)
    submitted = mine.filter(state=ReportState.SUBMITTED)
    # One query for both figures: the last report's time and how many have unseen answers.
    figures = submitted.aggregate(last=Max("submitted_at"), unseen=Count("pk", filter=UNSEEN))
    last = figures["last"]
    now = timezone.now()
    reports = list(
        submitted.select_related("lead", "acknowledged_by")
        .annotate(
            reply_count=Count("replies"),
            is_new=Case(When(UNSEEN, then=Value(True)), default=Value(False)),
        )
        .order_by("-is_new", F("answered_at").desc(nulls_last=True), "-submitted_at")[:30]
    )
    return {
        "last_report_at": last,
        "days_since_report": (now - last).days if last else None,
        "open_asks": list(
            submitted.filter(ask_state__in=ASKS_WAITING)
            .select_related("lead")
            .order_by("submitted_at")
        ),
        "drafts": list(mine.filter(state=ReportState.DRAFT).select_related("lead")),
        "reports": reports,
        "unseen_count": figures["unseen"],
        "manager": user.team.manager if user.team_id else None,  # type: ignore[union-attr]
        "now": now,
    }


def lead_report_facts(*, lead: Lead | None) -> dict[str, Any]:
    """What the report form shows beside the template: the lead's stage, its last activities,
    days since the last report on it."""
    if lead is None:
        return {}
    last = (
        Report.objects.filter(lead=lead, state=ReportState.SUBMITTED)
        .order_by("-submitted_at")
        .values_list("submitted_at", flat=True)
        .first()
    )
    since = last or lead.handed_at
    return {
        "lead": lead,
        "recent_activities": list(Activity.objects.filter(lead=lead).select_related("author")[:5]),
        "last_report_at": last,
        "days_since_report": (timezone.now() - since).days if since else None,
    }


def last_report_on_lead() -> Subquery:
    """When the lead's latest report was sent, as an annotation on a Lead queryset."""
    return Subquery(
        Report.objects.filter(lead=OuterRef("pk"), state=ReportState.SUBMITTED)
        .order_by("-submitted_at")
        .values("submitted_at")[:1],
        output_field=DateTimeField(),
    )
