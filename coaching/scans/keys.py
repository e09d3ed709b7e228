"""A finding's nudge key in SQL, so that a scan reads back only the findings not nudged yet."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import (
    CharField,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    Lookup,
    OuterRef,
    Value,
)

from coaching import rules
from coaching.models import Nudge
from coaching.scans.registry import ScanInput


class _UtcDay(Func):
    """A moment's UTC date as ISO text, as `moment.date().isoformat()` writes it in Python: on
    SQLite the first ten characters of the stored UTC text (TruncDate would call a Python
    function per row), on PostgreSQL to_char at UTC."""

    output_field = CharField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="substr(%(expressions)s, 1, 10)")

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
        return self.as_sql(compiler, connection, template=template)


def _utc_day(field: str) -> Func:
    return _UtcDay(field)


class _Unmade(Lookup):
    """On SQLite: the row's nudge key, written in SQL as NudgeSpec.key writes it
    (rule|lead:id|recipient|period), NOT IN the nudges' keys, which SQLite answers from the
    key's unique index alone. NOT EXISTS by columns probed the nudge table through each
    found lead's index and read all that lead's nudges (a steady scan's report_due: 450 ->
    ~200 ms on the bench); a NOT IN of (lead, recipient, period) rows made SQLite scan the
    whole list for NULLs at every row not found (9.7 s for a first scan's report_due), as
    lead_id may be NULL; the key never is. A Lookup, so that it stands bare in the WHERE
    clause (Django compares a plain boolean expression with 1 on SQLite)."""

    lookup_name = "unmade"
    prepare_rhs = False

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        key, params = compiler.compile(self.lhs)
        table, column = (connection.ops.quote_name(n) for n in (Nudge._meta.db_table, "key"))
        return f"{key} NOT IN (SELECT {column} FROM {table})", params


def _sql_key(prefix: str, recipient: str, period: Any) -> Func:
    """NudgeSpec.key of a row in SQL: `prefix` ("rule|lead:" or "rule|report:"), the row's
    `pk`, the `recipient` field and the `period` expression."""
    parts = [Value(prefix), F("pk"), Value("|"), F(recipient), Value("|"), period]
    return Func(*parts, template="(%(expressions)s)", arg_joiner=" || ", output_field=CharField())


def _not_yet(rows: rules.Rows, s: ScanInput, period: Any) -> rules.Rows:
    """The rows of a lead rule (`pk` the lead, `owner_id` the one told) whose nudge does not
    exist yet: NOT EXISTS a nudge of this rule on the lead, to the owner, for `period` (an
    expression over the row, as text). A nudge's columns are the parts of its unique key
    (NudgeSpec.key: rule|lead:id|recipient|period) and never change after it is made, so this
    finds exactly the keys that exist; it probes the nudge's (lead, state) index, or hashes
    this rule's nudges, instead of writing and hashing a key string per lead and per nudge. A
    steady scan then reads back only what is new, not every finding (55k report_due rows at
    100k leads) for create_nudges to skip. On SQLite the row's key NOT IN the nudges' keys
    (_Unmade), which the key's unique index answers alone."""
    if connection.vendor == "sqlite":
        return rows.alias(nudge_period=period).filter(
            _Unmade(_sql_key(f"{s.rule.id}|lead:", "owner_id", F("nudge_period")), True)
        )
    # The recipient as `recipient_id + 0`, which no index serves: SQLite otherwise probes the
    # recipient's index and reads all of that person's nudges (hundreds) for every lead,
    # instead of the lead's few through (lead, state).
    made = Nudge.objects.alias(
        to=ExpressionWrapper(F("recipient_id") + 0, output_field=IntegerField())
    ).filter(
        lead_id=OuterRef("pk"),
        rule_id=s.rule.id,
        to=OuterRef("owner_id"),
        period=OuterRef("nudge_period"),
    )
    return rows.alias(nudge_period=period).exclude(Exists(made))
