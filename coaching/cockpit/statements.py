"""A cockpit query compiled once per shape instead of once per page.

The clock's query (coaching.cockpit.cube.clock_query) is three grouped parts in a UNION ALL
with a correlated EXISTS: the ORM took 3 ms to compile it, as long as the database took to run
it for a +2's nine teams. Its SQL depends only on its shape — the database, how many teams,
the period, the stalled threshold, the time zone — and its parameters only on the teams and
the clock. So it is compiled twice per shape, at two made-up moments for two made-up sets of
teams; each parameter that differs between the two is a team (by its place in the list), a
moment (a fixed distance from now) or a day (a fixed number of days from today), and the rest
are constants. A page then fills the parameters in from its own teams and clock.

A parameter that fits none of these, or SQL that differs between the two compilations, leaves
that shape uncached: the page compiles the query as before. tests/coaching/test_cockpit_tally.py
compares the filled-in statement with a fresh compilation on both databases.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

# Two made-up moments and two made-up runs of team ids (counting down from `base`): no real id
# is negative, and the moments are decades before any lead.
PROBES = (
    (dt.datetime(2001, 1, 1, 12, 0, tzinfo=dt.UTC), -(10**15)),
    (dt.datetime(2002, 2, 5, 17, 30, 15, tzinfo=dt.UTC), -(2 * 10**15)),
)

Build = Callable[..., QuerySet[Any, Any]]
Slot = tuple[str, Any]  # ("same", value) | ("team", index) | ("time", timedelta) | ("date", days)


def statement(
    build: Build, *, teams: Sequence[int], now: dt.datetime, **shape: Hashable
) -> tuple[str, list[Any]]:
    """The SQL and parameters of `build(teams, now=now, **shape)`, as the ORM would compile
    them, from the shape's compiled statement."""
    template = _template(
        build,
        connection.vendor,
        len(teams),
        tuple(sorted(shape.items())),
        settings.KAOPU_STALLED_DAYS,
        timezone.get_current_timezone_name(),
    )
    if template is None:
        sql, compiled = build(list(teams), now=now, **shape).query.sql_with_params()
        return sql, list(compiled)
    sql, slots = template
    ops = connection.ops
    today = timezone.localdate(now)
    params: list[Any] = []
    for kind, value in slots:
        if kind == "same":
            params.append(value)
        elif kind == "team":
            params.append(teams[value])
        elif kind == "time":
            params.append(ops.adapt_datetimefield_value(now + value))
        else:
            params.append(ops.adapt_datefield_value(today + dt.timedelta(days=value)))
    return sql, params


@functools.lru_cache(maxsize=64)
def _template(
    build: Build,
    vendor: str,
    n_teams: int,
    shape: tuple[tuple[str, Hashable], ...],
    stalled_days: int,
    zone: str,
) -> tuple[str, tuple[Slot, ...]] | None:
    """The statement of one shape and what each parameter is, or None when a parameter cannot
    be told apart. The arguments past `build` are the cache's key: what the SQL depends on."""
    compiled = []
    for moment, base in PROBES:
        teams = [base - i for i in range(n_teams)]
        compiled.append(build(teams, now=moment, **dict(shape)).query.sql_with_params())
    (sql, first), (other_sql, second) = compiled
    if sql != other_sql or len(first) != len(second):
        return None
    slots = []
    for one, two in zip(first, second, strict=True):
        slot = _slot(one, two, n_teams)
        if slot is None:
            return None
        slots.append(slot)
    return sql, tuple(slots)


def _slot(one: Any, two: Any, n_teams: int) -> Slot | None:
    """What a parameter is, from its values in the two compilations."""
    (now_1, base_1), (now_2, base_2) = PROBES
    if type(one) is type(two) and one == two:
        return ("same", one)
    if isinstance(one, int) and isinstance(two, int) and not isinstance(one, bool):
        place = base_1 - one
        return ("team", place) if 0 <= place < n_teams and base_2 - two == place else None
    moment_1, moment_2 = _moment(one), _moment(two)
    if isinstance(moment_1, dt.datetime) and isinstance(moment_2, dt.datetime):
        gap = moment_1 - now_1
        return ("time", gap) if moment_2 - now_2 == gap else None
    if isinstance(moment_1, dt.date) and isinstance(moment_2, dt.date):
        days = (moment_1 - timezone.localdate(now_1)).days
        return ("date", days) if (moment_2 - timezone.localdate(now_2)).days == days else None
    return None


def _moment(value: Any) -> dt.datetime | dt.date | None:
    """A parameter as a moment (aware) or a day: as compiled (PostgreSQL) or as text (SQLite
    keeps moments in UTC, as '2001-01-01 12:00:00', days as '2001-01-01')."""
    if isinstance(value, str):
        try:
            value = (
                dt.date.fromisoformat(value)
                if len(value) == 10
                else dt.datetime.fromisoformat(value)
            )
        except ValueError:
            return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    return value if isinstance(value, dt.date) else None
