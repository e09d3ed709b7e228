"""Fixtures for the coach's tests: a frozen clock (moved on with `clock.move_to`/`clock.shift`)
and fast password hashing for the shared `company` fixture."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import time_machine

from tests.coaching.helpers import START


@pytest.fixture(autouse=True)
def _fast_passwords(settings: object) -> None:
    # The company fixture hashes eight passwords; the default hasher makes that take seconds.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def clock() -> Iterator[time_machine.Traveller]:
    """Every coaching test starts on Monday 3 March 2025, 10:00 in Shanghai, with time standing
    still until the test moves it (so `company` is built at START too)."""
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller
