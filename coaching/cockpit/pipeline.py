"""The cockpit's pipeline: per team, each stage's count and value per currency today, and its
count a week ago rebuilt from the stage history (the moves of the last week only), so the page
can show the change; teams' pipelines added up for the +2.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import (
    Case,
    CharField,
    DateTimeField,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from coaching.cockpit.cube import CHANGE_DAYS, LeadCube, lead_cube
from coaching.rules.queries import Unindexed
from crm.models import Lead, LeadEvent, LeadEventKind
from crm.pipeline import OPEN_STAGES, Stage

# The pipeline funnel: the open stages in order, then the wins.
FUNNEL_STAGES: tuple[str, ...] = (*OPEN_STAGES, Stage.WON)


@dataclass
class StageRow:
    stage: str
    label: str
    count: int = 0
    totals: list[tuple[str, Decimal]] = field(default_factory=list)
    count_before: int = 0

    @property
    def change(self) -> int:
        return self.count - self.count_before

    @property
    def change_text(self) -> str:
        """The change signed for reading: +3, −2 (a true minus sign), 0."""
        if self.change > 0:
            return f"+{self.change}"
        return f"−{-self.change}" if self.change < 0 else "0"


def _moved_since(
    leads: QuerySet[Lead], key: str, cutoff: dt.datetime
) -> Counter[tuple[int, str, str]]:
    """The leads of `leads` that existed at `cutoff` and changed stage after it, counted by
    `key`, their stage today and the stage they were in at `cutoff` — the stage their first
    move after the cutoff started from. Every stage change is written to the history with the
    lead's `stage_changed_at` (crm.services.lead_change_stage), so a lead that did not move
    since is in the same stage as then, and one that did was where its first move since began.

    The leads that may have moved are a range of lead_team_moves (their latest move after the
    cutoff), which holds all the count reads of them. A lead whose latest move is its only one
    since (its stage_changed_at before it, `moved_before_at`, at or before the cutoff) was where
    that move began (`moved_from`); only one that moved twice or more since, or whose latest
    move is unknown, looks up its first move since in its own history (leadevent_lead_time)."""
    first_move = (
        # kind and time kept off SQLite's indexes, so that it reads the lead's own history
        # rather than the whole company's week of moves for each lead.
        LeadEvent.objects.alias(
            moved_kind=Unindexed("kind", output_field=CharField()),
            moved_at=Unindexed("created_at", output_field=DateTimeField()),
        )
        .filter(lead=OuterRef("pk"), moved_kind=LeadEventKind.STAGE_CHANGED, moved_at__gt=cutoff)
        .order_by("created_at", "pk")
        # "" for a move with no stage before it, so that no move at all stays NULL.
        .values(was=Coalesce("from_stage", Value("")))[:1]
    )
    only_move = Q(moved_from__isnull=False) & (
        Q(moved_before_at__isnull=True) | Q(moved_before_at__lte=cutoff)
    )
    was = Case(When(only_move, then=F("moved_from")), default=Subquery(first_move))
    moved = (
        leads.filter(stage_changed_at__gt=cutoff, created_at__lte=cutoff)
        .order_by()
        .values_list(key, "stage", was)
    )
    # Counted here: grouped in SQL, the subquery is written (and run) again in GROUP BY.
    return Counter(row for row in moved if row[2] is not None)


def pipelines(
    *,
    leads: QuerySet[Lead],
    key: str,
    now: dt.datetime | None = None,
    cube: LeadCube | None = None,
) -> dict[int, list[StageRow]]:
    """Per `key` (a team id): each stage's count and value per currency today, and its count
    `CHANGE_DAYS` ago (leads created since then did not exist then). Two queries: the leads
    grouped by stage today (those that existed a week ago counted apart; none when the page
    passes the `cube` it counted `leads` in already), and the leads that moved since
    (`_moved_since`)."""
    now = now or timezone.now()
    if cube is None:
        cube = lead_cube(leads, days=CHANGE_DAYS, now=now)
    elif cube.now != now:
        raise ValueError("The leads were counted at another moment.")
    cutoff = now - dt.timedelta(days=CHANGE_DAYS)
    out: dict[int, dict[str, StageRow]] = {}
    labels = [(value, str(label)) for value, label in Stage.choices]  # translated once a page

    def row(group: int, stage: str) -> StageRow:
        stages = out.get(group)
        if stages is None:
            stages = out[group] = {value: StageRow(value, label) for value, label in labels}
        return stages[stage]

    for group, by_stage in cube.stages(key).items():
        for stage, cell in by_stage.items():
            stage_row = row(group, stage)
            stage_row.count = cell["n"]
            stage_row.count_before = cell["before"]
            stage_row.totals = cell["totals"]
    for (group, stage, from_stage), n in _moved_since(leads, key, cutoff).items():
        row(group, stage).count_before -= n
        row(group, from_stage or stage).count_before += n
    return {group: list(stages.values()) for group, stages in out.items()}


def empty_pipeline() -> list[StageRow]:
    return [StageRow(value, str(label)) for value, label in Stage.choices]


def combined_pipeline(pipes: Iterable[list[StageRow]]) -> list[StageRow]:
    """Several teams' pipelines added up, stage by stage (currencies kept apart)."""
    total = {row.stage: row for row in empty_pipeline()}
    sums: dict[str, dict[str, Decimal]] = {}
    for pipe in pipes:
        for row in pipe:
            into = total[row.stage]
            into.count += row.count
            into.count_before += row.count_before
            for currency, value in row.totals:
                by_currency = sums.setdefault(row.stage, {})
                by_currency[currency] = by_currency.get(currency, Decimal(0)) + value
    for stage, by_currency in sums.items():
        total[stage].totals = sorted(by_currency.items())
    return list(total.values())
