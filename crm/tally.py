"""Reading the lead tally (crm.models.tally): a team's leads counted per owner, stage and
currency without reading the leads, and the comparison with a recount
(`manage.py check_lead_tally`)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any, NamedTuple

from crm.models import Lead, LeadTally, Team, User
from crm.models.tally import TallyKey, cents, tally_groups


class TallyRow(NamedTuple):
    """One group of leads: a team, an owner (None: the team pool), a stage and a currency. A
    named tuple: a +2's page reads a couple of thousand of them (a frozen dataclass took twice
    as long to make as the query to read them)."""

    team: int
    owner: int | None
    stage: str
    currency: str
    n: int
    value: Decimal
    rib: int
    stalled: int  # marked by the stall sweep (crm.models.stalls)


def _ids(things: Iterable[Team | User | int] | Team | User | int | None) -> list[int] | None:
    if things is None:
        return None
    if isinstance(things, (Team, User, int)):
        things = [things]
    return [thing if isinstance(thing, int) else thing.pk for thing in things]


def lead_tally(
    *,
    teams: Iterable[Team | int] | Team | int | None = None,
    owner: User | int | None = None,
) -> list[TallyRow]:
    """The groups with leads in them (empty groups left out) of `teams` (all when None), only
    `owner`'s when given, in team, owner, stage, currency order. One query on crm_leadtally
    (its unique key leads with the team): a few hundred rows for a team of any size."""
    rows = LeadTally.objects.filter(n__gt=0)
    team_ids = _ids(teams)
    if team_ids is not None:
        rows = rows.filter(team_id__in=team_ids)
    if owner is not None:
        rows = rows.filter(owner_key=owner if isinstance(owner, int) else owner.pk)
    return [
        TallyRow(team, owner_key or None, stage, currency, n, value, rib, stalled)
        for team, owner_key, stage, currency, n, value, rib, stalled in rows.order_by(
            "team_id", "owner_key", "stage", "currency"
        ).values_list("team_id", "owner_key", "stage", "currency", "n", "value", "rib", "stalled")
    ]


def lead_tally_drift(teams: Iterable[int] | None = None) -> dict[int, list[str]]:
    """Per team whose tally differs from a recount of its leads, a line per group that differs
    (kept, counted). Empty when the tally is right."""
    kept: dict[TallyKey, tuple[int, Decimal, int, int]] = {}
    rows = LeadTally.objects.all()
    leads = Lead._base_manager.all()
    if teams is not None:
        ids = list(teams)
        rows, leads = rows.filter(team_id__in=ids), leads.filter(team_id__in=ids)
    for row in rows.values_list(
        "team_id", "owner_key", "stage", "currency", "n", "value", "rib", "stalled"
    ):
        if row[4] or row[5] or row[6] or row[7]:
            kept[tuple(row[:4])] = (row[4], cents(row[5]), row[6], row[7])  # type: ignore[index]
    counted: dict[TallyKey, tuple[int, Decimal, int, int]] = {}
    for group in tally_groups(leads):
        key = (group["team_id"], group["owner_id"] or 0, group["stage"], group["currency"])
        counted[key] = (group["n"], cents(group["total"]), group["rib"], group["stalled"])
    drift: dict[int, list[str]] = {}
    for key in sorted(kept.keys() | counted.keys()):
        if kept.get(key) != counted.get(key):
            drift.setdefault(key[0], []).append(
                f"owner {key[1] or '-'} {key[2]} {key[3]}: "
                f"tally {_shown(kept.get(key))}, leads {_shown(counted.get(key))}"
            )
    return drift


def _shown(cell: Any) -> str:
    if cell is None:
        return "none"
    n, value, rib, stalled = cell
    return f"n={n} value={value} rib={rib} stalled={stalled}"
