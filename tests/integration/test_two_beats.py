"""A second beat started by mistake: both schedule every task, nothing is made twice."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections import Counter

import pytest
from django.db.models import Count

from coaching.models import EmailKind, NotificationPreference, Nudge, OutboundEmail
from crm import services
from crm.models import DomainEvent, Role, Source
from tests.factories import make_user
from tests.integration.conftest import eager_people
from tests.integration.harness import Processes, process_env, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

SECONDS = float(os.environ.get("KAOPU_TWO_BEATS_SECONDS", "60"))


def test_two_beats_for_a_minute_no_duplicates(mailbox, machine_redis, processes, tmp_path):
    box, port = mailbox
    manager, reps, team = eager_people(n_reps=3, prefix="b")
    # A +2 makes the big-deal scan speak; a budget of 1 and an early digest send the rest
    # of each rep's nudges to the daily digest, which both beats also try to build.
    team.director = make_user(username="b-director", role=Role.DIRECTOR)
    team.save()
    NotificationPreference.objects.filter(user__in=reps).update(
        daily_push_budget=1, digest_time=dt.time(0, 0)
    )
    env = process_env(
        redis_url=machine_redis,
        smtp_port=port,
        KAOPU_SCAN_SECONDS="2",
        KAOPU_DIGEST_POLL_SECONDS="2",
    )
    group = Processes(env, tmp_path)
    processes.append(group)
    group.worker("worker1")
    group.worker("worker2")
    group.beat("beat1")
    group.beat("beat2")
    handed = 0
    deadline = time.monotonic() + SECONDS
    while time.monotonic() < deadline:
        lead = services.lead_create(
            actor=manager,
            data={
                "company": f"Twin Beat {handed}",
                "source": Source.TRADE_SHOW,
                "value": 2_000_000,
            },
        )
        services.lead_hand_off(actor=manager, lead_ids=[lead.pk], to_user=reps[handed % 3])
        handed += 1
        time.sleep(2)
    assert wait_for(
        lambda: (
            not DomainEvent.objects.filter(processed_at__isnull=True).exists()
            and not OutboundEmail.objects.exclude(state="sent").exists()
        ),
        60,
    ), group.log_tail()
    group.stop_all()

    # Each hand-off nudged its rep exactly once.
    assert Nudge.objects.filter(rule_id="handoff_first_plan").count() == handed
    keys = Counter(
        Nudge.objects.values_list(
            "rule_id", "lead_id", "report_id", "subject_user_id", "recipient_id", "period"
        )
    )
    assert max(keys.values()) == 1
    # At most one email per nudge and one digest per person per day.
    assert (
        not OutboundEmail.objects.filter(kind=EmailKind.INSTANT)
        .values("nudge_id")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .exists()
    )
    assert (
        not OutboundEmail.objects.filter(kind=EmailKind.DIGEST)
        .values("recipient_id", "digest_date")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .exists()
    )
    ids = box.message_ids()
    print(f"\n{handed} hand-offs, {Nudge.objects.count()} nudges, {len(ids)} emails, two beats")
    assert (
        len(ids)
        == len(set(ids))
        == OutboundEmail.objects.filter(state="sent")
        .exclude(last_error__startswith="skipped")
        .count()
    )
    assert len(ids) >= len(reps)
    assert Nudge.objects.filter(rule_id="big_deal_keep_director_informed").count() == handed
    assert OutboundEmail.objects.filter(kind=EmailKind.DIGEST).exists()
