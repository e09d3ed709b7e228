"""The cockpit's report figures: per rep or per team, the reports of the period, how many on
time, their average quality, the asks waiting and the oldest of them, those not yet
acknowledged — read once grouped by (team, author) for the +2 page (`report_cells`) and added
up by team and by author, or grouped by one key (`_report_figures`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

from django.db.models import Avg, Count, Max, Min, Q, QuerySet, Sum

from crm.models import AskState, Report, ReportState


def _report_figures(
    reports: QuerySet[Report], key: str, *, since: dt.datetime
) -> dict[int, dict[str, Any]]:
    """Report figures grouped by `key` ("author" or "team")."""
    rows = (
        reports.filter(state=ReportState.SUBMITTED)
        .order_by()
        .values(key)
        .annotate(**_report_aggregates(since, quality=Avg("quality_score", filter=_recent(since))))
    )
    return {row.pop(key): row for row in rows}


def _recent(since: dt.datetime) -> Q:
    return Q(submitted_at__gte=since)


def _report_aggregates(since: dt.datetime, **quality: Any) -> dict[str, Any]:
    """The report figures' aggregates over submitted reports, the quality's as given (its
    average per group, or the sum report_cells carries)."""
    recent = _recent(since)
    open_ask = Q(ask_state=AskState.OPEN)
    # Rows counted by their team (never NULL), not their id: every column read is then in
    # report_team_figures, and PostgreSQL counts from the index alone, in its order (a +2's
    # 8,400 reports: 6.4 -> 1.9 ms; by id it read the table and hashed the groups).
    return {
        "last_report_at": Max("submitted_at"),
        "reports": Count("team", filter=recent),
        "on_time": Count("team", filter=recent & Q(on_time=True)),
        **quality,
        "open_asks": Count("team", filter=open_ask),
        "oldest_ask_at": Min("submitted_at", filter=open_ask),
        "unacknowledged": Count("team", filter=Q(acknowledged_at__isnull=True)),
    }


REPORT_SUMS = ("reports", "on_time", "quality_sum", "open_asks", "unacknowledged")


def report_cells(team_ids: list[int], *, days: int, now: dt.datetime) -> list[dict[str, Any]]:
    """The teams' report figures grouped by (team, author), which `_sum_reports` adds up by
    team and by author: the +2 page's team table and ranking read the teams' reports once
    instead of once each (about 9,000 reports each time over nine teams of 5,000 leads). The
    average quality is carried as its sum, divided by the reports of the period when added up,
    as AVG divided them."""
    since = now - dt.timedelta(days=days)
    quality_sum = Sum("quality_score", filter=_recent(since))
    cells = (
        Report.objects.filter(team_id__in=team_ids, state=ReportState.SUBMITTED)
        .order_by()
        .values("team", "author")
        .annotate(**_report_aggregates(since, quality_sum=quality_sum))
    )
    return [dict(cell) for cell in cells]


def _sum_reports(
    cells: list[dict[str, Any]], key: str, *, keys: Collection[int] | None = None
) -> dict[int, dict[str, Any]]:
    """`report_cells`' rows added up by `key` ("team" or "author"; only those in `keys`), as
    `_report_figures` groups them. quality_score is never NULL, so its AVG over the period's
    reports is their sum over their number."""
    out: dict[int, dict[str, Any]] = {}
    for cell in cells:
        k = cell[key]
        if keys is not None and k not in keys:
            continue
        row = out.get(k)
        if row is None:
            out[k] = cell | {name: cell[name] or 0 for name in REPORT_SUMS}
            continue
        for name in REPORT_SUMS:
            row[name] += cell[name] or 0
        for name, pick in (("last_report_at", max), ("oldest_ask_at", min)):
            if cell[name] is not None:
                row[name] = cell[name] if row[name] is None else pick(row[name], cell[name])
    for row in out.values():
        total = row.pop("quality_sum")
        row["quality"] = total / row["reports"] if row["reports"] else None
        del row["team"], row["author"]
    return out
