"""The coach's simulation on a small company (issue 16): 1 director, 2 managers (one answers,
one does not), 6 reps (good, silent, only asks for help, lets chicken-rib leads rot), 10
working days through the real CRM services, event handling, scans and digests.

It asserts what a user would notice: each scripted pattern is caught within 5 working days
and shown to the person who should act; a rep's open cards stay on one screen; a digest fits
seven lines; what a person caused reaches its recipient within a minute, or when their quiet
hours end. The 200-rep, 30-day run is the benchmark (bench/simulate.py), not a test.
"""

from __future__ import annotations

import io
import statistics
from collections.abc import Iterator

import pytest
from django.core.management import CommandError, call_command

from coaching.models import Nudge
from coaching.simulation import report
from coaching.simulation.config import Config
from coaching.simulation.engine import Result, simulate
from crm.models import Lead, Team, User
from tests.factories import make_user


@pytest.fixture(scope="module")
def run(django_db_setup: None, django_db_blocker: pytest.FixtureRequest) -> Iterator[Result]:
    """One simulated fortnight, shared by the tests below (it undoes itself at the end)."""
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        yield simulate(Config.small())


def _told(run: Result) -> str:
    return "; ".join(
        f"{c.pattern.name} {c.person.user.username}: {c.told}" for c in run.figures.catches
    )


def test_every_scripted_pattern_is_simulated(run: Result) -> None:
    assert {c.pattern.name for c in run.figures.catches} == {
        "silent rep",
        "only asks for help",
        "chicken-rib leads left to rot",
        "manager who does not answer",
    }


@pytest.mark.parametrize(
    "pattern",
    [
        "silent rep",
        "only asks for help",
        "chicken-rib leads left to rot",
        "manager who does not answer",
    ],
)
def test_a_pattern_is_caught_within_five_working_days_by_who_should_act(
    run: Result, pattern: str
) -> None:
    catches = [c for c in run.figures.catches if c.pattern.name == pattern]
    assert catches
    for catch in catches:
        assert catch.ok, _told(run)


def test_a_reps_open_cards_fit_on_one_screen(run: Result) -> None:
    cards = report._rep_cards(run)
    assert len(cards) == 6 * 10  # each rep, each working day
    assert max(cards) <= 15
    assert statistics.median(cards) <= 7


def test_a_digest_is_at_most_seven_lines(run: Result) -> None:
    assert run.figures.all_digests, "no digest was built in ten working days"
    assert max(run.figures.all_digests) <= 7


def test_what_a_person_caused_reaches_the_recipient_within_a_minute(run: Result) -> None:
    awake = [p for p in run.figures.pushes if not p.quiet]
    assert len(awake) > 20  # hand-offs, failed calls, answers, plans waiting for a decision
    slow = [(p.rule_id, p.minutes) for p in awake if p.minutes is None or p.minutes > 1]
    assert not slow


def test_a_push_caused_in_quiet_hours_goes_out_when_they_end(run: Result) -> None:
    held = [p for p in run.figures.pushes if p.quiet]
    assert held, "the late visits (21:30) caused no push"
    for push in held:
        assert push.reached is not None
        local = push.reached.astimezone(run.calendar.zone)
        assert (local.hour, local.minute) == (8, 0), push  # the email poll after quiet hours


def test_scans_push_at_most_three_findings_a_day(run: Result) -> None:
    assert max(run.figures.scan_pushes.values(), default=0) <= 3


def test_the_run_leaves_the_database_as_it_was(run: Result) -> None:
    assert run.seconds > 0
    assert not Lead.objects.exists()
    assert not User.objects.filter(username__startswith="sim.").exists()
    assert not Nudge.objects.exists()


@pytest.mark.django_db
def test_the_command_prints_the_targets() -> None:
    out = io.StringIO()
    call_command(
        "coach_simulate", "--small", "--days", "1", "--summary", stdout=out, stderr=io.StringIO()
    )
    text = out.getvalue()
    assert "patterns caught within 5 working days" in text
    assert "digest lines" in text
    assert not Lead.objects.exists()


@pytest.mark.django_db
def test_the_command_refuses_a_database_with_leads() -> None:
    manager = make_user(username="m", role="manager")
    team = Team.objects.create(name="T", manager=manager)
    Lead.objects.create(company="Acme", source="brand", team=team)
    with pytest.raises(CommandError, match="already holds leads"):
        call_command("coach_simulate", "--small", "--days", "1")
    assert Lead.objects.count() == 1
