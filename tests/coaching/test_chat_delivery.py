"""Chat robots (issue 17), in-process against the fake platforms on 127.0.0.1: each platform's
format and signature as its fake checks them, in both languages; a removed robot marks the
channel broken and the message goes by email; a throttle retries; the pacing keeps a robot
under 20 a minute without dropping; a hung robot costs one timeout and the other robots' rows
still go; the fan-out from a hand-off, a digest, a credit post and the weekly summary."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from coaching import chat, delivery
from coaching.chat_models import ChannelState, ChatChannel, ChatKind, ChatMessage
from coaching.delivery.chat import ChatSender
from coaching.models import (
    CreditPost,
    Delivery,
    EmailKind,
    EmailState,
    NotificationPreference,
    Nudge,
    OutboundEmail,
    Priority,
)
from coaching.thanks import thanks_send
from crm.models import AuditEntry
from tests.coaching.helpers import CJK, at, new_lead, process, win
from tests.integration.chat_fakes import FakePlatform, fake_platforms

if TYPE_CHECKING:
    from crm.models import User
    from tests.conftest import Company

pytestmark = pytest.mark.django_db

PLATFORMS = ["wecom", "dingtalk", "feishu", "slack"]
SIGNED = {"dingtalk", "feishu"}


@pytest.fixture(autouse=True)
def _chat_settings(settings) -> None:
    settings.KAOPU_CHAT_ALLOW_PRIVATE = True  # the fakes listen on 127.0.0.1 over http
    settings.KAOPU_CHAT_TIMEOUT_SECONDS = 1
    settings.KAOPU_SITE_URL = "https://kaopu.example.com"


@pytest.fixture
def fakes() -> Iterator[dict[str, FakePlatform]]:
    with fake_platforms() as served:
        yield served


def robot(fakes, owner: User, platform: str, token: str = "t1", **fields) -> ChatChannel:
    secret = f"SEC{token}secret" if platform in SIGNED else ""
    url = fakes[platform].add_robot(token, secret)
    return ChatChannel.objects.create(
        owner=owner, platform=platform, webhook_url=url, secret=secret, **fields
    )


def pushed_nudge(user: User, n: int = 0, rule_id: str = "low_contact") -> Nudge:
    return Nudge.objects.create(
        recipient=user,
        rule_id=rule_id,
        period=f"p{n}",
        key=f"{rule_id}|-|{user.pk}|p{n}",
        priority=Priority.HIGH,
        delivery=Delivery.PUSH,
        context={"days": 12},
        created_at=timezone.now(),
    )


def queue(channel: ChatChannel, nudge: Nudge) -> ChatMessage:
    return ChatMessage.objects.create(
        channel=channel,
        kind=ChatKind.INSTANT,
        key=f"{nudge.key}|chat{channel.pk}",
        recipient=nudge.recipient,
        nudge=nudge,
    )


def send() -> dict[str, int]:
    return delivery.deliver_due(channel=ChatSender())


def _text_of(platform: str, body: dict) -> str:
    if platform == "wecom":
        return body["markdown"]["content"]
    if platform == "dingtalk":
        return body["actionCard"]["title"] + body["actionCard"]["text"]
    if platform == "feishu":
        card = body["card"]
        return card["header"]["title"]["content"] + card["elements"][0]["text"]["content"]
    return body["text"] + str(body["blocks"])


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_each_platform_takes_the_push_in_its_format_signed_in_the_readers_language(
    company: Company, fakes, platform: str, language: str
) -> None:
    rep = company.rep_a1
    rep.language = language
    rep.save(update_fields=["language"])
    row = queue(robot(fakes, rep, platform), pushed_nudge(rep))

    assert send()["sent"] == 1

    fake = fakes[platform]
    assert fake.refused == {}  # the token, signature and format passed the platform's checks
    [got] = fake.received
    assert got.key == row.key  # the idempotency key travels with the message
    text = _text_of(platform, got.body)
    assert bool(CJK.search(text)) == (language == "zh-hans")
    assert "https://kaopu.example.com/" in str(got.body)  # the action link into Kaopu
    row.refresh_from_db()
    assert row.state == EmailState.SENT


@pytest.mark.parametrize("platform", sorted(SIGNED))
def test_a_wrong_secret_is_refused_by_the_platform_and_breaks_the_channel(
    company: Company, fakes, platform: str
) -> None:
    rep = company.rep_a1
    channel = robot(fakes, rep, platform)
    ChatChannel.objects.filter(pk=channel.pk).update(secret="SECnot-the-one")
    queue(channel, pushed_nudge(rep))

    assert send()["failed"] == 1

    assert fakes[platform].refused == {"bad_sign": 1}
    channel.refresh_from_db()
    assert channel.state == ChannelState.BROKEN
    assert "sign" in channel.broken_reason


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_removed_robot_breaks_the_channel_and_the_push_goes_by_email(
    company: Company, fakes, platform: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rep = company.rep_a1
    channel = robot(fakes, rep, platform)
    nudge = pushed_nudge(rep)
    row = queue(channel, nudge)
    fakes[platform].mode = "removed"

    assert send()["failed"] == 1

    channel.refresh_from_db()
    assert channel.state == ChannelState.BROKEN
    assert channel.broken_reason  # the platform's own words, shown on the preferences page
    row.refresh_from_db()
    assert row.state == EmailState.FAILED and row.fell_back
    email = OutboundEmail.objects.get(nudge=nudge)
    assert email.kind == EmailKind.INSTANT and email.recipient == rep
    # The email says why it came by email.
    assert delivery.deliver_due()["sent"] == 1
    assert "stopped taking Kaopu's messages" in mail.outbox[-1].body
    assert channel.broken_reason in mail.outbox[-1].body
    # The admins read it in the audit trail; no log or audit line carries the URL.
    entry = AuditEntry.objects.get(action="chat_channel_broken")
    assert channel.webhook_url not in entry.summary
    assert fakes[platform].url("t1") not in row.last_error

    # The next push to the broken channel goes by email without asking the robot again.
    later = pushed_nudge(rep, 1)
    queue(channel, later)
    asked = sum(fakes[platform].refused.values())
    send()
    assert sum(fakes[platform].refused.values()) == asked
    assert OutboundEmail.objects.filter(nudge=later).exists()
    # Nothing logged the address or the secret, httpx's own request log included.
    assert "chat" in caplog.text and "t1" not in caplog.text
    assert fakes[platform].base not in caplog.text


def test_a_throttle_is_retried_with_backoff_and_arrives_later(
    company: Company, fakes, clock: time_machine.Traveller
) -> None:
    rep = company.rep_a1
    row = queue(robot(fakes, rep, "dingtalk"), pushed_nudge(rep))
    fakes["dingtalk"].mode = "throttle"

    assert send() == {"sent": 0, "retry": 1, "failed": 0}
    row.refresh_from_db()
    assert row.state == EmailState.PENDING and row.attempts == 1
    assert "130101" in row.last_error
    assert row.not_before == timezone.now() + dt.timedelta(seconds=30)

    fakes["dingtalk"].mode = "ok"
    assert send()["sent"] == 0  # not before its backoff
    clock.shift(dt.timedelta(seconds=31))
    assert send()["sent"] == 1
    assert fakes["dingtalk"].keys() == {row.key: 1}


def test_pacing_keeps_a_robot_under_20_a_minute_and_drops_nothing(
    company: Company, fakes, clock: time_machine.Traveller
) -> None:
    rep = company.rep_a1
    channel = robot(fakes, rep, "feishu")
    rows = [queue(channel, pushed_nudge(rep, n, rule_id=f"r{n}")) for n in range(45)]
    Nudge.objects.update(rule_id="low_contact")  # each its own row, not one burst

    counts = delivery.deliver_due(channel=ChatSender(), limit=1000)
    assert counts["sent"] == 20 and counts["deferred"] == 25
    deferred = ChatMessage.objects.filter(state=EmailState.PENDING)
    assert {r.attempts for r in deferred} == {0}  # waiting its turn is not a failed try
    # Due as the robot's slots free, in turn: 20 a minute from now, the last 5 a minute later
    # (not all 25 at the first free slot, to be claimed and deferred again and again).
    due = Counter(r.not_before - timezone.now() for r in deferred)
    assert due == {dt.timedelta(minutes=1): 20, dt.timedelta(minutes=2): 5}

    clock.shift(dt.timedelta(seconds=61))
    assert delivery.deliver_due(channel=ChatSender(), limit=1000)["sent"] == 20
    clock.shift(dt.timedelta(seconds=61))
    assert delivery.deliver_due(channel=ChatSender(), limit=1000) == {
        "sent": 5,
        "retry": 0,
        "failed": 0,
    }
    assert fakes["feishu"].keys() == {r.key: 1 for r in rows}
    assert fakes["feishu"].refused == {}  # never throttled by the platform


def test_a_hung_robot_costs_one_timeout_and_the_other_robots_rows_go(
    company: Company, fakes, settings
) -> None:
    settings.KAOPU_CHAT_TIMEOUT_SECONDS = 0.5
    rep, other = company.rep_a1, company.rep_a2
    hung = robot(fakes, rep, "wecom")
    fine = robot(fakes, other, "slack")
    for n in range(3):
        queue(hung, pushed_nudge(rep, n, rule_id=f"h{n}"))
        queue(fine, pushed_nudge(other, n, rule_id=f"f{n}"))
    fakes["wecom"].mode = "hang"

    counts = send()

    assert counts == {"sent": 3, "retry": 3, "failed": 0}
    assert fakes["slack"].count() == 3
    waiting = ChatMessage.objects.filter(channel=hung)
    assert {r.state for r in waiting} == {EmailState.PENDING}
    assert {r.last_error for r in waiting} <= {
        "RobotUnreachable: ReadTimeout",
        "RobotUnreachable: the robot did not answer earlier in this batch",
    }


def test_a_hand_off_queues_a_push_per_push_channel_even_with_email_off(
    company: Company, fakes
) -> None:
    rep = company.rep_a1
    NotificationPreference.objects.create(
        user=rep, email_enabled=False, quiet_start=dt.time(0), quiet_end=dt.time(0)
    )
    pushes = robot(fakes, rep, "dingtalk", for_pushes=True)
    robot(fakes, rep, "slack", token="digest-only", for_pushes=False, for_digest=True)
    ChatChannel.objects.create(
        owner=rep,
        platform="wecom",
        webhook_url=fakes["wecom"].add_robot("gone"),
        state=ChannelState.BROKEN,
    )
    leads = [new_lead(company.manager_a, f"Chat Co {n}", to=rep) for n in range(3)]
    process()

    rows = ChatMessage.objects.filter(kind=ChatKind.INSTANT)
    # Three hand-offs of one rule while the first waits: one row (a burst), on the working
    # push robot only; with email switched off, the one email is the broken robot's share
    # (its page says its messages go by email meanwhile).
    assert [(r.channel_id, r.nudge.rule_id) for r in rows] == [(pushes.pk, "handoff_first_plan")]
    assert OutboundEmail.objects.filter(recipient=rep).count() == 1
    assert send()["sent"] == 1
    [got] = fakes["dingtalk"].received
    handed = Nudge.objects.filter(recipient=rep, rule_id="handoff_first_plan").count()
    assert handed == len(leads) + 1  # and the company fixture's own hand-off
    assert got.body["actionCard"]["title"].startswith(f"{handed} leads")  # the burst's count


def test_the_digest_goes_to_the_digest_robots_once_a_day(
    company: Company, fakes, clock: time_machine.Traveller
) -> None:
    rep = company.rep_a1
    robot(fakes, rep, "feishu", for_pushes=False, for_digest=True)
    Nudge.objects.create(
        recipient=rep,
        rule_id="low_contact",
        key="low_contact|digest",
        delivery=Delivery.DIGEST,
        context={"days": 12},
        created_at=at(hours=-1),
    )
    clock.move_to(at(days=1, hours=-1))  # 09:00 the next day in Shanghai: after 08:30
    delivery.build_digests()
    delivery.build_digests()  # a second beat makes nothing more

    [row] = ChatMessage.objects.filter(kind=ChatKind.DIGEST)
    assert row.digest_date == dt.date(2025, 3, 4)
    assert send()["sent"] == 1
    body = fakes["feishu"].received[0].body
    assert "2025-03-04" in body["card"]["header"]["title"]["content"]


def test_credit_posts_and_the_weekly_summary_go_to_the_team_robot(
    company: Company, fakes, clock: time_machine.Traveller
) -> None:
    manager, rep = company.manager_a, company.rep_a1
    team_robot = ChatChannel.objects.create(
        team=company.team_a,
        platform="wecom",
        webhook_url=fakes["wecom"].add_robot("team"),
    )
    lead = new_lead(manager, "Credit Co", to=rep)
    win(lead, rep)
    thanks_send(
        author=rep,
        lead=lead,
        body="谢谢李哥",
        public_post="没有李哥就没有这一单",
        credited=[manager],
    )
    post = CreditPost.objects.get()
    [row] = ChatMessage.objects.filter(kind=ChatKind.CREDIT)
    assert (row.channel, row.credit_post) == (team_robot, post)

    clock.move_to(dt.datetime(2025, 3, 10, 9, 5, tzinfo=at().tzinfo))  # Monday 09:05
    assert chat.build_weekly_summaries() == 1
    assert chat.build_weekly_summaries() == 0  # once a week
    assert send()["sent"] == 2
    texts = [r.body["markdown"]["content"] for r in fakes["wecom"].received]
    assert "没有李哥就没有这一单" in texts[0]
    assert "Team A" in texts[1] and "2025-03-03" in texts[1]


def test_with_email_off_the_digest_robot_hears_only_when_something_new_waits(
    company: Company, fakes, clock: time_machine.Traveller
) -> None:
    rep = company.rep_a1
    NotificationPreference.objects.create(user=rep, email_enabled=False)
    robot(fakes, rep, "slack", for_pushes=False, for_digest=True)

    def advice(n: int) -> None:
        Nudge.objects.create(
            recipient=rep,
            rule_id="low_contact",
            key=f"low_contact|digest{n}",
            delivery=Delivery.DIGEST,
            context={"days": 12},
            created_at=timezone.now(),
        )

    advice(1)
    clock.move_to(at(days=1, hours=-1))  # 09:00 the next day
    delivery.build_digests()
    clock.move_to(at(days=2, hours=-1))  # a day later, nothing new
    delivery.build_digests()
    assert ChatMessage.objects.filter(kind=ChatKind.DIGEST).count() == 1
    advice(2)
    clock.move_to(at(days=3, hours=-1))
    delivery.build_digests()
    days = ChatMessage.objects.filter(kind=ChatKind.DIGEST).values_list("digest_date", flat=True)
    assert sorted(days) == [dt.date(2025, 3, 4), dt.date(2025, 3, 6)]
    assert not OutboundEmail.objects.exists()


def test_a_robot_gets_at_most_the_days_push_allowance(company: Company, fakes) -> None:
    rep = company.rep_a1
    NotificationPreference.objects.create(user=rep, email_enabled=False)
    channel = robot(fakes, rep, "wecom")
    made = [pushed_nudge(rep, n, rule_id=f"rule{n}") for n in range(25)]
    assert chat.queue_pushes(made, {}, now=timezone.now()) == 20
    assert ChatMessage.objects.filter(channel=channel).count() == 20


def test_two_channels_on_one_group_robot_share_its_minute(
    company: Company, fakes, clock: time_machine.Traveller
) -> None:
    """A rep who pastes the team's group robot for their pushes: the platform counts one robot."""
    rep = company.rep_a1
    url = fakes["dingtalk"].add_robot("shared", "SECshared")
    mine = ChatChannel.objects.create(
        owner=rep, platform="dingtalk", webhook_url=url, secret="SECshared"
    )
    team = ChatChannel.objects.create(
        team=company.team_a, platform="dingtalk", webhook_url=url, secret="SECshared"
    )
    for n in range(15):
        queue(mine, pushed_nudge(rep, n, rule_id=f"m{n}"))
        ChatMessage.objects.create(
            channel=team, kind=ChatKind.TEST, key=f"team-test-{n}", not_before=timezone.now()
        )

    Nudge.objects.update(rule_id="low_contact")  # each its own row, not one burst
    counts = delivery.deliver_due(channel=ChatSender(), limit=1000)

    assert counts["sent"] == 20 and counts["deferred"] == 10
    clock.shift(dt.timedelta(seconds=61))
    delivery.deliver_due(channel=ChatSender(), limit=1000)
    assert fakes["dingtalk"].count() == 30 and fakes["dingtalk"].refused == {}


def test_a_rule_the_playbook_dropped_still_makes_a_message_the_platform_takes(
    company: Company, fakes
) -> None:
    rep = company.rep_a1
    row = queue(robot(fakes, rep, "dingtalk"), pushed_nudge(rep, rule_id="retired_rule"))
    assert send()["sent"] == 1
    card = fakes["dingtalk"].received[0].body["actionCard"]
    assert card["singleTitle"] == "Open Kaopu" and card["singleURL"].startswith("https://")
    assert fakes["dingtalk"].keys() == {row.key: 1}
