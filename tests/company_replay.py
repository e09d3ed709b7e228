"""The `company` fixture's recording: the company is built through the services once per session
(twice: on a standing clock and on a running one), its new rows are read back and the build is
rolled back; a test then gets those rows written back into its own transaction, one INSERT per
table, with every timestamp moved so the build ends at the test's "now". Building it for real
costs about 150 queries and the services' Python, in each of about a thousand tests.

A replay writes exactly what a build would, or is not used. Every check below falls back to the
real build:
- the test is transactional (its build commits, firing the on-commit signals a replay can't) or
  its database already holds rows a build could see (another fixture wrote first);
- the clock is a time-machine traveller whose kind (standing or running) is unknown;
- at recording, a date (not a datetime) is set, or a timestamp is not the build's own clock
  (standing: all equal to it; running: within the build), so moving them would be wrong;
- at recording, an instance holds in-memory state other than its fields, relations cached
  between the company's own objects, and plain data (copied, its timestamps moved too).
A test (tests/crm/test_company_fixture.py) compares a replay with a build, row by row.
"""

from __future__ import annotations

import copy
import datetime as dt
import decimal
import enum
import warnings
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import pytest
import time_machine
from django.apps import apps
from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone, translation

from crm.models.stalls import TICK as STALL_TICK

# The standing clock's recording is made at this instant (any fixed one would do).
RECORDED_AT = dt.datetime(2025, 1, 6, 2, 0, tzinfo=dt.UTC)


@dataclass
class Table:
    model: type[models.Model]
    fields: list[models.Field[Any, Any]]
    rows: list[list[Any]]
    moved: list[int]  # indexes of the DateTimeFields among `fields`


@dataclass
class Instance:
    model: type[models.Model]
    values: list[Any]  # concrete fields' values, in _meta.concrete_fields order
    related: dict[str, str]  # a cached relation's name -> the company attribute it holds
    extra: dict[str, Any]  # other instance attributes (plain data, e.g. a prefetch cache)


@dataclass
class Recording:
    tables: list[Table]
    instances: dict[str, Instance]
    ended: dt.datetime  # the build's clock when it returned


# Filled by record(): per clock kind ("standing"/"running"), None if that build can't be replayed.
RECORDINGS: dict[str, Recording | None] = {}
# Tables with no rows after migrations: a replay needs them all still empty.
EMPTY_TABLES: list[str] = []
STATS = {"replayed": 0, "built": 0}


class Unreplayable(Exception):
    pass


def _models() -> list[type[models.Model]]:
    return [
        m
        for m in apps.get_models(include_auto_created=True)
        if m._meta.managed and not m._meta.proxy and not m._meta.swapped
    ]


def _pks(model: type[models.Model]) -> set[Any]:
    return set(model._base_manager.values_list("pk", flat=True))


def _build_time(field: models.Field[Any, Any], value: dt.datetime) -> dt.datetime:
    """The build's moment a timestamp was made from: itself, or for a lead's stall moment
    (crm.models.stalls) the idle moment it is a fixed time after — a lead with a next step
    or parked has a date, which no replay moves."""
    if field.model._meta.label == "crm.Lead" and field.name == "stalls_at":
        return value - dt.timedelta(days=settings.KAOPU_STALLED_DAYS) - STALL_TICK
    return value


def _record(build: Callable[[], Any], standing: bool) -> Recording:
    before = {m: _pks(m) for m in _models()}
    started = timezone.now()
    if standing:
        with time_machine.travel(RECORDED_AT, tick=False):
            company = build()
            ended = timezone.now()
        started = ended
    else:
        company = build()
        ended = timezone.now()
    translation.deactivate()
    timezone.deactivate()

    tables = []
    for model in _models():
        new = _pks(model) - before[model]
        if not new:
            continue
        if model._meta.parents:
            raise Unreplayable(f"{model._meta.label} inherits a table")
        cols = list(model._meta.concrete_fields)
        rows = [
            list(r)
            for r in model._base_manager.filter(pk__in=new)
            .order_by("pk")
            .values_list(*[f.attname for f in cols])
        ]
        moved = [i for i, f in enumerate(cols) if isinstance(f, models.DateTimeField)]
        for i, f in enumerate(cols):
            for r in rows:
                value = r[i]
                if value is None:
                    continue
                if i in moved:
                    if not started <= _build_time(f, value) <= ended:
                        raise Unreplayable(f"{model._meta.label}.{f.name} is not the build's time")
                elif isinstance(f, (models.DateField, models.TimeField, models.DurationField)):
                    raise Unreplayable(f"{model._meta.label}.{f.name} is a date")
        tables.append(Table(model=model, fields=cols, rows=rows, moved=moved))

    objects = {f.name: getattr(company, f.name) for f in fields(company)}
    instances = {}
    for name, obj in objects.items():
        cols = list(obj._meta.concrete_fields)
        values = [getattr(obj, f.attname) for f in cols]
        for i, f in enumerate(cols):
            dated = isinstance(f, models.DateTimeField) and values[i] is not None
            if dated and not started <= _build_time(f, values[i]) <= ended:
                raise Unreplayable(f"{name}.{f.name} is not the build's time")
        related = {}
        for cache_name, target in obj._state.fields_cache.items():
            holder = [n for n, o in objects.items() if o is target]
            if not holder:
                raise Unreplayable(f"{name}.{cache_name} caches an object outside the company")
            related[cache_name] = holder[0]
        extra = {}
        for key, value in vars(obj).items():
            if key == "_state" or key in {f.attname for f in cols}:
                continue
            if not _plain(value, started, ended):
                raise Unreplayable(f"{name}.{key} holds in-memory state other than plain data")
            extra[key] = copy.deepcopy(value)
        instances[name] = Instance(model=type(obj), values=values, related=related, extra=extra)
    return Recording(tables=tables, instances=instances, ended=ended)


PLAIN = (str, int, float, bool, decimal.Decimal, type(None), enum.Enum)


def _plain(value: Any, started: dt.datetime, ended: dt.datetime) -> bool:
    """Data a replay can copy: containers of plain values, timestamps only of the build's."""
    if isinstance(value, dt.datetime):
        return started <= value <= ended
    if isinstance(value, (list, tuple, set, frozenset)):
        return all(_plain(v, started, ended) for v in value)
    if isinstance(value, dict):
        return all(
            _plain(k, started, ended) and _plain(v, started, ended) for k, v in value.items()
        )
    return isinstance(value, PLAIN) and not isinstance(value, dt.date)


def _moved_deep(value: Any, shift: dt.timedelta) -> Any:
    """A copy of plain data (see _plain) with each timestamp moved by `shift`."""
    if isinstance(value, dt.datetime):
        return value + shift
    if isinstance(value, (list, tuple, set, frozenset)):
        return type(value)(_moved_deep(v, shift) for v in value)
    if isinstance(value, dict):
        return {_moved_deep(k, shift): _moved_deep(v, shift) for k, v in value.items()}
    return value


def record(build: Callable[[], Any]) -> None:
    """Record the company built by `build` on both clocks (called once, on the empty database)."""
    EMPTY_TABLES[:] = [m._meta.db_table for m in _models() if not m._base_manager.exists()]
    for kind in ("standing", "running"):
        with transaction.atomic():
            try:
                RECORDINGS[kind] = _record(build, standing=kind == "standing")
            except Unreplayable as why:
                RECORDINGS[kind] = None
                warnings.warn(
                    f"company fixture: built for real on a {kind} clock: {why}", stacklevel=1
                )
            transaction.set_rollback(True)


def _clock_kind() -> str | None:
    if not time_machine.escape_hatch.is_travelling():
        return "running"
    tick = getattr(time_machine.traveller_stack[-1], "_tick", None)
    if tick is None:
        return None
    return "running" if tick else "standing"


def _transactional(request: pytest.FixtureRequest) -> bool:
    # As pytest-django decides it (pytest_django.fixtures._django_db_helper).
    marker = request.node.get_closest_marker("django_db")
    if marker and (marker.kwargs.get("transaction") or marker.kwargs.get("reset_sequences")):
        return True
    names = set(request.fixturenames)
    return bool(names & {"transactional_db", "live_server", "django_db_reset_sequences"})


def _database_empty() -> bool:
    if not EMPTY_TABLES:
        return True
    qn = connection.ops.quote_name
    probe = " OR ".join(f"EXISTS (SELECT 1 FROM {qn(t)})" for t in EMPTY_TABLES)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT CASE WHEN {probe} THEN 1 ELSE 0 END")
        (found,) = cursor.fetchone()
    return found == 0


def replay(request: pytest.FixtureRequest) -> dict[str, models.Model] | None:
    """The company's objects by attribute, written into this test's transaction; None when the
    caller must build it for real."""
    kind = _clock_kind()
    recording = RECORDINGS.get(kind) if kind else None
    if (
        recording is None
        or _transactional(request)
        or not connection.in_atomic_block
        or not _database_empty()
    ):
        STATS["built"] += 1
        return None
    shift = timezone.now() - recording.ended

    def moved(values: list[Any], indexes: list[int]) -> list[Any]:
        out = copy.deepcopy(values)  # a test may change a JSON list in place
        for i in indexes:
            if out[i] is not None:
                out[i] += shift
        return out

    for table in recording.tables:
        names = [f.attname for f in table.fields]
        objs = [table.model.from_db("default", names, moved(r, table.moved)) for r in table.rows]
        table.model._base_manager._insert(objs, fields=table.fields, raw=True)  # type: ignore[attr-defined]

    objects: dict[str, models.Model] = {}
    for name, inst in recording.instances.items():
        cols = inst.model._meta.concrete_fields
        dated = [i for i, f in enumerate(cols) if isinstance(f, models.DateTimeField)]
        obj = inst.model.from_db("default", [f.attname for f in cols], moved(inst.values, dated))
        # The instance's own attributes as the build left them: none that from_db adds and the
        # build's objects lack (e.g. a loaded row a model keeps), each the build had.
        attnames = {f.attname for f in cols}
        for key in [k for k in vars(obj) if k != "_state" and k not in attnames]:
            delattr(obj, key)
        for key, value in inst.extra.items():
            setattr(obj, key, _moved_deep(value, shift))
        objects[name] = obj
    for name, inst in recording.instances.items():
        for cache_name, holder in inst.related.items():
            objects[name]._state.fields_cache[cache_name] = objects[holder]
    STATS["replayed"] += 1
    return objects
