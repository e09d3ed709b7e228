"""The cockpit's lead figures as a few hundred rows: a team's (or several teams') leads counted
by team, owner, stage and currency, with every count the pages show — open, chicken-rib,
stalled, handed down and won or lost in the period, wins thanked, value, and how many existed a
week ago. The rep rows, the team row and the pipeline are sums over these rows (teams × reps ×
stages × currencies).

Given the teams (`lead_cube(..., teams=ids)`, as the pages do), the counts that do not depend on
the clock — how many, their value, chicken-rib — come from the lead tally (crm.tally, kept by
every write), and those that do from index ranges that grow with the period's activity, not
with the team: the leads created since a week ago (lead_team_created_group), the stalled ones
beyond those the stall sweep marked and the tally counts (lead_team_stalls: the last day's or
so, crm.models.stalls) and those closed in the period (lead_team_closed_group). Without the
teams (any other set of leads), one grouped query over the leads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Sum, Value

from coaching.cockpit.statements import statement
from coaching.models import Thanks, ThanksKind
from coaching.rules.queries import Unindexed
from crm.models import Lead
from crm.models.stalls import ZONE_SPREAD
from crm.pipeline import OPEN_STAGES, Stage
from crm.selectors import stalled_q
from crm.tally import lead_tally

# "Change since last week" compares today's pipeline with the one this many days ago.
CHANGE_DAYS = 7
# The counts of a rep or team row that come from the leads (Figures' attribute names).
LEAD_COUNTS = ("open_leads", "rib_open", "stalled", "handed_won", "handed_lost", "wins_thanked")


@dataclass(frozen=True)
class LeadCube:
    """The grouped rows, and the period and moment they were counted for."""

    rows: list[dict[str, Any]]
    days: int
    now: dt.datetime

    def check(self, *, days: int, now: dt.datetime) -> LeadCube:
        """This cube, if it was counted for the period and moment asked for."""
        if (days, now) != (self.days, self.now):
            raise ValueError("The lead figures were counted for another period or moment.")
        return self

    def _rows(self, key: str, owners: Iterable[int] | None) -> Iterable[dict[str, Any]]:
        keep = None if owners is None else set(owners)
        for row in self.rows:
            if row[key] is not None and (keep is None or row["owner"] in keep):
                yield row

    def counts(self, key: str, owners: Iterable[int] | None = None) -> dict[int, dict[str, int]]:
        """Per `key` ("owner" or "team"), the lead counts of its row (only the leads of
        `owners`, when given)."""
        out: dict[int, dict[str, int]] = {}
        for row in self._rows(key, owners):
            into = out.get(row[key])
            if into is None:
                into = out[row[key]] = dict.fromkeys(LEAD_COUNTS, 0)
            if row["stage"] in OPEN_STAGES:
                into["open_leads"] += row["n"]
                into["rib_open"] += row["rib"]
            for name in ("stalled", "handed_won", "handed_lost", "wins_thanked"):
                into[name] += row[name]
        return out

    def open_values(
        self, key: str, owners: Iterable[int] | None = None
    ) -> dict[int, list[tuple[str, Decimal]]]:
        """Per `key`, the open leads' value per currency, in currency order."""
        sums: dict[int, dict[str, Decimal]] = {}
        for row in self._rows(key, owners):
            if row["stage"] in OPEN_STAGES:
                by_currency = sums.setdefault(row[key], {})
                by_currency[row["currency"]] = by_currency.get(row["currency"], 0) + row["total"]
        return {group: sorted(values.items()) for group, values in sums.items()}

    def stages(self, key: str) -> dict[int, dict[str, dict[str, Any]]]:
        """Per `key` and stage: the leads today ("n"), those that existed `CHANGE_DAYS` ago
        ("before"), and the value per currency ("totals", in currency order)."""
        out: dict[int, dict[str, dict[str, Any]]] = {}
        for row in self._rows(key, None):
            cell = out.setdefault(row[key], {}).setdefault(
                row["stage"], {"n": 0, "before": 0, "totals": {}}
            )
            cell["n"] += row["n"]
            cell["before"] += row["before"]
            cell["totals"][row["currency"]] = cell["totals"].get(row["currency"], 0) + row["total"]
        for by_stage in out.values():
            for cell in by_stage.values():
                cell["totals"] = sorted(cell["totals"].items())
        return out


def lead_cube(
    leads: QuerySet[Lead],
    *,
    days: int,
    now: dt.datetime,
    teams: Sequence[int] | None = None,
) -> LeadCube:
    """Count `leads` once, grouped by team, owner, stage and currency, for a period of `days`
    ending `now`. The conversion counts the leads handed down that closed in the period, and
    the thanks those of them won followed by a thank-you from their owner. `teams`: `leads` are
    exactly these teams' leads, counted from the tally and index ranges (`tally_rows`)."""
    if teams is not None:
        return LeadCube(rows=tally_rows(teams, days=days, now=now), days=days, now=now)
    rows = cube_rows(leads, days=days, now=now)
    return LeadCube(rows=[dict(row) for row in rows], days=days, now=now)


GROUP = ("team", "owner", "stage", "currency")
CLOCK_COUNTS = ("stalled", "handed_won", "handed_lost", "wins_thanked")
ZERO = Decimal(0)


def tally_rows(teams: Sequence[int], *, days: int, now: dt.datetime) -> list[dict[str, Any]]:
    """The cube's rows for every lead of `teams`, as `cube_rows` counts them: two queries
    whose rows read do not grow with the teams' leads — the tally's groups, then three index
    ranges for what depends on the clock."""
    ids = list(teams)
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}

    def row(key: tuple[Any, ...]) -> dict[str, Any]:
        found = rows.get(key)
        if found is None:
            # One literal (GROUP, the tally's sums, CLOCK_COUNTS): a +2's page makes a couple of
            # thousand of these.
            team, owner, stage, currency = key
            found = rows[key] = {
                "team": team,
                "owner": owner,
                "stage": stage,
                "currency": currency,
                "n": 0,
                "total": ZERO,
                "before": 0,
                "rib": 0,
                "stalled": 0,
                "handed_won": 0,
                "handed_lost": 0,
                "wins_thanked": 0,
            }
        return found

    for group in lead_tally(teams=ids):
        into = row((group.team, group.owner, group.stage, group.currency))
        into["n"], into["total"], into["rib"], into["before"], into["stalled"] = (
            group.n,
            group.value,
            group.rib,
            group.n,
            group.stalled,
        )
    # Tuples, not dicts, and as the driver gives them: a +2 page's teams give a couple of
    # thousand of these rows, and Django's converters would call int() on each of their
    # 10,000 counts (ids, stages, currencies and counts need none).
    clock_rows: list[tuple[Any, ...]] = []
    if ids:  # without teams there is no query to compile (an IN of nothing)
        # Compiled once per shape (coaching.cockpit.statements): the ORM took as long to
        # compile it as the database to run it.
        sql, params = statement(clock_query, teams=ids, now=now, days=days)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            clock_rows = cursor.fetchall()
    for team, owner, stage, currency, new, stalled, won, lost, thanked in clock_rows:
        into = row((team, owner, stage, currency))
        into["before"] -= new
        into["stalled"] += stalled
        into["handed_won"] += won
        into["handed_lost"] += lost
        into["wins_thanked"] += thanked
    return list(rows.values())


def clock_query(teams: list[int], *, days: int, now: dt.datetime) -> QuerySet[Any, Any]:
    """Per group, the counts that depend on the clock, in one query of four parts (UNION ALL),
    each an index range: the leads created after `CHANGE_DAYS` ago ("new"), the stalled ones
    beside those the tally counts as marked by the stall sweep (two ranges of lead_team_stalls),
    and those handed down that closed in the period (won, lost, won and thanked). Tuples: the
    group's four columns, then `COUNTS`."""
    since = now - dt.timedelta(days=days)
    cutoff = now - dt.timedelta(days=CHANGE_DAYS)
    leads = Lead.objects.filter(team_id__in=teams).order_by()
    zero = Value(0, output_field=IntegerField())

    def counted(part: QuerySet[Lead], *, ranged: bool, **counts: Any) -> QuerySet[Any, Any]:
        # `ranged`: grouped by columns kept off SQLite's indexes, so that its planner, which has
        # no statistics, walks the part's index range rather than the whole team's entries in
        # lead_team_cube (covering, and already in group order): 45,000 entries for a +2's nine
        # teams of 5,000 against a week's 414 new leads (5.2 → 0.6 ms).
        group = {f"g{i}": Unindexed(name) if ranged else F(name) for i, name in enumerate(GROUP)}
        grouped = part.values(**group).annotate(**{name: counts.get(name, zero) for name in COUNTS})
        return grouped.values_list(*group, *COUNTS)

    created = counted(leads.filter(created_at__gt=cutoff), ranged=True, new=Count("pk"))
    # The stalled leads (crm.models.stalls): the tally counts those the sweep marked, every one
    # stalled `ZONE_SPREAD` after its stall moment. Here, the unmarked ones that may be stalled
    # by now, each checked against stalled_q in the viewer's time zone (added), and the marked
    # ones whose moment is less than `ZONE_SPREAD` past (taken off, those not stalled): none
    # unless `now` is before the sweep's. `stalled_swept IN (…)`, not `NOT stalled_swept`, so
    # that SQLite reads it as the key's second column. PostgreSQL reads both ranges from the
    # index alone (its INCLUDE columns, crm.models.leads.STALLED_COLUMNS).
    stalled_now = stalled_q(now)
    # Counted by team (never NULL), not id, which the index does not hold.
    unmarked = counted(
        leads.filter(stalled_swept__in=[False], stalls_at__lte=now),
        ranged=False,
        stalled=Count("team", filter=stalled_now),
    )
    marked = counted(
        leads.filter(stalled_swept__in=[True], stalls_at__gt=now - ZONE_SPREAD),
        ranged=False,
        stalled=Count("team", filter=stalled_now) - Count("team"),
    )
    thanked = Exists(
        Thanks.objects.filter(lead=OuterRef("pk"), kind=ThanksKind.WIN, author=OuterRef("owner"))
    )
    won = Q(stage=Stage.WON)
    closed = counted(
        leads.filter(closed_at__gte=since, handed_by__isnull=False),
        ranged=True,
        handed_won=Count("pk", filter=won),
        handed_lost=Count("pk", filter=Q(stage=Stage.LOST)),
        wins_thanked=Count("pk", filter=won & Q(thanked)),
    )
    return created.union(unmarked, marked, closed, all=True).order_by()


# The clock's counts, in the order of each part's columns.
COUNTS = ("new", *CLOCK_COUNTS)


def cube_rows(leads: QuerySet[Lead], *, days: int, now: dt.datetime) -> QuerySet[Any, Any]:
    """The cube's grouped query. Every column it reads is in the lead_team_cube index (crm
    migration 0016), in group order: the count walks a team's index entries, not the table."""
    since = now - dt.timedelta(days=days)
    cutoff = now - dt.timedelta(days=CHANGE_DAYS)
    thanked = Exists(
        Thanks.objects.filter(lead=OuterRef("pk"), kind=ThanksKind.WIN, author=OuterRef("owner"))
    )
    closed = Q(handed_by__isnull=False, closed_at__gte=since)
    return (
        leads.order_by()
        .values("team", "owner", "stage", "currency")
        .annotate(
            n=Count("pk"),
            total=Sum("value"),
            before=Count("pk", filter=Q(created_at__lte=cutoff)),
            rib=Count("pk", filter=Q(is_chicken_rib=True)),
            stalled=Count("pk", filter=stalled_q(now)),
            handed_won=Count("pk", filter=closed & Q(stage=Stage.WON)),
            handed_lost=Count("pk", filter=closed & Q(stage=Stage.LOST)),
            wins_thanked=Count("pk", filter=closed & Q(stage=Stage.WON) & Q(thanked)),
        )
    )
