"""The cockpit's pipeline: per team, each stage's count and value per currency today, and its
count a week ago rebuilt from the stage history, so the page can show the change; teams'
pipelines added up for the +2.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, F, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from crm.models import Lead, LeadEvent, LeadEventKind
from crm.pipeline import OPEN_STAGES, Stage

# "Change since last week" compares today's pipeline with the one this many days ago.
CHANGE_DAYS = 7
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


def _stage_then(cutoff: dt.datetime) -> Coalesce:
    """The stage a lead was in at `cutoff`, rebuilt from its stage history: the last move
    before the cutoff, else where the first later move started from, else its stage today."""
    moves = LeadEvent.objects.filter(lead=OuterRef("pk"), kind=LeadEventKind.STAGE_CHANGED)
    before = moves.filter(created_at__lte=cutoff).order_by("-created_at", "-pk")
    after = moves.filter(created_at__gt=cutoff).order_by("created_at", "pk")
    return Coalesce(
        Subquery(before.values("to_stage")[:1]),
        Subquery(after.values("from_stage")[:1]),
        F("stage"),
    )


def pipelines(
    *, leads: QuerySet[Lead], key: str, now: dt.datetime | None = None
) -> dict[int, list[StageRow]]:
    """Per `key` (a team id): each stage's count and value per currency today, and its count
    `CHANGE_DAYS` ago (leads created since then did not exist then)."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=CHANGE_DAYS)
    out: dict[int, dict[str, StageRow]] = {}

    def row(group: int, stage: str) -> StageRow:
        stages = out.setdefault(
            group, {value: StageRow(value, str(label)) for value, label in Stage.choices}
        )
        return stages[stage]

    today = (
        leads.order_by()
        .values(key, "stage", "currency")
        .annotate(n=Count("pk"), total=Sum("value"))
        .order_by(key, "stage", "currency")
    )
    for item in today:
        stage_row = row(item[key], item["stage"])
        stage_row.count += item["n"]
        stage_row.totals.append((item["currency"], item["total"]))
    earlier = (
        leads.filter(created_at__lte=cutoff)
        .annotate(stage_then=_stage_then(cutoff))
        .order_by()
        .values(key, "stage_then")
        .annotate(n=Count("pk"))
    )
    for item in earlier:
        row(item[key], item["stage_then"]).count_before += item["n"]
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
