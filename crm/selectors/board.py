"""The pipeline board: the visible leads by stage, each column's count and value per currency
from the lead tally (crm.models.tally), and its biggest leads read by the (team, stage, -value,
-id) index one (team, stage) at a time (issue 22)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import BooleanField, Case, F, Sum, Value, When, Window
from django.db.models.expressions import RawSQL
from django.db.models.functions import RowNumber
from django.utils import timezone

from crm.models import Lead, User
from crm.permissions import sees_whole_teams, visible_leads, visible_tally
from crm.pipeline import Stage, idle_level
from crm.selectors.leads import stalled_q, with_idle_since


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

# A manager's or +2's board reads each column's biggest leads by the (team, stage, -value, -id)
# index, one (team, stage) at a time in one statement; past this many (team, stage) pairs (an
# admin of many teams; SQLite allows 500 arms in a compound SELECT) it numbers every visible lead.
BOARD_WALKS = 200


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
        top = _biggest_walked(sorted(pairs), per_column)
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
        with_idle_since(Lead.objects.filter(_id_among(*top)))
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


def _id_among(ids_sql: str, params: Sequence[Any]) -> RawSQL:
    """The lead's id is one of those the query `ids_sql` selects. On PostgreSQL as `= ANY
    (ARRAY(…))`: the ids read first, once, then each lead by its key; as `IN (…)` PostgreSQL
    guessed the subquery's rows from before its numbering was cut (1,400 for a +2's 140 cards)
    and hashed a scan of every lead against them."""
    among = "= ANY(ARRAY({}))" if connection.vendor == "postgresql" else "IN ({})"
    return RawSQL(f'"crm_lead"."id" {among.format(ids_sql)}', params, BooleanField())


# One (team, stage)'s biggest leads, walked in lead_team_stage_value's order. Written out, not
# built with the ORM per arm: 70 querysets compiled were a fifth of a +2's board on SQLite.
_WALK = (
    'SELECT "crm_lead"."id", "crm_lead"."stage", "crm_lead"."value" FROM "crm_lead"'
    ' WHERE "crm_lead"."team_id" = {team} AND "crm_lead"."stage" = {stage}'
    ' ORDER BY "crm_lead"."value" DESC, "crm_lead"."id" DESC LIMIT %s'
)


def _biggest_walked(pairs: Sequence[tuple[int, str]], per_column: int) -> tuple[str, list[Any]]:
    """The query (SQL, parameters) of the ids of each stage's `per_column` biggest leads (by
    value, then the newest id) among the given teams' leads: each (team, stage) read by
    lead_team_stage_value and stopped at `per_column` entries (issue 22: not a numbering of a
    team's 5,000 leads or a +2's 50,000), then the few hundred rows so read numbered per stage.

    PostgreSQL walks the pairs with one LATERAL subquery, planned once (a UNION ALL of a +2's
    70 arms took 45 ms to plan); SQLite, which has no LATERAL and plans quickly, reads a UNION
    ALL with each ordered and limited arm inside a subselect, as it wants them."""
    params: list[Any] = []
    if connection.vendor == "postgresql":
        pairs_sql = ", ".join("(%s, %s)" for _pair in pairs) or "(NULL::bigint, NULL::text)"
        for team_id, stage in pairs:
            params += [team_id, stage]
        params.append(per_column)
        arm = _WALK.format(team="pair.team_id", stage="pair.stage")
        walked = (
            f"(VALUES {pairs_sql}) AS pair (team_id, stage) CROSS JOIN LATERAL ({arm}) AS walked"
        )
    else:
        arms = []
        for n, (team_id, stage) in enumerate(pairs):
            arms.append(f"SELECT * FROM ({_WALK.format(team='%s', stage='%s')}) AS arm{n}")
            params += [team_id, stage, per_column]
        union = " UNION ALL ".join(arms) or "SELECT NULL AS id, NULL AS stage, NULL AS value"
        walked = f"({union}) AS walked"
    numbered = (
        "SELECT walked.id, ROW_NUMBER() OVER (PARTITION BY walked.stage"
        f" ORDER BY walked.value DESC, walked.id DESC) AS nth FROM {walked}"
    )
    return f"SELECT id FROM ({numbered}) AS top WHERE top.nth <= %s", [*params, per_column]
