"""The cockpit's lead figures from one grouped query: a team's (or several teams') leads
counted once by team, owner, stage and currency, with every count the pages show — open,
chicken-rib, stalled, handed down and won or lost in the period, wins thanked, value, and how
many existed a week ago. The rep rows, the team row and the pipeline are sums over these few
hundred rows (teams × reps × stages × currencies), so a page scans the team's leads once
however many parts it shows, and the number of rows read back does not grow with the leads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum

from coaching.models import Thanks, ThanksKind
from crm.models import Lead
from crm.pipeline import OPEN_STAGES, Stage
from crm.selectors import stalled_q

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


def lead_cube(leads: QuerySet[Lead], *, days: int, now: dt.datetime) -> LeadCube:
    """Count `leads` once, grouped by team, owner, stage and currency, for a period of `days`
    ending `now`. The conversion counts the leads handed down that closed in the period, and
    the thanks those of them won followed by a thank-you from their owner."""
    rows = cube_rows(leads, days=days, now=now)
    return LeadCube(rows=[dict(row) for row in rows], days=days, now=now)


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
