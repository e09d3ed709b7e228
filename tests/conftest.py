"""Shared fixtures: a small company built through the same code paths the app uses."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.test import Client, override_settings
from django.utils import timezone, translation
from pytest_django import DjangoDbBlocker

from crm import services
from crm.models import Lead, Role, Team, User
from tests import company_replay
from tests.factories import hand_off, lead_new, make_user

# Settings every test runs with, set once for the session (a test may still change them with
# the `settings` fixture; its change is undone after that test).
TEST_SETTINGS: dict[str, object] = {
    # Fixtures hash a password per user; the default hasher makes that take seconds.
    "PASSWORD_HASHERS": ["django.contrib.auth.hashers.MD5PasswordHasher"],
    # Tests render pages without running collectstatic first.
    "STORAGES": {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    },
}


def pytest_configure(config: pytest.Config) -> None:
    # The SQLite test database is a file here, shared with real worker processes.
    (Path(__file__).resolve().parent.parent / "var").mkdir(exist_ok=True)
    override_settings(**TEST_SETTINGS).enable()


@pytest.fixture(autouse=True)
def _fresh_language_and_zone() -> object:
    # A request activates its user's language and zone in this thread; don't leak it.
    yield
    translation.deactivate()
    timezone.deactivate()


@dataclass
class Company:
    """Two teams under one director, plus a second director and an admin who see other things."""

    admin: User
    director: User
    other_director: User
    manager_a: User
    manager_b: User
    rep_a1: User
    rep_a2: User
    rep_b1: User
    team_a: Team
    team_b: Team
    lead_a1: Lead  # owned by rep_a1
    lead_a2: Lead  # owned by rep_a2
    lead_a_pool: Lead  # team A, unassigned
    lead_b1: Lead  # owned by rep_b1

    @property
    def people(self) -> dict[str, User]:
        return {
            "admin": self.admin,
            "director": self.director,
            "other_director": self.other_director,
            "manager_a": self.manager_a,
            "manager_b": self.manager_b,
            "rep_a1": self.rep_a1,
            "rep_a2": self.rep_a2,
            "rep_b1": self.rep_b1,
        }

    @property
    def leads(self) -> dict[str, Lead]:
        return {
            "lead_a1": self.lead_a1,
            "lead_a2": self.lead_a2,
            "lead_a_pool": self.lead_a_pool,
            "lead_b1": self.lead_b1,
        }


def build_company() -> Company:
    """The company built through the services, as every test once did for itself."""
    admin = make_user(username="admin", role=Role.ADMIN, is_staff=True, is_superuser=True)
    director = make_user(username="director", role=Role.DIRECTOR)
    other_director = make_user(username="other_director", role=Role.DIRECTOR)
    manager_a = make_user(username="manager_a", role=Role.MANAGER)
    manager_b = make_user(username="manager_b", role=Role.MANAGER)
    team_a = Team.objects.create(name="Team A", manager=manager_a, director=director)
    team_b = Team.objects.create(name="Team B", manager=manager_b, director=director)
    rep_a1 = make_user(username="rep_a1", role=Role.REP)
    rep_a2 = make_user(username="rep_a2", role=Role.REP)
    rep_b1 = make_user(username="rep_b1", role=Role.REP)
    services.rep_join_team(user=rep_a1, team=team_a)
    services.rep_join_team(user=rep_a2, team=team_a)
    services.rep_join_team(user=rep_b1, team=team_b)
    lead_a1 = lead_new(manager_a, "Alpha Robotics")
    lead_a2 = lead_new(manager_a, "华润科技有限公司")
    lead_a_pool = lead_new(manager_a, "Pool Foods")
    lead_b1 = lead_new(manager_b, "Bravo Medical")
    hand_off(manager_a, lead_a1, to=rep_a1)
    hand_off(manager_a, lead_a2, to=rep_a2)
    hand_off(manager_b, lead_b1, to=rep_b1)
    return Company(
        admin=admin,
        director=director,
        other_director=other_director,
        manager_a=manager_a,
        manager_b=manager_b,
        rep_a1=rep_a1,
        rep_a2=rep_a2,
        rep_b1=rep_b1,
        team_a=team_a,
        team_b=team_b,
        lead_a1=lead_a1,
        lead_a2=lead_a2,
        lead_a_pool=lead_a_pool,
        lead_b1=lead_b1,
    )


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: DjangoDbBlocker) -> None:
    """The test database as pytest-django makes it, plus the company's recordings (see
    tests/company_replay.py): built twice through the services and rolled back."""
    with django_db_blocker.unblock():
        company_replay.record(build_company)


@pytest.fixture
def company(request: pytest.FixtureRequest, db: None) -> Company:
    """The company, fresh for this test: its recorded rows written back in one INSERT per table
    when that gives exactly what `build_company()` would write now, else built for real."""
    replayed = company_replay.replay(request)
    if replayed is not None:
        return Company(**replayed)  # type: ignore[arg-type]
    return build_company()


@pytest.fixture
def client_for(client: Client):  # type: ignore[no-untyped-def]
    """A logged-in test client for a user, in English unless asked otherwise."""

    def login(user: User, language: str = "en") -> Client:
        if user.language != language:
            user.language = language
            user.save(update_fields=["language"])
        fresh = Client()
        fresh.force_login(user)
        return fresh

    return login


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if os.environ.get("KAOPU_COMPANY_STATS"):
        terminalreporter.write_line(f"company fixture: {company_replay.STATS}")
