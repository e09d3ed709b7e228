"""The day loop: build the company, then replay each day with the real coach.

A working day, in the company's time zone: the beat's scans at 07:00, 12:00 and 17:00; held
emails go out when quiet hours end (08:00); digests at 08:30; reps act on the coach from 09:00
and work their leads from 14:00; managers answer at 10:30 and 16:00; directors read at 11:30;
open cards are counted at 18:00; every third day some good reps log a late visit at 21:30, whose
push must wait for quiet hours. Each person's action is followed by the event worker at the
beat's next tick. A weekend day has the scans and the digest only. After the last working day
comes one more morning, so that what it held back is delivered and measured.

Everything runs in one transaction that is rolled back unless `keep` is asked for, so a run
leaves the database as it found it.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import time_machine
from django.db import transaction
from django.test import override_settings

from coaching.simulation import company as building
from coaching.simulation import config as c
from coaching.simulation import measure, people
from coaching.simulation.clock import Clock, Session
from coaching.simulation.company import Company, Person
from coaching.simulation.config import Config

# The simulation never sends real mail: messages are rendered, then dropped.
NO_MAIL = {"default": {"BACKEND": "django.core.mail.backends.dummy.EmailBackend"}}
SETUP_DAYS_BEFORE = 21


class _Rollback(Exception):
    """Raised to undo the whole run at the end."""


@dataclass
class Result:
    """A finished run: its company, calendar and figures, and what it cost."""

    config: Config
    company: Company
    calendar: measure.Calendar
    figures: measure.Figures
    seconds: float = 0.0  # wall time
    cpu_seconds: float = 0.0  # this process's CPU time (Python, and SQLite which runs in it)
    setup_seconds: float = 0.0
    actions: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)


def working_days(start: dt.date, count: int) -> list[dt.date]:
    days: list[dt.date] = []
    day = start
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def _spread(
    clock: Clock,
    day: dt.date,
    at: dt.time,
    group: list[Person],
    minutes: int,
    session: Callable[[Person], Session],
) -> list[tuple[dt.datetime, str, Session]]:
    """Sessions of a group of people, their start times spread evenly over `minutes`."""
    begin = clock.local(day, at)
    count = max(len(group), 1)
    return [
        (begin + dt.timedelta(seconds=minutes * 60 * n / count), p.persona, session(p))
        for n, p in enumerate(group)
    ]


def _morning(clock: Clock, company: Company, day: people.Day, date: dt.date) -> None:
    reps = company.of(*c.REP_PERSONAS)
    managers = company.of(*c.MANAGER_PERSONAS)
    directors = company.of(c.DIRECTOR)
    sessions = (
        _spread(clock, date, c.REP_MORNING, reps, 90, lambda p: people.rep_morning(p, day))
        + _spread(
            clock, date, c.MANAGER_MORNING, managers, 30, lambda p: people.manager_session(p, day)
        )
        + _spread(
            clock, date, c.DIRECTOR_TIME, directors, 10, lambda p: people.director_session(p, day)
        )
    )
    clock.run_sessions(sessions, c.STEP_SECONDS)


def _afternoon(clock: Clock, company: Company, day: people.Day, date: dt.date) -> None:
    reps = company.of(*c.REP_PERSONAS)
    managers = company.of(*c.MANAGER_PERSONAS)
    answering = [m for m in managers if m.persona == c.ANSWERS]
    sessions = _spread(
        clock, date, c.REP_AFTERNOON, reps, 90, lambda p: people.rep_afternoon(p, day)
    ) + _spread(
        clock,
        date,
        c.MANAGER_AFTERNOON,
        answering,
        30,
        lambda p: people.manager_session(p, day, hand_out=False),
    )
    clock.run_sessions(sessions, c.STEP_SECONDS)


def _evening(clock: Clock, company: Company, day: people.Day, date: dt.date) -> None:
    if day.number % 3:
        return
    late = company.of(c.GOOD)[day.number % 5 :: 5]
    sessions = _spread(clock, date, c.EVENING, late, 20, lambda p: people.rep_evening(p, day))
    clock.run_sessions(sessions, c.STEP_SECONDS)


def _coach_morning(clock: Clock, date: dt.date, result: Result) -> None:
    clock.scan(clock.local(date, c.SCAN_TIMES[0]))
    clock.deliver(clock.local(date, c.QUIET_END_TIME))
    clock.digests(clock.local(date, c.DIGEST_TIME))
    day = result.calendar.day_of(clock.now)
    measure.record_digests(result.figures, day, clock.now)


def _working_day(clock: Clock, result: Result, day: people.Day, date: dt.date) -> dict[int, int]:
    company = result.company
    _coach_morning(clock, date, result)
    _morning(clock, company, day, date)
    clock.scan(clock.local(date, c.SCAN_TIMES[1]))
    _afternoon(clock, company, day, date)
    clock.scan(clock.local(date, c.SCAN_TIMES[2]))
    clock.advance(clock.local(date, c.SNAPSHOT_TIME))
    cards = measure.open_cards([p.user for p in company.people.values()])
    _evening(clock, company, day, date)
    return cards


def _replay(
    config: Config,
    clock: Clock,
    company: Company,
    result: Result,
    progress: Callable[[str], None],
) -> None:
    """Every calendar day from the first working day to the morning after the last: the
    coach's morning on any day, people on working days; open cards counted each evening."""
    rng = random.Random(config.seed + 1)
    began = time.perf_counter()
    days = result.calendar.days
    date = days[0]
    while date <= days[-1] + dt.timedelta(days=1):
        number = result.calendar.number.get(date)
        if number is None or date > days[-1]:
            _coach_morning(clock, date, result)  # a weekend, or the morning after the last day
        else:
            cards = _working_day(clock, result, people.Day(config, company, rng, number), date)
            for user_id in company.people:
                result.figures.cards[(number, user_id)] = cards.get(user_id, 0)
            progress(f"day {number:2d} {date}: done at {time.perf_counter() - began:6.1f} s")
        date += dt.timedelta(days=1)


def simulate(
    config: Config, *, keep: bool = False, progress: Callable[[str], None] | None = None
) -> Result:
    """Replay `config.days` working days of a scripted company with the real coach and return
    what was measured. The database is left as it was unless `keep`."""
    zone = ZoneInfo(config.zone)
    days = working_days(config.start, config.days)
    start = dt.datetime.combine(days[0], dt.time(6, 0), tzinfo=zone)
    setup_at = start - dt.timedelta(days=SETUP_DAYS_BEFORE)
    say = progress or (lambda line: None)
    began = time.perf_counter()
    cpu = time.process_time()
    result: Result | None = None
    try:
        with (
            transaction.atomic(),
            override_settings(MAILERS=NO_MAIL),
            time_machine.travel(setup_at, tick=False) as traveller,
        ):
            company = building.build(config, now=setup_at, start=start)
            result = Result(config, company, measure.Calendar(days, zone), measure.Figures())
            result.setup_seconds = time.perf_counter() - began
            say(f"company built in {result.setup_seconds:.1f} s")
            clock = Clock(traveller, setup_at, zone)
            _replay(config, clock, company, result, say)
            _measure(result, clock, start)
            if not keep:
                raise _Rollback
    except _Rollback:
        pass
    assert result is not None
    result.seconds = time.perf_counter() - began
    result.cpu_seconds = time.process_time() - cpu
    return result


def _measure(result: Result, clock: Clock, start: dt.datetime) -> None:
    measure.collect(result.figures, result.company, result.calendar, start, clock.ticks)
    rotting = people.rotting_leads(result.company)
    result.figures.catches = measure.catches(result.company, result.calendar, start, rotting)
    result.actions = dict(clock.actions)
    result.refused = dict(clock.refused)
