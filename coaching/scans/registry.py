"""What a scan works on (ScanInput) and the scans by the playbook's name for them (SCANS, @scan)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db.models import Model, QuerySet

from coaching import playbook, rules
from coaching.rules import NudgeSpec
from crm.models import Lead, User

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class ScanInput:
    """What one scan of one rule over one group of teams works on."""

    rule: playbook.Rule
    t: dict[str, int]
    leads: QuerySet[Lead]
    reps: QuerySet[User]
    now: dt.datetime
    today: dt.date
    team_ids: list[int] | None = None
    exclude: list[int] | None = None
    # A folded rule's (FOLDED) teams with their own thresholds; `t` holds the other teams'.
    team_t: dict[int, dict[str, int]] | None = None
    # A FOLDED rule's large recent hand-offs, read once for all of them (rules.recent_batches),
    # and the teams that switched the rule off (counted there, but not among `leads`).
    batches: list[rules.Batch] | None = None
    left_out: list[int] | None = None

    @property
    def clock(self) -> dict[str, Any]:
        """The keyword arguments of coaching.rules' scan queries."""
        return {"now": self.now, "today": self.today, "t": self.t}

    @property
    def folded(self) -> dict[str, Any]:
        """The keyword arguments of a FOLDED rule's query besides the clock."""
        return {"team_t": self.team_t, "batches": self.batches, "left_out": self.left_out or ()}

    def in_teams(self, queryset: QuerySet[M], team_field: str) -> QuerySet[M]:
        """`queryset` narrowed to this group's teams, through `team_field`."""
        if self.team_ids is not None:
            queryset = queryset.filter(**{f"{team_field}__in": self.team_ids})
        if self.exclude:
            queryset = queryset.exclude(**{f"{team_field}__in": self.exclude})
        return queryset


Scan = Callable[[ScanInput], list[NudgeSpec]]
SCANS: dict[str, Scan] = {}


def scan(name: str) -> Callable[[Scan], Scan]:
    """Register the decorated function as the scan called `name` in the playbook."""

    def register(function: Scan) -> Scan:
        if name in SCANS:
            raise ValueError(f"scan '{name}' is registered twice")
        SCANS[name] = function
        return function

    return register


def _person(row: Mapping[str, Any], prefix: str = "") -> str:
    return row.get(f"{prefix}display_name") or row.get(f"{prefix}username") or ""
