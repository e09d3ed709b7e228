"""What the scan rules' queries share: the rows they return, a column kept off SQLite's indexes."""

from __future__ import annotations

from typing import Any

from django.db.models import Func, QuerySet

# A scan's result: plain rows (dicts) of just the columns the nudge needs.
Rows = QuerySet[Any, Any]


class Unindexed(Func):
    """A column as SQLite's planner may not search or group by it through an index
    (`+column`, SQLite's documented way to keep a term off the indexes); the column itself
    on other databases."""

    template = "%(expressions)s"

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="+%(expressions)s")
