"""Chat robots under faults (issue 17), with real processes: a Celery worker and beat on Redis,
the fake platforms of chat_fakes on 127.0.0.1 (each checks token, format, signature and 20 a
minute per robot like the real one), the test database shared with the worker. Delivery runs
with production timings (outbox poll 5 s, lease 15 s, backoff 30 s doubling, 5 s per request
phase). Each arrival is counted at the fake by its X-Kaopu-Key."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from coaching.chat_models import ChatChannel, ChatKind, ChatMessage
from coaching.models import Delivery, EmailState, Nudge, Priority
from tests.integration.chat_fakes import FakePlatform, fake_platforms
from tests.integration.conftest import eager_people
from tests.integration.harness import Processes, process_env, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

SIGNED = {"dingtalk", "feishu"}


@pytest.fixture
def fakes():
    with fake_platforms() as served:
        yield served


def _robots(fakes: dict[str, FakePlatform], people: list, prefix: str) -> list[ChatChannel]:
    """One robot per person, the four platforms in turn, signed where the platform signs."""
    channels = []
    for i, person in enumerate(people):
        platform = list(fakes)[i % len(fakes)]
        secret = f"SEC{prefix}{i}" if platform in SIGNED else ""
        url = fakes[platform].add_robot(f"{prefix}{i}", secret)
        channels.append(
            ChatChannel.objects.create(
                owner=person, platform=platform, webhook_url=url, secret=secret
            )
        )
    return channels


def _queue(channels: list[ChatChannel], per_channel: int) -> list[ChatMessage]:
    """`per_channel` pushed nudges for each robot's owner, each with its chat row waiting."""
    now = timezone.now()
    nudges = Nudge.objects.bulk_create(
        Nudge(
            recipient_id=c.owner_id,
            rule_id="low_contact",
            period=f"c{c.pk}p{n}",
            key=f"low_contact|-|{c.owner_id}|c{c.pk}p{n}",
            priority=Priority.HIGH,
            delivery=Delivery.PUSH,
            context={"days": 12},
            created_at=now,
        )
        for c in channels
        for n in range(per_channel)
    )
    by_key = {n.key: n for n in Nudge.objects.filter(key__in=[n.key for n in nudges])}
    rows = [
        ChatMessage(
            channel=c,
            kind=ChatKind.INSTANT,
            key=f"low_contact|-|{c.owner_id}|c{c.pk}p{n}|chat{c.pk}",
            recipient_id=c.owner_id,
            nudge=by_key[f"low_contact|-|{c.owner_id}|c{c.pk}p{n}"],
            not_before=now,
            created_at=now,
        )
        for c in channels
        for n in range(per_channel)
    ]
    return ChatMessage.objects.bulk_create(rows)


def _arrived(fakes: dict[str, FakePlatform]) -> dict[str, int]:
    got: dict[str, int] = {}
    for fake in fakes.values():
        for key, n in fake.keys().items():
            got[key] = got.get(key, 0) + n
    return got


def _all_arrived(fakes, rows: list[ChatMessage]) -> bool:
    got = _arrived(fakes)
    return all(r.key in got for r in rows)


def _states() -> str:
    summary: dict[tuple[str, str], int] = {}
    for state, error in ChatMessage.objects.values_list("state", "last_error").order_by():
        summary[(state, error[:60])] = summary.get((state, error[:60]), 0) + 1
    return f"chat outbox: {summary}\n"


def _start(processes, tmp_path: Path, redis_url: str, smtp_port: int, *, beat: bool = True):
    env = process_env(redis_url=redis_url, smtp_port=smtp_port, KAOPU_CHAT_ALLOW_PRIVATE="true")
    group = Processes(env, tmp_path)
    processes.append(group)
    group.worker("worker1")
    if beat:
        group.beat()
    return group


@pytest.mark.timeout(600)
def test_kill_9_during_500_chat_messages_each_arrives_once(
    fakes, mailbox, machine_redis, processes, tmp_path: Path
) -> None:
    _manager, reps, _team = eager_people(n_reps=50, prefix="kc")
    rows = _queue(_robots(fakes, reps, "k"), per_channel=10)  # 500, 10 per robot
    group = _start(processes, tmp_path, machine_redis, mailbox[1])
    assert wait_for(
        lambda: (
            sum(_arrived(fakes).values()) >= 150
            and ChatMessage.objects.filter(state=EmailState.SENDING).exists()
        ),
        180,
        step=0.01,
    ), group.log_tail() + _states()
    group.kill9("worker1")
    at_kill = sum(_arrived(fakes).values())
    stranded = ChatMessage.objects.filter(state=EmailState.SENDING).count()
    restart = time.monotonic()
    group.worker("worker2")
    assert wait_for(lambda: _all_arrived(fakes, rows), 240), group.log_tail() + _states()
    took = time.monotonic() - restart
    got = _arrived(fakes)
    twice = sum(n - 1 for n in got.values())
    refused = sum(sum(f.refused.values()) for f in fakes.values())
    print(
        f"\nkill -9 after {at_kill} of 500 chat messages arrived, {stranded} rows claimed: all "
        f"500 arrived {took:.1f} s after the restart (worker start-up included); "
        f"{twice} arrived twice; {refused} refused by the fakes"
    )
    assert set(got) == {r.key for r in rows}
    assert twice <= 1  # at most the one in flight when the worker died
    assert refused == 0  # every message passed its platform's format and signature checks
    assert wait_for(lambda: ChatMessage.objects.filter(state=EmailState.SENT).count() == 500, 30)


@pytest.mark.timeout(600)
def test_platform_down_for_a_minute_all_arrive_after(
    fakes, mailbox, machine_redis, processes, tmp_path: Path
) -> None:
    _manager, reps, _team = eager_people(n_reps=8, prefix="dc")
    rows = _queue(_robots(fakes, reps, "d"), per_channel=10)  # 80, on all four platforms
    for fake in fakes.values():
        fake.mode = "down"  # 503 from every platform
    down_at = time.monotonic()
    group = _start(processes, tmp_path, machine_redis, mailbox[1])
    assert wait_for(lambda: ChatMessage.objects.filter(attempts__gte=1).count() == 80, 120), (
        group.log_tail() + _states()
    )
    time.sleep(max(0.0, 60 - (time.monotonic() - down_at)))
    for fake in fakes.values():
        fake.mode = "ok"
    up = time.monotonic()
    assert wait_for(lambda: _all_arrived(fakes, rows), 300), group.log_tail() + _states()
    took = time.monotonic() - up
    got = _arrived(fakes)
    tries = max(ChatMessage.objects.values_list("attempts", flat=True))
    print(
        f"\nfour platforms down (503) for 60 s with 80 messages waiting: all arrived "
        f"{took:.1f} s after they came back (backoff 30 s, 60 s, …), at most {tries} tries each; "
        f"{sum(n - 1 for n in got.values())} twice; failed {_failed()}"
    )
    assert set(got) == {r.key for r in rows} and max(got.values()) == 1
    assert _failed() == 0


def _failed() -> int:
    return ChatMessage.objects.filter(state=EmailState.FAILED).count()


@pytest.mark.timeout(600)
def test_throttled_robot_is_paced_and_nothing_is_lost(
    fakes, mailbox, machine_redis, processes, tmp_path: Path
) -> None:
    """25 messages to one DingTalk robot, the platform's limit 20 a minute: the outbox keeps
    under it (the fake never has to throttle), and a throttle the platform answers anyway
    (its mode 'throttle' for the first 10 s, as when another app shares the robot) is
    retried."""
    _manager, reps, _team = eager_people(n_reps=1, prefix="tc")
    fake = fakes["dingtalk"]
    url = fake.add_robot("paced", "SECpaced")
    channel = ChatChannel.objects.create(
        owner=reps[0], platform="dingtalk", webhook_url=url, secret="SECpaced"
    )
    rows = _queue([channel], per_channel=25)
    fake.mode = "throttle"
    start = time.monotonic()
    group = _start(processes, tmp_path, machine_redis, mailbox[1])
    assert wait_for(lambda: fake.refused["throttled"] > 0, 60), group.log_tail()
    time.sleep(max(0.0, 10 - (time.monotonic() - start)))
    fake.mode = "ok"
    assert wait_for(lambda: _all_arrived(fakes, rows), 300), group.log_tail() + _states()
    took = time.monotonic() - start
    throttled = fake.refused["throttled"]
    fastest = fake.max_per_minute("paced")
    print(
        f"\n25 messages to one robot (limit 20 a minute), throttled by the platform for the "
        f"first 10 s: all arrived in {took:.0f} s, at most {fastest} in any 60 s, "
        f"{throttled} throttled answers (all in the first 10 s), none lost or twice"
    )
    assert fake.keys() == {r.key: 1 for r in rows}
    assert fastest <= 20


@pytest.mark.timeout(600)
def test_a_hung_platform_frees_the_worker_and_the_web_never_waits(
    fakes, mailbox, machine_redis, processes, tmp_path: Path
) -> None:
    """WeCom hangs (accepts and never answers): each batch spends one 5 s timeout on it and
    the other platforms' messages still arrive; the test button only queues a row, so the web
    asks no platform. When WeCom answers again, its messages arrive."""
    _manager, reps, _team = eager_people(n_reps=8, prefix="hc")
    channels = _robots(fakes, reps, "h")
    rows = _queue(channels, per_channel=5)
    fakes["wecom"].mode = "hang"
    group = _start(processes, tmp_path, machine_redis, mailbox[1])
    others = [r for r in rows if r.channel.platform != "wecom"]
    started = time.monotonic()
    assert wait_for(lambda: _all_arrived(fakes, others), 120), group.log_tail() + _states()
    others_took = time.monotonic() - started

    wecom = next(c for c in channels if c.platform == "wecom")
    client = Client()
    client.force_login(wecom.owner)
    asked = fakes["wecom"].count() + sum(fakes["wecom"].refused.values())
    answer = client.post("/coach/preferences/", {"action": "chat_test", "channel": wecom.pk})
    assert answer.status_code == 302
    assert fakes["wecom"].count() + sum(fakes["wecom"].refused.values()) == asked
    hung_errors = set(
        ChatMessage.objects.filter(channel__platform="wecom", attempts__gte=1).values_list(
            "last_error", flat=True
        )
    )

    fakes["wecom"].mode = "ok"
    fakes["wecom"].hanging.set()  # the hung requests end
    back = time.monotonic()
    mine = [r for r in rows if r.channel.platform == "wecom"]
    assert wait_for(lambda: _all_arrived(fakes, mine), 240), group.log_tail() + _states()
    assert wait_for(
        lambda: ChatMessage.objects.filter(kind=ChatKind.TEST, state=EmailState.SENT).exists(), 60
    )
    print(
        f"\nWeCom hung: the other platforms' {len(others)} messages arrived in "
        f"{others_took:.1f} s; WeCom's {len(mine)} arrived {time.monotonic() - back:.1f} s after "
        f"it answered again; errors while hung: {sorted(hung_errors)}"
    )
    assert hung_errors <= {
        "RobotUnreachable: ReadTimeout",
        "RobotUnreachable: the robot did not answer earlier in this batch",
    }
    assert max(_arrived(fakes).values()) == 1
