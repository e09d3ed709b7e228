"""The pipeline board: the visible leads by stage, each column's count and value per currency
from the lead tally (crm.models.tally), and its biggest leads read by the (team, stage, -value,
-id) index one (team, stage) at a time (issue 22)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Case, F, Sum, Value, When, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from crm.models import Lead, User
from crm.permissions import sees_whole_teams, visible_leads, visible_tally
from crm.pipeline import Stage, idle_level
from crm.selectors.leads import stalled_q, with_idle_since
from crm.selectors.walks import BOARD_WALKS, biggest_per_stage, id_among


@dataclass
class BoardColumn:
    stage: str
    label: str
    count: int
    totals: list[tuple[str, Decimal]]
    leads: Sequence[Lead]


# What a card shows of its lead and owner (crm/views/board_cards.py; the days idle and whether
# it is stalled are computed in SQL): a +2's 140 cards with every column of a lead and a user
# were 1,400 moments converted and 280 objects filled on each board.
CARD_COLUMNS = (
    "company",
    "stage",
    "value",
    "currency",
    "is_chicken_rib",
    "next_step_due",
    "owner__display_name",
    "owner__first_name",
    "owner__last_name",
    "owner__username",
)


def pipeline_board(*, user: User, per_column: int = 20) -> list[BoardColumn]:
    """The visible leads by stage: count and value per currency, and the biggest leads, each
    marked `rotting` when it is stalled (stalled_q: a parked lead is not)."""
    leads = visible_leads(user)
    rotting = Case(When(stalled_q(), then=Value(True)), default=Value(False))
    # Counts and totals from the lead tally (crm.tally), not from the leads; for whole teams
    # (a manager, a +2, an admin) each (team, stage) that has leads is walked for its cards.
    by_team = sees_whole_teams(user)
    counts: dict[str, int] = {}
    sums: dict[str, dict[str, Decimal]] = {}
    pairs: set[tuple[int, str]] = set()
    groups = visible_tally(user).values_list("team_id", "stage", "currency")
    for team_id, stage, currency, n, value in groups.annotate(Sum("n"), Sum("value")).order_by():
        counts[stage] = counts.get(stage, 0) + n
        by_currency = sums.setdefault(stage, {})
        by_currency[currency] = by_currency.get(currency, Decimal(0)) + value
        pairs.add((team_id, stage))
    totals = {stage: sorted(by_currency.items()) for stage, by_currency in sums.items()}
    if by_team and len(pairs) <= BOARD_WALKS:
        top = biggest_per_stage(sorted(pairs), per_column)
    else:
        # The visible leads numbered within their stage by value (narrow rows: stage, value,
        # id), the first `per_column` of each kept: a rep's few hundred leads.
        biggest = Window(
            RowNumber(), partition_by=[F("stage")], order_by=[F("value").desc(), F("id").desc()]
        )
        numbered = leads.annotate(nth=biggest).filter(nth__lte=per_column).order_by()
        sql, params = numbered.values("pk").query.sql_with_params()
        top = sql, list(params)
    cards: dict[str, list[Lead]] = {}
    for card in (
        with_idle_since(Lead.objects.filter(id_among(*top)))
        .select_related("owner")
        .only(*CARD_COLUMNS)
        .annotate(rotting=rotting)
        .order_by("-value", "-id")
    ):
        cards.setdefault(card.stage, []).append(card)
    columns = []
    now = timezone.now()
    for stage, label in Stage.choices:
        shown = cards.get(stage, [])
        for lead in shown:  # days idle and their colour (crm.pipeline.IDLE_DAYS)
            lead.idle_days = (now - lead.idle_since).days  # type: ignore[attr-defined]
            lead.idle_level = idle_level(stage, lead.idle_days)  # type: ignore[attr-defined]
        columns.append(
            BoardColumn(
                stage=stage,
                label=str(label),
                count=counts.get(stage, 0),
                totals=totals.get(stage, []),
                leads=shown,
            )
        )
    return columns
