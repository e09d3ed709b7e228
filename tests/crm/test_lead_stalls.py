"""A lead's stall moment and the sweep's mark (crm.models.stalls): the cockpit's stalled counts
taken from the tally's marked leads and two short index ranges equal the stalled rule counted
lead by lead, in any time zone, at any moment, before and after a sweep, and after each kind
of write that moves a lead's idleness (saves, bulk updates, closing, parking, a next step)."""

from __future__ import annotations

import datetime as dt
import random
from typing import TYPE_CHECKING, Any

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone

from coaching.cockpit.cube import cube_rows, lead_cube
from crm.models import Currency, Lead, LeadTally, Source
from crm.models.stalls import STALL_INPUTS, ZONE_SPREAD, stall_moment
from crm.pipeline import OPEN_STAGES, Stage
from crm.selectors import stalled_q
from crm.services.stalls import stalls_current, stalls_sweep
from crm.tally import lead_tally_drift
from tests.factories import bulk_leads

if TYPE_CHECKING:
    from tests.conftest import Company

pytestmark = pytest.mark.django_db

# The sweep's clock: a time-machine moment near which the leads' moments fall.
WALL = dt.datetime(2026, 6, 10, 20, 30, tzinfo=dt.UTC)
# The first zone to reach a date, the last, and two in between (one with a clock change).
ZONES = ("Pacific/Kiritimati", "Etc/GMT+12", "Asia/Shanghai", "America/New_York")


def varied(company: Company, seed: int, count: int = 150) -> list[Lead]:
    rng = random.Random(seed)
    teams = [company.team_a, company.team_b]
    owners = {
        company.team_a.pk: [None, company.rep_a1.pk, company.rep_a2.pk],
        company.team_b.pk: [None, company.rep_b1.pk],
    }
    # Around the threshold (14 days) and a day either side, by the hour.
    hours = [h for h in range(0, 20 * 24, 7)]
    plan = [rng.choice(teams) for _ in range(count)]

    def at(i: int) -> dt.datetime:
        return WALL - dt.timedelta(hours=rng.choice(hours), minutes=rng.randrange(60))

    def day(offsets: list[int]) -> dt.date:
        return (WALL + dt.timedelta(days=rng.choice(offsets))).date()

    return bulk_leads(
        count,
        team_id=lambda i: plan[i].pk,
        owner_id=lambda i: rng.choice(owners[plan[i].pk]),
        company=lambda i: f"S{seed}-{i}",
        source=Source.BRAND,
        stage=lambda i: rng.choice([*OPEN_STAGES, *OPEN_STAGES, Stage.WON]),
        currency=lambda i: rng.choice(Currency.values),
        created_at=at,
        last_activity_at=lambda i: at(i) if rng.random() < 0.6 else None,
        handed_at=lambda i: at(i) if rng.random() < 0.4 else None,
        next_step_due=lambda i: day([-2, -1, 0, 1]) if rng.random() < 0.3 else None,
        parked_until=lambda i: day([-1, 0, 1, 2]) if rng.random() < 0.2 else None,
        created_by_id=company.manager_a.pk,
    )


def stalled_by_rule(teams: list[int], now: dt.datetime) -> dict[tuple[Any, ...], int]:
    leads = Lead.objects.filter(team_id__in=teams)
    return {
        (r["team"], r["owner"], r["stage"], r["currency"]): r["stalled"]
        for r in cube_rows(leads, days=30, now=now)
        if r["stalled"]
    }


def stalled_by_tally(teams: list[int], now: dt.datetime) -> dict[tuple[Any, ...], int]:
    rows = lead_cube(Lead.objects.none(), days=30, now=now, teams=teams).rows
    return {
        (r["team"], r["owner"], r["stage"], r["currency"]): r["stalled"]
        for r in rows
        if r["stalled"]
    }


def assert_counts_agree(company: Company, *, around: dt.datetime) -> None:
    teams = [company.team_a.pk, company.team_b.pk]
    for zone in ZONES:
        with timezone.override(zone):
            for hours in (-30, -26, -3, 0, 5, 27, 24 * 3):
                now = around + dt.timedelta(hours=hours)
                rule = stalled_by_rule(teams, now)
                assert stalled_by_tally(teams, now) == rule, (zone, hours)
    assert lead_tally_drift() == {}


def test_the_stall_moment_bounds_the_rule_in_every_zone(company: Company) -> None:
    """No zone sees a lead stalled before its moment, and every zone sees it stalled a day
    (`ZONE_SPREAD`) after it: the sweep's mark is safe wherever the viewer is."""
    with time_machine.travel(WALL, tick=False):
        leads = varied(company, 1)
    moments = {lead.pk: lead.stalls_at for lead in leads}
    for lead in leads:
        assert lead.stalls_at == stall_moment(**{f: getattr(lead, f) for f in STALL_INPUTS})
    seen = 0
    for zone in ZONES:
        with timezone.override(zone):
            for hours in range(-40, 40, 3):
                now = WALL + dt.timedelta(hours=hours)
                stalled = set(
                    Lead.objects.filter(stalled_q(now), pk__in=moments).values_list("pk", flat=True)
                )
                seen += len(stalled)
                for pk, moment in moments.items():
                    if pk in stalled:
                        assert moment is not None and moment <= now, (pk, zone, hours)
                    elif moment is not None:
                        assert moment > now - ZONE_SPREAD, (pk, zone, hours)
    assert seen > 100  # the leads are around the threshold, not all one way


def test_the_cockpit_counts_the_rule_before_and_after_sweeps(company: Company) -> None:
    with time_machine.travel(WALL, tick=False):
        varied(company, 2)  # those stalled a day already are marked as they are written
        assert Lead.objects.filter(stalled_swept=True).exists()
        assert_counts_agree(company, around=WALL)
    for days in (1, 3):
        later = WALL + dt.timedelta(days=days)
        with time_machine.travel(later, tick=False):
            assert stalls_sweep() > 0  # more have been stalled a day by now
            assert stalls_sweep() == 0  # and none is left
            assert_counts_agree(company, around=later)
    assert sum(LeadTally.objects.values_list("stalled", flat=True)) == (
        Lead.objects.filter(stalled_swept=True).count()
    )


def test_writes_that_move_idleness_keep_the_counts(company: Company) -> None:
    with time_machine.travel(WALL, tick=False):
        leads = varied(company, 3)
        stalls_sweep()
        marked = [lead.pk for lead in Lead.objects.filter(stalled_swept=True)[:12]]
        assert len(marked) == 12
        # An activity today (a save of one column), a next step, parking, closing: each
        # unmarks a marked lead as it stops being stalled.
        first = Lead.objects.get(pk=marked[0])
        first.last_activity_at = WALL
        first.save(update_fields=["last_activity_at"])
        second = Lead.objects.get(pk=marked[1])
        second.next_step_due = (WALL + dt.timedelta(days=3)).date()
        second.save()
        Lead.objects.filter(pk__in=marked[2:5]).update(
            parked_until=(WALL + dt.timedelta(days=9)).date()
        )
        Lead.objects.filter(pk__in=marked[5:7]).update(stage=Stage.WON)
        # A move to another owner and team keeps the mark with the lead.
        Lead.objects.filter(pk__in=marked[7:9]).update(team=company.team_b, owner=company.rep_b1)
        # A stage move between open stages: still stalled.
        Lead.objects.filter(pk__in=marked[9:10]).update(stage=OPEN_STAGES[-1])
        # An old activity logged late: idle since then, stalled at once.
        fresh = next(lead for lead in leads if lead.stalls_at and lead.stalls_at > WALL)
        fresh.refresh_from_db()
        fresh.last_activity_at = WALL - dt.timedelta(days=40)
        fresh.save()
        assert_counts_agree(company, around=WALL)
        for lead in Lead.objects.all():  # to the microsecond, as written by each path
            assert lead.stalls_at == stall_moment(**{f: getattr(lead, f) for f in STALL_INPUTS})
        gone = Lead.objects.get(pk=marked[11])
        gone.delete()
        Lead.objects.filter(pk=marked[10]).delete()
        assert Lead.objects.filter(pk=first.pk, stalled_swept=False).exists()
        assert Lead.objects.get(pk=fresh.pk).stalled_swept
        assert_counts_agree(company, around=WALL)
        stalls_sweep()
        assert_counts_agree(company, around=WALL)


def test_a_new_stalled_threshold_sets_every_moment_again_at_the_next_sweep(
    company: Company,
) -> None:
    with time_machine.travel(WALL, tick=False):
        varied(company, 4)
        assert_counts_agree(company, around=WALL)
        with override_settings(KAOPU_STALLED_DAYS=16):
            assert not stalls_current()
            stalls_sweep()
            assert stalls_current()
            assert_counts_agree(company, around=WALL)
            moments = dict(Lead.objects.values_list("pk", "stalls_at"))
            assert all(
                moments[lead.pk] == stall_moment(**{f: getattr(lead, f) for f in STALL_INPUTS})
                for lead in Lead.objects.all()
            )
