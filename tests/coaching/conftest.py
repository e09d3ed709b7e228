"""Fixtures for the coach's tests: a frozen clock (moved on with `clock.move_to`/`clock.shift`).
Fast password hashing is set for the whole suite in tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import time_machine

from tests.coaching.helpers import START


@pytest.fixture(autouse=True)
def clock() -> Iterator[time_machine.Traveller]:
    """Every coaching test starts on Monday 3 March 2025, 10:00 in Shanghai, with time standing
    still until the test moves it (so `company` is built at START too)."""
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller
