"""The `company` fixture replays a recording of the company (tests/company_replay.py): these
tests hold the replay to what building it through the services writes, row by row."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.apps import apps
from django.contrib.auth.hashers import check_password
from django.db import connection, models, transaction

from tests import company_replay
from tests.conftest import Company, build_company
from tests.factories import make_user

Dump = dict[str, list[dict[str, Any]]]
# Columns holding an id with no foreign key (compared on SQLite, where both builds get the same).
IDS_WITHOUT_A_KEY = {"object_id", "owner_key"}


def dump(company: Company, *, times: str) -> tuple[Dump, dict[str, Any]]:
    """Every row of every table, and the company's objects (fields and cached relations).
    Ids become their rank in their table, as PostgreSQL's sequences differ between two builds;
    with times="rank", timestamps become their rank among all timestamps (a running clock)."""
    rank: dict[str, dict[Any, int]] = {}
    tables: Dump = {}
    for model in apps.get_models(include_auto_created=True):
        label = model._meta.label
        rows = list(model._base_manager.order_by("pk").values())
        rank[label] = {r["id"]: i for i, r in enumerate(rows)} if rows and "id" in rows[0] else {}
        if rows:
            tables[label] = rows
    stamps = sorted(
        {
            v
            for rows in tables.values()
            for r in rows
            for v in r.values()
            if isinstance(v, dt.datetime)
        }
    )

    def norm(model: type[models.Model], row: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for f in model._meta.concrete_fields:
            v = row[f.attname]
            if f.attname == "password":  # salted afresh by each hashing
                v = check_password("correct-horse-battery", v)
            elif v is not None and f.primary_key and f.attname == "id":
                v = rank[model._meta.label][v]
            elif v is not None and f.is_relation and f.related_model is not None:
                v = rank[f.related_model._meta.label].get(v, ("outside", v))
            elif isinstance(v, dt.datetime) and times == "rank":
                v = stamps.index(v)
            elif connection.vendor != "sqlite" and (
                isinstance(f, models.JSONField) or f.attname in IDS_WITHOUT_A_KEY
            ):
                v = "(holds ids: compared on SQLite, where both builds get the same ones)"
            out[f.attname] = v
        return out

    def plain(v: Any) -> Any:
        """An instance's other attribute (e.g. the lead tally's remembered columns): ids are
        the same only on SQLite, as in `norm`."""
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dt.datetime) and times == "rank":
            return stamps.index(v)
        if isinstance(v, int) and not isinstance(v, bool) and connection.vendor != "sqlite":
            return "(an id or a number: compared on SQLite)"
        return v

    rows_out = {
        label: [norm(apps.get_model(label), r) for r in rows] for label, rows in tables.items()
    }
    objects = {}
    for name, obj in vars(company).items():
        values = {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}
        cached = obj._state.fields_cache.items()
        objects[name] = (
            type(obj),
            norm(type(obj), values),
            {k: v if v is None else rank[v._meta.label][v.pk] for k, v in cached},
            {k: plain(v) for k, v in vars(obj).items() if k != "_state" and k not in values},
            obj._state.adding,
        )
    return rows_out, objects


def replayed_and_built(request: pytest.FixtureRequest, *, times: str) -> tuple[Any, Any]:
    with transaction.atomic():
        objects = company_replay.replay(request)
        assert objects is not None, "the company was built, not replayed"
        replayed = dump(Company(**objects), times=times)  # type: ignore[arg-type]
        transaction.set_rollback(True)
    with transaction.atomic():
        built = dump(build_company(), times=times)
        transaction.set_rollback(True)
    return replayed, built


@pytest.mark.django_db
def test_replay_on_a_standing_clock_writes_what_a_build_writes(
    request: pytest.FixtureRequest,
) -> None:
    with time_machine.travel(dt.datetime(2025, 3, 3, 2, 0, tzinfo=dt.UTC), tick=False):
        replayed, built = replayed_and_built(request, times="exact")
    assert replayed == built
    rows, _ = built
    assert [len(rows[t]) for t in ("crm.User", "crm.Lead", "crm.LeadEvent")] == [8, 4, 7]


@pytest.mark.django_db
def test_replay_on_a_running_clock_keeps_the_build_order_of_every_timestamp(
    request: pytest.FixtureRequest,
) -> None:
    replayed, built = replayed_and_built(request, times="rank")
    assert replayed == built


def test_replayed_company_ends_at_the_test_clock(company: Company) -> None:
    from django.utils import timezone

    now = timezone.now()
    stamps = [company.lead_b1.updated_at, company.lead_a1.created_at, company.admin.date_joined]
    assert all(now - dt.timedelta(seconds=5) < s <= now for s in stamps)
    assert company.rep_a1.team == company.team_a  # cached, as a build leaves it
    assert company.rep_a1._state.fields_cache["team"] is company.team_a


def test_a_database_with_rows_gets_a_real_build(db: None, request: pytest.FixtureRequest) -> None:
    make_user(username="early")
    assert company_replay.replay(request) is None
    built = build_company()
    assert built.admin.pk > 0 and built.lead_b1.owner == built.rep_b1
