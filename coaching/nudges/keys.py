"""Looking nudge keys up in one statement, whatever their number."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection
from django.db.models.expressions import RawSQL

from coaching.models import Nudge

CHUNK = 400  # keys per IN (...) list where _key_set has no one-parameter table (not SQLite/PG)


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _key_set(keys: Sequence[str]) -> RawSQL | None:
    """`keys` as a one-column table passed in one parameter (a JSON array on SQLite, a text
    array on PostgreSQL), so that looking up any number of keys is one statement; None on
    another database, which then looks them up in chunks of CHUNK."""
    if connection.vendor == "sqlite":
        return RawSQL("SELECT value FROM json_each(%s)", [json.dumps(list(keys))])
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::text[]) AS value", [list(keys)])
    return None


def _missing(keys: Sequence[str]) -> set[str]:
    """The keys among `keys` that no nudge has yet: one anti-join against the key's unique
    index, whatever the number of keys."""
    table = _key_set(keys)
    if table is None:
        existing: set[str] = set()
        for chunk in _chunks(keys):
            existing.update(Nudge.objects.filter(key__in=chunk).values_list("key", flat=True))
        return set(keys) - existing
    nudges, key = (connection.ops.quote_name(n) for n in (Nudge._meta.db_table, "key"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT k.value FROM ({table.sql}) AS k "
            f"WHERE NOT EXISTS (SELECT 1 FROM {nudges} n WHERE n.{key} = k.value)",
            table.params,
        )
        return {row[0] for row in cursor.fetchall()}
