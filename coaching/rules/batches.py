"""Large recent hand-offs: the reference a lead is counted from, and its first finding spread."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

from django.db.models import (
    Case,
    Count,
    DateTimeField,
    F,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Greatest, Mod

from coaching.rules.events import add_working_days
from coaching.rules.queries import Unindexed
from crm.models import Lead

# New work doesn't arrive as a flood: the scans count from the latest of the last report (or
# activity), the hand-off and the lead's creation, so a lead just handed down or imported is not
# overdue on day one; and when more than BATCH_SIZE leads reach one person at once, their first
# finding is spread over SPREAD_DAYS working days (deterministic: lead id modulo the spread).
BATCH_SIZE = 10
SPREAD_DAYS = 5


def latest_of(first: Any, prefix: str = "") -> Greatest:
    """The latest of `first` (a field or expression, maybe empty), the hand-off and creation;
    `prefix` reaches the lead from a related model (e.g. "lead__" from a nudge)."""
    created = f"{prefix}created_at"
    return Greatest(
        Coalesce(first, created),
        Coalesce(f"{prefix}handed_at", created),
        F(created),
        output_field=DateTimeField(),
    )


# A large recent hand-off: one owner's leads handed down at one moment (one transaction), more
# than BATCH_SIZE of them; `n` all of them, `n_<team>` those in each of a few named teams.
Batch = dict[str, Any]


def recent_batches(leads: QuerySet[Lead], now: dt.datetime, teams: Collection[int]) -> list[Batch]:
    """The large recent hand-offs among `leads`, with how many of each one's leads are in each
    of `teams`: one small query, which the scan runs once for report_due and stalled, each
    then telling its own threshold groups' batches apart (_batch_offsets)."""
    recent = now - dt.timedelta(days=SPREAD_DAYS * 2 + 31)
    per_team = {f"n_{team}": Count("pk", filter=Q(team_id=team)) for team in sorted(teams)}
    rows: Any = (  # plain rows: the type checker knows no `n_<team>`
        leads.filter(handed_at__gte=recent)
        # Grouped by +owner_id: by the plain column SQLite walks lead_owner_due and fetches
        # every row; so it reads lead_team_cube through, which holds every column used here.
        .values("handed_at", by=Unindexed("owner_id", output_field=IntegerField()))
        .annotate(n=Count("pk"), **per_team)
        .filter(n__gt=BATCH_SIZE)
    )
    return list(rows)


def _batch_offsets(
    leads: QuerySet[Lead],
    now: dt.datetime,
    teams: Collection[int] = (),
    *,
    batches: list[Batch] | None = None,
    left_out: Collection[int] = (),
) -> dict[int | None, dict[tuple[int, ...], list[Any]]]:
    """Large recent hand-offs, grouped by their spread: for each list of calendar-day offsets
    (what 0..SPREAD_DAYS-1 working days after the hand-off come to, which depends only on the
    weekday), the hand-off moments that have it.

    A batch is told apart by its moment alone: one hand-off of many leads shares one timestamp
    (one transaction), so no owner is needed and the scan's CASE stays a handful of branches
    however many batches there are.

    Keyed by threshold group: each of `teams` (the teams with their own thresholds) counts its
    own batches, as its own query did before the groups were folded into one statement, and
    None holds the other teams'. `batches`: recent_batches over all open owned leads, when the
    scan has read them already (counted per team for `teams` and `left_out`, the teams that
    switched the rule off, which are not among `leads`); otherwise one query over `leads`."""
    if batches is None:
        batches, left_out = recent_batches(leads, now, teams), ()
    groups: dict[int | None, dict[tuple[int, ...], list[Any]]] = {}
    seen: set[tuple[int | None, Any]] = set()
    for batch in batches:
        handed_at = batch["handed_at"]
        if handed_at is None:
            continue
        counts: dict[int | None, int] = {team: batch[f"n_{team}"] for team in teams}
        counts[None] = batch["n"] - sum(batch[f"n_{team}"] for team in {*teams, *left_out})
        for team, n in counts.items():
            if n <= BATCH_SIZE or (team, handed_at) in seen:
                continue
            seen.add((team, handed_at))
            start = handed_at.date()
            pattern = tuple((add_working_days(start, d) - start).days for d in range(SPREAD_DAYS))
            groups.setdefault(team, {}).setdefault(pattern, []).append(handed_at)
    return groups


def _spread(
    leads: QuerySet[Lead],
    offsets: dict[int | None, dict[tuple[int, ...], list[Any]]],
    reference: str,
    teams: Collection[int] = (),
) -> tuple[QuerySet[Any, Any], set[int]]:
    """`leads` with `spread`: the days a lead's first finding waits because it came in a large
    batch of its threshold group (`offsets`, from _batch_offsets; 0 for the rest, and for a
    lead worked on since its hand-off); and the values used. `teams` are the teams with their
    own thresholds: their batches apply to them only, the others' (None) to the rest."""
    if not offsets:
        return leads.annotate(spread=Value(0, output_field=IntegerField())), {0}

    def in_group(team: int | None) -> Q:
        if team is not None:
            return Q(team_id=team)
        return ~Q(team_id__in=list(teams)) if teams else Q()

    whens = [
        When(
            in_group(team)
            & Q(handed_at__in=moments, spread_slot=slot)
            & Q(**{reference: F("handed_at")}),
            then=Value(days),
        )
        for team, patterns in offsets.items()
        for pattern, moments in patterns.items()
        for slot, days in enumerate(pattern)
        if days
    ]
    used = {0} | {days for patterns in offsets.values() for pattern in patterns for days in pattern}
    if not whens:
        return leads.annotate(spread=Value(0, output_field=IntegerField())), used
    annotated = leads.annotate(spread_slot=Mod("pk", Value(SPREAD_DAYS))).annotate(
        spread=Case(*whens, default=Value(0), output_field=IntegerField())
    )
    return annotated, used
