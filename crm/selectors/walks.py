"""The biggest leads of whole teams, read by the (team, stage, -value, -id) index one (team,
stage) at a time and stopped after a few entries each (issue 22): the board's columns and a
manager's or +2's lead list sorted biggest first, whatever the teams' size — not a numbering
or a sort of a team's 5,000 leads or a +2's 50,000."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL

# Past this many (team, stage) pairs (an admin of many teams; SQLite allows 500 arms in a
# compound SELECT) the board numbers every visible lead, and the list sorts them.
BOARD_WALKS = 200
# A list sorted biggest first walks each (team, stage) as deep as its page's last row for its
# first pages; past them (pairs × depth entries would near the teams' leads) it sorts them all.
WALKED_PAGES = 5


def id_among(ids_sql: str, params: Sequence[Any]) -> RawSQL:
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


def _walked(pairs: Sequence[tuple[int, str]], limit: int) -> tuple[str, list[Any]]:
    """The FROM clause `walked` (id, stage, value): each (team, stage)'s `limit` biggest leads.

    PostgreSQL walks the pairs with one LATERAL subquery, planned once (a UNION ALL of a +2's
    70 arms took 45 ms to plan); SQLite, which has no LATERAL and plans quickly, reads a UNION
    ALL with each ordered and limited arm inside a subselect, as it wants them."""
    params: list[Any] = []
    if connection.vendor == "postgresql":
        pairs_sql = ", ".join("(%s, %s)" for _pair in pairs) or "(NULL::bigint, NULL::text)"
        for team_id, stage in pairs:
            params += [team_id, stage]
        params.append(limit)
        arm = _WALK.format(team="pair.team_id", stage="pair.stage")
        walked = (
            f"(VALUES {pairs_sql}) AS pair (team_id, stage) CROSS JOIN LATERAL ({arm}) AS walked"
        )
    else:
        arms = []
        for n, (team_id, stage) in enumerate(pairs):
            arms.append(f"SELECT * FROM ({_WALK.format(team='%s', stage='%s')}) AS arm{n}")
            params += [team_id, stage, limit]
        union = " UNION ALL ".join(arms) or "SELECT NULL AS id, NULL AS stage, NULL AS value"
        walked = f"({union}) AS walked"
    return walked, params


def biggest_per_stage(pairs: Sequence[tuple[int, str]], per_column: int) -> tuple[str, list[Any]]:
    """The query (SQL, parameters) of the ids of each stage's `per_column` biggest leads (by
    value, then the newest id) among the given (team, stage) pairs' leads: the few hundred rows
    walked, numbered per stage (the board's columns)."""
    walked, params = _walked(pairs, per_column)
    numbered = (
        "SELECT walked.id, ROW_NUMBER() OVER (PARTITION BY walked.stage"
        f" ORDER BY walked.value DESC, walked.id DESC) AS nth FROM {walked}"
    )
    return f"SELECT id FROM ({numbered}) AS top WHERE top.nth <= %s", [*params, per_column]


def biggest(pairs: Sequence[tuple[int, str]], limit: int) -> tuple[str, list[Any]]:
    """The query (SQL, parameters) of the ids of the `limit` biggest leads (by value, then the
    newest id) among the given (team, stage) pairs' leads: every pair walked `limit` deep, the
    biggest `limit` of those kept (a lead list sorted biggest first, down to its page)."""
    walked, params = _walked(pairs, limit)
    return (
        f"SELECT walked.id FROM {walked} ORDER BY walked.value DESC, walked.id DESC LIMIT %s",
        [*params, limit],
    )
