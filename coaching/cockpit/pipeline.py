"""The cockpit's pipeline: per team, each stage's count and value per currency today, and its
count a week ago rebuilt from the stage history (the moves of the last week only), so the page
can show the change; teams' pipelines added up for the +2.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from coaching.cockpit.cube import CHANGE_DAYS, LeadCube, lead_cube
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


def _moved_since(leads: QuerySet[Lead], key: str, cutoff: dt.datetime) -> QuerySet[Any]:
    """The leads of `leads` that existed at `cutoff` and changed stage after it, counted by
    `key`, their stage today and the stage they were in at `cutoff` — the stage their first
    move after the cutoff started from. One grouped query over the moves since the cutoff only
    (the history index on kind and time), whatever the size of the team: every stage change is
    written to the history (crm.services.lead_change_stage), so a lead that did not move since
    is in the same stage as then, and one that did was where its first move since began."""
    moves = LeadEvent.objects.filter(kind=LeadEventKind.STAGE_CHANGED, created_at__gt=cutoff)
    first = (
        # Each of the week's moves probes its own lead (primary key) for the team and its age:
        # an IN over the team's leads built the list of all 50,000 ids first on SQLite.
        moves.filter(Exists(leads.filter(pk=OuterRef("lead_id"), created_at__lte=cutoff)))
        .annotate(
            nth=Window(
                RowNumber(), partition_by=[F("lead_id")], order_by=[F("created_at"), F("pk")]
            )
        )
        .filter(nth=1)
        .order_by()
        .values("pk")
    )
    return (
        LeadEvent.objects.filter(pk__in=first)
        .order_by()
        .values(f"lead__{key}", "lead__stage", "from_stage")
        .annotate(n=Count("pk"))
    )


def pipelines(
    *,
    leads: QuerySet[Lead],
    key: str,
    now: dt.datetime | None = None,
    cube: LeadCube | None = None,
) -> dict[int, list[StageRow]]:
    """Per `key` (a team id): each stage's count and value per currency today, and its count
    `CHANGE_DAYS` ago (leads created since then did not exist then). Two grouped queries: the
    leads by stage today (those that existed a week ago counted apart; none when the page
    passes the `cube` it counted `leads` in already), and the moves since."""
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
    for item in _moved_since(leads, key, cutoff):
        group = item[f"lead__{key}"]
        row(group, item["lead__stage"]).count_before -= item["n"]
        row(group, item["from_stage"] or item["lead__stage"]).count_before += item["n"]
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
