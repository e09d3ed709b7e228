"""The director's ranking: every rep of the director's teams in one table, sorted by any of
its columns. The sort comes from the query string and is allow-listed; anything else falls back
to the default (the on-time share, best first). Reps without a figure sort last either way."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from coaching.cockpit.figures import Figures

# Column → the value it sorts by. A missing figure (None) always sorts after the others.
SORTS: dict[str, Callable[[Figures], object]] = {
    "name": lambda r: r.name.casefold(),
    "team": lambda r: r.team_name.casefold(),
    "on_time": lambda r: r.on_time_share,
    "quality": lambda r: r.quality,
    "nudges": lambda r: r.nudges_share,
    "conversion": lambda r: r.conversion,
    "thanks": lambda r: r.thanks_share,
    "open_leads": lambda r: r.open_leads,
    "stalled": lambda r: r.stalled,
    "last_report": lambda r: r.days_since_report,
    "help": lambda r: r.only_asks_help,
}
DEFAULT_SORT = "-on_time"


@dataclass(frozen=True)
class Sort:
    """The sort asked for: a column of SORTS, and whether it runs high to low."""

    column: str
    descending: bool

    @property
    def param(self) -> str:
        return f"-{self.column}" if self.descending else self.column

    def toggled(self, column: str) -> str:
        """The query value a header link carries: the other direction for the column sorted
        now, and for another column its natural first direction (figures high to low, names
        A to Z, days since the last report fewest first)."""
        if column == self.column:
            return column if self.descending else f"-{column}"
        return column if column in ("name", "team", "last_report") else f"-{column}"


def sort_from(raw: object) -> Sort:
    """The sort in the query string if it names a column we offer; the default otherwise."""
    text = str(raw or "")
    column = text.removeprefix("-")
    if column not in SORTS:
        text = DEFAULT_SORT
        column = text.removeprefix("-")
    return Sort(column=column, descending=text.startswith("-"))


def ranked(rows: list[Figures], sort: Sort) -> list[Figures]:
    """The rows in the order asked for, missing figures last; ties by name, then id."""
    key = SORTS[sort.column]
    known = [row for row in rows if key(row) is not None]
    missing = [row for row in rows if key(row) is None]
    by_name = sorted(known, key=lambda r: (r.name.casefold(), r.key))
    out = sorted(by_name, key=key, reverse=sort.descending)  # type: ignore[arg-type]
    return out + sorted(missing, key=lambda r: (r.name.casefold(), r.key))
