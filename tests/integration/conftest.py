from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from coaching.models import NotificationPreference
from crm.models import Role, Team, User
from crm.services import rep_join_team
from tests.factories import make_user
from tests.integration.harness import Mailbox, Processes, RedisServer, smtp_server

MACHINE_REDIS = os.environ.get("KAOPU_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")


def _require(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    with smtp_server() as served:
        yield served


@pytest.fixture
def machine_redis() -> str:
    """The machine's Redis (6379), on a database number of its own, emptied first."""
    import redis

    client = redis.Redis.from_url(MACHINE_REDIS, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError:
        _require(f"Redis is not reachable at {MACHINE_REDIS}")
    client.flushdb()
    return MACHINE_REDIS


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    """A redis-server of the test's own, which it may stop or hang."""
    try:
        server = RedisServer()
    except RuntimeError as error:
        _require(str(error))
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[list[Processes]]:
    started: list[Processes] = []
    yield started
    for group in started:
        group.stop_all()


def eager_people(n_reps: int = 1, prefix: str = "rep") -> tuple[User, list[User], Team]:
    """A manager and reps whose every high-priority nudge is emailed at once: no daily
    budget to speak of and no quiet hours."""
    manager = make_user(username=f"{prefix}-manager", role=Role.MANAGER)
    team = Team.objects.create(name=f"{prefix} team", manager=manager)
    reps = []
    for i in range(n_reps):
        rep = make_user(username=f"{prefix}{i}", role=Role.REP)
        rep_join_team(user=rep, team=team)
        reps.append(rep)
    for person in [manager, *reps]:
        NotificationPreference.objects.create(
            user=person,
            daily_push_budget=1000,
            quiet_start=dt.time(0, 0),
            quiet_end=dt.time(0, 0),
        )
    return manager, reps, team
