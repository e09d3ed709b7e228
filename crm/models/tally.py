"""The lead tally: a team's leads counted by owner, stage and currency — how many, their value,
how many are chicken-rib — kept up to date in the transaction of every write, so a page that
shows counts reads a few hundred rows however many leads the team has (issue 22).

Every way a lead is written keeps it (crm.models.leads): `Lead.save()` (the lead remembers its
counted columns as loaded and applies the difference), `Lead.delete()`, and the lead queryset's
`bulk_create`, `update` and `delete` (grouped differences, one statement per batch); related
managers' `add()`/`remove()` and a user's deletion (its SET NULL of their leads' owner) too:
Lead's base manager is `objects`. A write that goes round them (raw SQL, a batch insert under
`tally_suspended`) recounts the teams it touched with `lead_tally_rebuild`.
`manage.py check_lead_tally` compares the table with a recount.

An import (crm.imports.running) runs in one long transaction: it leaves the tally alone
(`tally_suspended`) and recounts the teams it touched as its last statement, so the tally rows
it would otherwise hold locked for minutes stay free for hand-offs meanwhile.

Known limits. `Lead.save()` trusts the counted columns the instance remembers (as loaded,
refreshed or last saved): the services lock and re-read the lead before saving, and the admin
re-reads them FOR UPDATE (LeadAdmin.save_model); another caller saving a stale instance applies
a difference from what it remembers. A save whose savepoint (or transaction) is rolled back is
noticed at the lead's next save (its on-commit mark is gone), which reads the row again. The
queryset's `update`/`delete` lock their rows first on PostgreSQL and write only the leads they
counted (LeadQuerySet._locked). Raw SQL round these hooks leaves drift, which
`check_lead_tally` finds and `lead_tally_rebuild` mends; the pages that take a number from the
tally (the board, My day, a manager's unfiltered lead list) show it until then.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import connections, models, transaction

from crm.models.people import Team

# (team id, owner id or 0, stage, currency)
TallyKey = tuple[int, int, str, str]
# [leads, value, chicken-rib leads, leads marked stalled]
TallyDelta = list[Any]

CENT = Decimal("0.01")
# The lead's columns that place it in a group, and all it counts.
KEY_ATTNAMES = ("team_id", "owner_id", "stage", "currency")
COUNTED_ATTNAMES = (*KEY_ATTNAMES, "value", "is_chicken_rib", "stalled_swept")
# Rows of one upsert statement (8 parameters each: SQLite allows 32,766).
UPSERT_ROWS = 500


class LeadTally(models.Model):
    """How many leads a team has per owner (0: the team pool), stage and currency, their total
    value, how many of them are chicken-rib leads, and how many the stall sweep has marked as
    stalled (crm.models.stalls). A group emptied keeps its row at zero.
    Not shown to anyone as such (no admin page): its names stay untranslated."""

    team = models.ForeignKey(Team, verbose_name="team", on_delete=models.CASCADE, related_name="+")
    # Not a foreign key: 0 is "no owner", so the unique key has no NULL (PostgreSQL 15 and
    # SQLite count NULLs as distinct) and a departed owner's rows are moved, not nulled.
    owner_key = models.IntegerField("owner", default=0)
    stage = models.CharField("stage", max_length=16)
    currency = models.CharField("currency", max_length=3)
    n = models.IntegerField("leads", default=0)
    value = models.DecimalField("value", max_digits=20, decimal_places=2, default=Decimal("0"))
    rib = models.IntegerField("chicken-rib leads", default=0)
    stalled = models.IntegerField("leads marked stalled", default=0)

    class Meta:
        verbose_name = "lead tally"
        verbose_name_plural = "lead tallies"
        constraints = [
            models.UniqueConstraint(
                fields=["team", "owner_key", "stage", "currency"], name="leadtally_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.team_id}/{self.owner_key}/{self.stage}/{self.currency}: {self.n}"


# --- Differences -------------------------------------------------------------------------------

_suspended: ContextVar[bool] = ContextVar("lead_tally_suspended", default=False)


@contextlib.contextmanager
def tally_suspended() -> Iterator[None]:
    """Within it, the lead's own hooks leave the tally alone: the caller (a batch insert that
    may not go through bulk_create) applies the batch's difference itself."""
    token = _suspended.set(True)
    try:
        yield
    finally:
        _suspended.reset(token)


def is_suspended() -> bool:
    return _suspended.get()


def cents(value: Any) -> Decimal:
    """A lead's value as the database keeps it (two decimals)."""
    return Decimal(str(value or 0)).quantize(CENT, rounding=ROUND_HALF_UP)


def add(
    deltas: dict[TallyKey, TallyDelta],
    key: TallyKey,
    n: int,
    value: Any,
    rib: int,
    stalled: int,
) -> None:
    into = deltas.get(key)
    if into is None:
        deltas[key] = [n, Decimal(value), rib, stalled]
    else:
        into[0] += n
        into[1] += value
        into[2] += rib
        into[3] += stalled


def leads_deltas(leads: Iterable[Any], sign: int = 1) -> dict[TallyKey, TallyDelta]:
    """The difference of adding (sign 1) or removing (-1) these lead objects."""
    deltas: dict[TallyKey, TallyDelta] = {}
    for lead in leads:
        key = (lead.team_id, lead.owner_id or 0, lead.stage, lead.currency)
        add(
            deltas,
            key,
            sign,
            sign * cents(lead.value),
            sign * int(bool(lead.is_chicken_rib)),
            sign * int(bool(lead.stalled_swept)),
        )
    return deltas


def groups_deltas(
    groups: Iterable[Mapping[str, Any]], sign: int = 1, change: Mapping[str, Any] | None = None
) -> dict[TallyKey, TallyDelta]:
    """The difference of adding (sign 1) or removing (-1) grouped rows (`tally_groups`: team_id,
    owner_id, stage, currency, n, total, rib, stalled), each with `change` (attname → constant)
    applied to its leads first."""
    change = change or {}
    deltas: dict[TallyKey, TallyDelta] = {}
    for group in groups:
        row = {name: change.get(name, group[name]) for name in KEY_ATTNAMES}
        n = group["n"]
        total = cents(change["value"]) * n if "value" in change else (group["total"] or 0)
        rib = n * bool(change["is_chicken_rib"]) if "is_chicken_rib" in change else group["rib"]
        stalled = (
            n * bool(change["stalled_swept"]) if "stalled_swept" in change else group["stalled"]
        )
        key = (row["team_id"], row["owner_id"] or 0, row["stage"], row["currency"])
        add(deltas, key, sign * n, sign * cents(total), sign * rib, sign * stalled)
    return deltas


def merged(*parts: Mapping[TallyKey, TallyDelta]) -> dict[TallyKey, TallyDelta]:
    out: dict[TallyKey, TallyDelta] = {}
    for part in parts:
        for key, (n, value, rib, stalled) in part.items():
            add(out, key, n, value, rib, stalled)
    return out


def _table(connection: Any) -> str:
    return connection.ops.quote_name(LeadTally._meta.db_table)


def apply(deltas: Mapping[TallyKey, TallyDelta], *, using: str = "default") -> None:
    """Add `deltas` to the tally: one INSERT … ON CONFLICT DO UPDATE per 500 groups (PostgreSQL
    and SQLite ≥ 3.24). Call inside the transaction of the write they describe."""
    rows = [
        (team, owner, stage, currency, n, cents(value), rib, stalled)
        for (team, owner, stage, currency), (n, value, rib, stalled) in deltas.items()
        if n or value or rib or stalled
    ]
    if not rows:
        return
    connection = connections[using]
    table = _table(connection)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), UPSERT_ROWS):
            chunk = rows[start : start + UPSERT_ROWS]
            values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(chunk))
            cursor.execute(
                f"INSERT INTO {table}"
                " (team_id, owner_key, stage, currency, n, value, rib, stalled)"
                f" VALUES {values} ON CONFLICT (team_id, owner_key, stage, currency) DO UPDATE"
                # ROUND: SQLite adds decimals as REAL (0.1 + 0.2 = 0.30000000000000004); the
                # tally's value stays in cents on both databases.
                f" SET n = {table}.n + excluded.n,"
                f" value = ROUND({table}.value + excluded.value, 2),"
                f" rib = {table}.rib + excluded.rib,"
                f" stalled = {table}.stalled + excluded.stalled",
                [param for row in chunk for param in row],
            )


# The recount, as one INSERT … SELECT … GROUP BY (also crm migration 0019's fill). SQLite needs
# the WHERE for its parser when an INSERT … SELECT could be followed by ON CONFLICT; harmless.
RECOUNT = (
    "INSERT INTO crm_leadtally (team_id, owner_key, stage, currency, n, value, rib, stalled)"
    " SELECT team_id, COALESCE(owner_id, 0), stage, currency, COUNT(*), ROUND(SUM(value), 2),"
    " SUM(CASE WHEN is_chicken_rib THEN 1 ELSE 0 END),"
    " SUM(CASE WHEN stalled_swept THEN 1 ELSE 0 END)"
    " FROM crm_lead WHERE {where} GROUP BY team_id, COALESCE(owner_id, 0), stage, currency"
    # A group another transaction created since this one deleted the team's rows (its first lead
    # of that owner, stage and currency, committed meanwhile) is set to the recount rather than
    # failing the import that recounts: the recount counts the leads this statement sees.
    " ON CONFLICT (team_id, owner_key, stage, currency) DO UPDATE"
    " SET n = excluded.n, value = excluded.value, rib = excluded.rib, stalled = excluded.stalled"
)


def lead_tally_rebuild(team_ids: Iterable[int] | None = None, *, using: str = "default") -> None:
    """Recount the tally of `team_ids` (all teams when None) from their leads, in the caller's
    transaction: for a bulk write that did not go through the lead's hooks."""
    connection = connections[using]
    ids = None if team_ids is None else sorted(set(team_ids))
    if ids == []:
        return
    # No savepoint: the two statements of a team go or fail with the caller's transaction.
    with transaction.atomic(using=using, savepoint=False), connection.cursor() as cursor:
        if ids is None:
            cursor.execute(f"DELETE FROM {_table(connection)}")
            cursor.execute(RECOUNT.format(where="1 = 1"))
            return
        for start in range(0, len(ids), UPSERT_ROWS):
            chunk = ids[start : start + UPSERT_ROWS]
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(f"DELETE FROM {_table(connection)} WHERE team_id IN ({marks})", chunk)
            cursor.execute(RECOUNT.format(where=f"team_id IN ({marks})"), chunk)


def tally_groups(leads: models.QuerySet[Any]) -> models.QuerySet[Any, dict[str, Any]]:
    """`leads` counted as the tally counts them, one row per group (without a FOR UPDATE the
    queryset may carry: PostgreSQL refuses one beside an aggregate)."""
    leads = leads.order_by()
    leads.query.select_for_update = False
    return leads.values("team_id", "owner_id", "stage", "currency").annotate(
        n=models.Count("pk"),
        total=models.Sum("value"),
        rib=models.Count("pk", filter=models.Q(is_chicken_rib=True)),
        stalled=models.Count("pk", filter=models.Q(stalled_swept=True)),
    )
