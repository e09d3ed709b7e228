"""The rep rules: the active reps, and those silent, asking only for help, reliable or uneven."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce

from coaching.rules.queries import Rows
from crm.models import Report, ReportKind, ReportState, Role, User

# crm.reporting's weakness code for an ask that hands the work back to the manager.
HANDS_WORK_BACK = "hands_work_back"


def active_reps(team_ids: list[int] | None, exclude_team_ids: list[int]) -> QuerySet[User]:
    reps = User.objects.filter(role=Role.REP, is_active=True, team__isnull=False).order_by()
    if team_ids is not None:
        reps = reps.filter(team_id__in=team_ids)
    if exclude_team_ids:
        reps = reps.exclude(team_id__in=exclude_team_ids)
    return reps


def low_contact(
    reps: QuerySet[User], *, now: dt.datetime, today: dt.date, t: dict[str, int]
) -> Rows:
    """Reps with no report or question to their manager for `days`."""
    return (
        reps.annotate(
            last_report=Max(
                "reports__submitted_at", filter=Q(reports__state=ReportState.SUBMITTED)
            ),
            reference=Coalesce("last_report", "date_joined"),
        )
        .filter(reference__lt=now - dt.timedelta(days=t.get("days", 10)))
        .values("pk", "team__manager_id", "reference", "last_report")
    )


def only_help(
    reps: QuerySet[User], *, now: dt.datetime, today: dt.date, t: dict[str, int]
) -> list[dict[str, int]]:
    """Reps whose last `last` messages to the manager were all asks for help or problems,
    never a plan: {"pk": the rep, "latest": their newest report}. Reps with fewer reports have
    none. Each rep's last `last` submitted reports are read through report_author (author,
    state, newest first) and stop there: a LATERAL per rep on PostgreSQL, a list per rep on
    SQLite (its correlated IN); the whole table's submitted reports numbered in one window cost
    a scan of crm_report whatever the number of reps."""
    last_n = max(t.get("last", 3), 1)
    # A plan that hands the work back ("can you call them?") is an ask for help, not a plan.
    planned = (
        ~Q(next_step="")
        & ~Q(kind=ReportKind.QUESTION)
        & ~Q(quality_issues__icontains=f'"{HANDS_WORK_BACK}"')
    )
    newest_first = ["-submitted_at", "-id"]
    # Each rep's last `last_n` ids, the rep being "rep"."pk" of the query around it.
    last_ids = (
        Report.objects.filter(author_id=RawSQL('"rep"."pk"', []), state=ReportState.SUBMITTED)
        .order_by(*newest_first)
        .values("id")[:last_n]
    )
    ids_sql, ids_params = last_ids.query.sql_with_params()
    reps_sql, reps_params = reps.order_by().values("pk").query.sql_with_params()
    if connection.vendor == "postgresql":
        mine = f'SELECT "last"."id" FROM ({reps_sql}) "rep" CROSS JOIN LATERAL ({ids_sql}) "last"'
    else:
        mine = (
            f'SELECT "last"."id" FROM ({reps_sql}) "rep"'
            f' JOIN crm_report "last" ON "last"."id" IN ({ids_sql})'
        )
    rows = (
        Report.objects.filter(id__in=RawSQL(mine, (*reps_params, *ids_params)))
        .order_by("author_id", *newest_first)
        .values_list("author_id", "id", Case(When(planned, then=1), default=0))
    )
    found: dict[int, list[int]] = {}  # rep -> [latest, reports read, plans]
    for author, report, plan in rows:
        if author in found:
            found[author][1] += 1
            found[author][2] += plan
        else:
            found[author] = [report, 1, plan]
    return [
        {"pk": author, "latest": latest}
        for author, (latest, count, plans) in found.items()
        if count == last_n and not plans
    ]


def reliable_rep(
    reps: QuerySet[User], *, now: dt.datetime, today: dt.date, t: dict[str, int]
) -> Rows:
    """Reps who report on time on chicken-rib leads: candidates for a better lead.

    Each rep's two counts are subqueries on their recent sent reports (the report_author
    index), each report's lead looked up by its key: a Count over the reps' reports joined
    every report and every lead before filtering (on PostgreSQL, 100 ms of the scan at 100k
    leads). A rep without such reports counts 0, as the outer join's Count did."""
    since = now - dt.timedelta(days=t.get("days", 30))
    on_rib = Report.objects.filter(
        author=OuterRef("pk"),
        state=ReportState.SUBMITTED,
        submitted_at__gte=since,
        lead__is_chicken_rib=True,
    ).order_by()

    def count(reports: QuerySet[Report]) -> Coalesce:
        counted = reports.values("author").annotate(n=Count("pk")).values("n")
        return Coalesce(Subquery(counted, output_field=IntegerField()), 0)

    share = t.get("on_time_share_percent", 80)
    return (
        reps.annotate(rib_reports=count(on_rib), rib_on_time=count(on_rib.filter(on_time=True)))
        .filter(rib_reports__gte=t.get("min_reports", 3))
        .filter(rib_on_time__gte=F("rib_reports") * share / 100.0)
        .values("pk", "team__manager_id", "display_name", "username", "rib_on_time")
    )


def year_end_due(*, today: dt.date, t: dict[str, int]) -> bool:
    """From the configured day (20 December by default) to the end of the year."""
    start = dt.date(today.year, t.get("month", 12), t.get("day", 20))
    return start <= today <= dt.date(today.year, 12, 31)


def uneven(counts: dict[int, int], *, t: dict[str, int]) -> list[tuple[int, int, float]]:
    """Reps whose open leads are far from the team median: (rep id, leads, median)."""
    values = sorted(counts.values())
    if not values:
        return []
    mid = len(values) // 2
    median = values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2
    if median < t.get("min_leads", 5):
        return []
    ratio = t.get("ratio_percent", 200) / 100
    return [
        (rep, n, median) for rep, n in counts.items() if n > median * ratio or n < median / ratio
    ]


def silent_reps(
    reps: QuerySet[User], *, now: dt.datetime, today: dt.date, t: dict[str, int]
) -> Rows:
    """Reps in teams with a director who sent no report for `days`: one row per rep."""
    return (
        reps.filter(team__director__isnull=False, team__manager__isnull=False)
        .annotate(
            last_report=Max(
                "reports__submitted_at", filter=Q(reports__state=ReportState.SUBMITTED)
            ),
            reference=Coalesce("last_report", "date_joined"),
        )
        .filter(reference__lt=now - dt.timedelta(days=t.get("days", 14)))
        .values(
            "pk",
            "display_name",
            "username",
            "reference",
            "team_id",
            "team__manager_id",
            "team__director_id",
        )
    )
