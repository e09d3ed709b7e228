"""One daily digest per person per local day, at 08:30 their time, across daylight-saving
changes (Berlin 25 Oct 2026, New York 1 Nov 2026) and in Shanghai (no DST)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from coaching import delivery, services
from coaching.models import EmailKind, NotificationPreference, Nudge, OutboundEmail
from coaching.rules import NudgeSpec
from crm.models import Role
from tests.factories import make_user

CASES = [
    ("Europe/Berlin", dt.date(2026, 10, 23)),
    ("America/New_York", dt.date(2026, 10, 30)),
    ("Asia/Shanghai", dt.date(2026, 10, 23)),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("zone", "first_day"), CASES)
def test_one_digest_per_local_day_across_dst(zone: str, first_day: dt.date) -> None:
    tz = ZoneInfo(zone)
    user = make_user(username=f"digest-{zone}", role=Role.REP, time_zone=zone)
    # Nothing is pushed: every nudge waits for the digest.
    NotificationPreference.objects.create(user=user, daily_push_budget=0)
    start = dt.datetime.combine(first_day, dt.time(0, 0), tzinfo=tz).astimezone(dt.UTC)
    step = dt.timedelta(minutes=15)
    made = 0
    for i in range(4 * 24 * 4):  # four days, every 15 minutes (in UTC: DST cannot skip a poll)
        now = start + i * step
        with time_machine.travel(now, tick=False):
            if i % 24 == 5:  # a new nudge every six hours
                services.create_nudges(
                    [NudgeSpec("low_contact", user.pk, period=f"n{i}", context={"days": 11})],
                    now=now,
                )
                made += 1
            delivery.build_digests(now=now)
    digests = list(OutboundEmail.objects.filter(recipient=user, kind=EmailKind.DIGEST))
    dates = [d.digest_date for d in digests]
    assert len(dates) == len(set(dates)), f"two digests on one local day: {dates}"
    assert sorted(dates) == [first_day + dt.timedelta(days=n) for n in range(4)]
    for digest in digests:
        local = digest.created_at.astimezone(tz)
        assert local.date() == digest.digest_date
        # Built at the first poll at or after 08:30 local time, whatever the UTC offset.
        assert dt.time(8, 30) <= local.time() < dt.time(8, 45), local
    # Every nudge went into exactly one digest; nothing is left behind but today's late ones.
    waiting = Nudge.objects.filter(recipient=user, digest__isnull=True)
    last_digest = max(d.created_at for d in digests)
    assert all(n.created_at > last_digest for n in waiting)
    assert Nudge.objects.filter(recipient=user).count() == made


@pytest.mark.django_db
def test_no_digest_when_nothing_waits() -> None:
    user = make_user(username="quiet-rep", role=Role.REP, time_zone="Asia/Shanghai")
    NotificationPreference.objects.create(user=user, daily_push_budget=0)
    morning = dt.datetime(2026, 11, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert delivery.build_digests(now=morning) == 0
    assert not OutboundEmail.objects.filter(recipient=user).exists()
