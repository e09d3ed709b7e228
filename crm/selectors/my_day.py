"""My day: what needs the user today — next steps due, stalled leads, the week's hand-offs —
and how many of each, every count an index range or the lead tally's sum (issue 22)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from crm.models import LeadEvent, LeadEventKind, User
from crm.models.people import NAME_COLUMNS
from crm.permissions import (
    LikelyIn,
    lead_scope,
    scope_team_ids,
    visible_leads,
    visible_tally,
)
from crm.pipeline import OPEN_STAGES
from crm.selectors.leads import stalled_q, with_idle_since

# What the lists show (templates/crm/my_day.html): a person by their name, a lead by its own
# columns; the rest of the rows is not read.
LEAD_COLUMNS = (
    *("company", "next_step", "next_step_due", "is_chicken_rib"),
    "owner",
    *(f"owner__{name}" for name in NAME_COLUMNS),
)
HANDOFF_COLUMNS = (
    *("lead__company", "created_at", "note", "actor", "to_user"),
    *(f"actor__{name}" for name in NAME_COLUMNS),
    *(f"to_user__{name}" for name in NAME_COLUMNS),
)


def my_day(*, user: User, limit: int = 15) -> dict[str, Any]:
    """What needs the user today: next steps due, stalled leads, new hand-offs."""
    now = timezone.now()
    today = timezone.localdate(now)
    # A manager's or +2's teams read once and named by id in every query below: through the
    # join to crm_team PostgreSQL could not walk a team's index in the list's order, and read
    # and sorted each of the team's 1,160 stalled leads to show 15 (issue 22).
    team_ids = scope_team_ids(user) if user.is_active else None
    # Open leads as the partial indexes over them see them (closed_at IS NULL: the stage
    # service clears it on every open stage): a team's due leads are then a range of
    # lead_team_due, its stalled ones a range of lead_team_idle (a rep's: lead_owner_due,
    # lead_owner_idle), not all of its open leads read three times (issue 22).
    mine = with_idle_since(visible_leads(user, teams_by_id=True, team_ids=team_ids)).filter(
        stage__in=OPEN_STAGES, closed_at__isnull=True
    )
    due = mine.filter(next_step_due__lte=today)
    # Idleness said on the indexes' expression only: with stalled_q's spelled-out OR beside
    # it PostgreSQL ANDed the range with a bitmap of 26,770 leads from lead_stage_activity.
    stalled = mine.filter(stalled_q(now, on_idle_since=True))
    # The week's hand-offs walked newest first on the history's partial index of hand-offs by
    # time (leadevent_handoff_time), their leads' teams checked on the way: not the history of
    # each of a team's 5,000 leads (issue 22).
    handoffs = (
        LeadEvent.objects.filter(
            lead_scope(user, "lead__", teams_by_id=True, walking=True, team_ids=team_ids)
            if user.is_active
            else Q(pk__in=[]),
            # likely() for SQLite: the kinds are then the partial index's condition and not a
            # range of (kind, created_at) to start from and sort (4 ms at 100k leads).
            LikelyIn(F("kind"), [LeadEventKind.HANDED_DOWN, LeadEventKind.REASSIGNED]),
            created_at__gte=now - dt.timedelta(days=7),
        )
        .select_related("lead", "actor", "to_user")
        .only(*HANDOFF_COLUMNS)
        .order_by("-created_at")
    )
    # The counts in one statement: the due and the stalled leads each over their own index
    # range (not with the lists, which would join and carry every stalled lead's whole row to
    # count them, where the list stops at 15), the open and the unassigned ones from the lead
    # tally (crm.models.tally), not read.
    tally = visible_tally(user).filter(stage__in=OPEN_STAGES).values("n")
    counts = _scalars(
        due=("COUNT(*)", due.values("pk")),
        stalled=("COUNT(*)", stalled.values("pk")),
        open=("SUM(n)", tally),
        unassigned=("SUM(n)", tally.filter(owner_key=0)),
    )
    return {
        # Ties (a date and a value) by the newest lead first, as on the board: before, in
        # whatever order the plan read them, so a +2's list changed with the index read.
        "due": list(
            due.select_related("owner")
            .only(*LEAD_COLUMNS)
            .order_by("next_step_due", "-value", "-id")[:limit]
        ),
        "stalled": list(
            stalled.select_related("owner")
            .only(*LEAD_COLUMNS)
            .order_by(F("idle_since").asc(), "pk")[:limit]
        ),
        "handoffs": list(handoffs[:limit]),
        "counts": counts,
        "today": today,
    }


def _scalars(**parts: tuple[str, QuerySet[Any]]) -> dict[str, int]:
    """Each part's aggregate ("COUNT(*)", "SUM(n)") over its query's rows, in one statement,
    each query reading its own index range; 0 for none."""
    columns: list[str] = []
    params: list[Any] = []
    for name, (aggregate, rows) in parts.items():
        try:
            sql, own = rows.order_by().query.sql_with_params()
        except EmptyResultSet:  # nobody's rows (an inactive user)
            columns.append("0")
            continue
        columns.append(f"(SELECT COALESCE({aggregate}, 0) FROM ({sql}) AS {name}_rows)")
        params.extend(own)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)}", params)
        row = cursor.fetchone()
    return {name: int(value) for name, value in zip(parts, row, strict=True)}
