"""The chat channels' review findings (issue 17): a broken robot's owner still hears by email
whatever their email setting (and the team robot's page says what happens instead); a DNS
failure at send time is retried, not a broken robot; only global addresses are posted to, and
the connection goes to the address checked; a malformed channel id is a 404; a secret a
platform does not use is refused in words; the daily cap of a robot is on the page."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from coaching import delivery
from coaching.chat_models import ChannelState, ChatChannel, ChatKind, ChatMessage
from coaching.delivery.chat import ChatSender
from coaching.delivery.chat_urls import check_url, pinned
from coaching.models import (
    Delivery,
    EmailKind,
    EmailState,
    NotificationPreference,
    Nudge,
    OutboundEmail,
    Priority,
)
from crm import services as crm
from tests.coaching.helpers import at, new_lead, process
from tests.integration.chat_fakes import FakePlatform, fake_platforms

if TYPE_CHECKING:
    from crm.models import User
    from tests.conftest import Company

pytestmark = pytest.mark.django_db

PREFS = "/coach/preferences/"
LOOKUPS: dict[str, int] = {}


@pytest.fixture
def fakes() -> Iterator[dict[str, FakePlatform]]:
    with fake_platforms() as served:
        yield served


@pytest.fixture
def dns(monkeypatch) -> dict[str, list[str] | None]:
    """Names answered here: host → the addresses it resolves to, one per call in turn (the
    last repeats); None for a resolution failure. Other names resolve as usual."""
    answers: dict[str, list[str] | None] = {}
    real = socket.getaddrinfo

    def fake(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in answers:
            return real(host, port, *args, **kwargs)
        LOOKUPS[host] = LOOKUPS.get(host, 0) + 1
        queue = answers[host]
        if queue is None:
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        address = queue.pop(0) if len(queue) > 1 else queue[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return answers


def client_for(user: User, language: str = "en") -> Client:
    crm.profile_update(user=user, language=language, time_zone="Asia/Shanghai")
    client = Client()
    client.force_login(user)
    return client


def broken_robot(owner: User | None = None, **fields: Any) -> ChatChannel:
    return ChatChannel.objects.create(
        owner=owner,
        platform="wecom",
        webhook_url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=gone",
        state=ChannelState.BROKEN,
        broken_reason="93000 invalid webhook url",
        broken_at=at(),
        **fields,
    )


def pushed_row(channel: ChatChannel, user: User) -> ChatMessage:
    nudge = Nudge.objects.create(
        recipient=user,
        rule_id="low_contact",
        key=f"low_contact|-|{user.pk}|p0",
        priority=Priority.HIGH,
        delivery=Delivery.PUSH,
        context={"days": 12},
        created_at=at(),
    )
    return ChatMessage.objects.create(
        channel=channel,
        kind=ChatKind.INSTANT,
        key=f"{nudge.key}|chat{channel.pk}",
        recipient=user,
        nudge=nudge,
    )


def send() -> dict[str, int]:
    return delivery.deliver_due(channel=ChatSender())


# --- 1. A broken robot's owner hears by email, whatever their email setting --------------------


def test_with_email_off_and_the_push_robot_broken_the_push_comes_by_email(
    company: Company,
) -> None:
    rep, other = company.rep_a1, company.rep_a2
    for person in (rep, other):
        NotificationPreference.objects.create(
            user=person, email_enabled=False, quiet_start=dt.time(0), quiet_end=dt.time(0)
        )
    broken_robot(rep)
    new_lead(company.manager_a, "Broken Robot Co", to=rep)
    new_lead(company.manager_a, "Email Off Co", to=other)
    process()

    # The page tells the owner "messages go to your email meanwhile": so they do.
    assert OutboundEmail.objects.filter(recipient=rep, kind=EmailKind.INSTANT).exists()
    assert not OutboundEmail.objects.filter(recipient=other).exists()  # email off, no robot
    page = client_for(rep).get(PREFS).content.decode()
    assert "Messages go to your email meanwhile" in page


def test_with_email_off_and_the_digest_robot_broken_the_digest_comes_by_email(
    company: Company, clock: time_machine.Traveller
) -> None:
    rep = company.rep_a1
    NotificationPreference.objects.create(user=rep, email_enabled=False)
    broken_robot(rep, for_pushes=False, for_digest=True)
    Nudge.objects.create(
        recipient=rep,
        rule_id="low_contact",
        key="low_contact|digest",
        delivery=Delivery.DIGEST,
        context={"days": 12},
        created_at=at(hours=-1),
    )
    clock.move_to(at(days=1, hours=-1))  # 09:00 the next day in Shanghai
    delivery.build_digests()

    assert OutboundEmail.objects.filter(recipient=rep, kind=EmailKind.DIGEST).count() == 1
    assert not ChatMessage.objects.exists()  # nothing to the broken robot


@pytest.mark.parametrize(
    ("language", "says", "never"),
    [
        ("en", "do not reach the group chat", "Messages go to your email"),
        ("zh-hans", "不会发到群里", "改发到你的邮箱"),
    ],
)
def test_a_broken_team_robot_says_what_happens_and_claims_no_email(
    company: Company, language: str, says: str, never: str
) -> None:
    broken_robot(team=company.team_a)
    manager = client_for(company.manager_a, language)
    page = manager.get(reverse("coach-settings"), {"team": company.team_a.pk}).content.decode()
    assert "93000 invalid webhook url" in page
    assert says in page and never not in page


# --- 2. A passing DNS failure is retried; a private answer breaks the robot --------------------


def test_a_dns_failure_at_send_time_is_retried_and_the_robot_stays_working(
    company: Company, fakes, dns, settings, clock: time_machine.Traveller
) -> None:
    settings.KAOPU_CHAT_ALLOW_PRIVATE = True  # the fake listens on 127.0.0.1
    rep = company.rep_a1
    url = fakes["slack"].add_robot("dns").replace("127.0.0.1", "hooks.example.com")
    channel = ChatChannel.objects.create(owner=rep, platform="slack", webhook_url=url)
    row = pushed_row(channel, rep)
    dns["hooks.example.com"] = None  # the resolver is down

    assert send() == {"sent": 0, "retry": 1, "failed": 0}
    row.refresh_from_db()
    channel.refresh_from_db()
    assert channel.state == ChannelState.OK  # not broken by a passing fault
    assert row.state == EmailState.PENDING and row.attempts == 1
    assert row.last_error.startswith("RobotUnreachable: HostNotFound")
    assert not OutboundEmail.objects.exists()

    dns["hooks.example.com"] = ["127.0.0.1"]  # it answers again
    clock.shift(dt.timedelta(seconds=31))  # after the backoff
    assert send()["sent"] == 1
    assert fakes["slack"].keys() == {row.key: 1}


def test_a_name_that_now_resolves_into_the_network_breaks_the_robot(
    company: Company, dns, settings
) -> None:
    settings.KAOPU_CHAT_ALLOW_PRIVATE = False
    rep = company.rep_a1
    dns["hooks.example.com"] = ["1.1.1.1"]
    url = check_url("https://hooks.example.com/services/T/B/x")  # public when saved
    channel = ChatChannel.objects.create(owner=rep, platform="slack", webhook_url=url)
    row = pushed_row(channel, rep)
    dns["hooks.example.com"] = ["100.100.100.200"]  # then the metadata service

    assert send()["failed"] == 1
    channel.refresh_from_db()
    assert channel.state == ChannelState.BROKEN
    assert "private network" in channel.broken_reason
    assert OutboundEmail.objects.filter(nudge=row.nudge).exists()  # the push by email


# --- 3. Only global addresses; the connection goes to the address checked ----------------------


@pytest.mark.parametrize(
    "address",
    ["100.64.0.1", "100.100.100.200", "100.127.255.254", "192.0.0.8", "198.18.0.1"],
)
def test_shared_and_special_ranges_are_refused(settings, dns, address: str) -> None:
    settings.KAOPU_CHAT_ALLOW_PRIVATE = False
    with pytest.raises(ValidationError):
        check_url(f"https://{address}/hook")
    dns["robot.example.com"] = [address]
    with pytest.raises(ValidationError, match="private network"):
        check_url("https://robot.example.com/hook")


def test_the_send_connects_to_the_address_checked_not_a_second_lookup(
    company: Company, fakes, dns, settings
) -> None:
    """DNS rebinding: the name answers 127.0.0.1 (where the fake is) to the check, then an
    address where nothing listens. The message arrives: the connection used the checked one,
    with the name in its Host header."""
    settings.KAOPU_CHAT_ALLOW_PRIVATE = True
    rep = company.rep_a1
    port = fakes["slack"].base.rsplit(":", 1)[1]
    url = fakes["slack"].add_robot("pin").replace("127.0.0.1", "pin.example.com")
    channel = ChatChannel.objects.create(owner=rep, platform="slack", webhook_url=url)
    row = pushed_row(channel, rep)
    dns["pin.example.com"] = ["127.0.0.1", "127.0.0.2"]

    LOOKUPS.clear()

    assert send()["sent"] == 1
    assert fakes["slack"].keys() == {row.key: 1}
    assert fakes["slack"].hosts == [f"pin.example.com:{port}"]
    assert LOOKUPS == {"pin.example.com": 1}  # the check's; the connection asked no one


def test_a_pinned_url_keeps_the_path_port_and_query_and_brackets_ipv6() -> None:
    assert pinned("https://oapi.dingtalk.com/robot/send?access_token=a", "203.119.206.77") == (
        "https://203.119.206.77/robot/send?access_token=a",
        "oapi.dingtalk.com",
        "oapi.dingtalk.com",
    )
    assert pinned("https://hooks.slack.com:8443/services/x", "2600:1f18::1") == (
        "https://[2600:1f18::1]:8443/services/x",
        "hooks.slack.com:8443",
        "hooks.slack.com",
    )


# --- 6. A malformed channel id is not found ----------------------------------------------------


@pytest.mark.parametrize("posted", ["abc", "1e5", "-1", "99999999999999999999999", ""])
@pytest.mark.parametrize("action", ["chat_test", "chat_remove", "chat_save"])
def test_a_malformed_channel_id_is_a_404(company: Company, posted: str, action: str) -> None:
    client = client_for(company.rep_a1)
    assert client.post(PREFS, {"action": action, "channel": posted}).status_code == 404


# --- 7. A secret the platform does not use is refused in words; the daily cap is on the page ---


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", "Only DingTalk and Feishu robots sign. Leave the secret empty."),
        ("zh-hans", "只有钉钉和飞书机器人需要加签，这里密钥留空就行。"),
    ],
)
@pytest.mark.parametrize("platform", ["wecom", "slack"])
def test_a_secret_for_wecom_or_slack_is_refused_with_a_reason(
    company: Company, settings, dns, language: str, words: str, platform: str
) -> None:
    settings.KAOPU_CHAT_ALLOW_PRIVATE = False
    dns["hooks.example.com"] = ["1.1.1.1"]
    client = client_for(company.rep_a1, language)
    answer = client.post(
        PREFS,
        {
            "action": "chat_add",
            "new-platform": platform,
            "new-webhook_url": "https://hooks.example.com/services/T/B/x",
            "new-secret": "SECsomething",
            "new-for_pushes": "on",
        },
    )
    assert answer.status_code == 422
    assert words in answer.content.decode()
    assert not ChatChannel.objects.exists()


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", "A robot gets at most 20 pushes in 24 hours; past that, they wait in your"),
        ("zh-hans", "每个机器人 24 小时内最多推送 20 条，超出的留在提醒中心。"),
    ],
)
def test_the_page_says_a_robot_gets_at_most_the_days_pushes(
    company: Company, language: str, words: str
) -> None:
    page = client_for(company.rep_a1, language).get(PREFS).content.decode()
    assert words in page


# --- 4. A server that trickles its answer is cut off at the deadline ---------------------------


@pytest.fixture
def trickler() -> Iterator[tuple[int, threading.Event]]:
    """A server that accepts, then sends its answer's status line one byte every 0.3 s for
    as long as the client listens: each read gets a byte, so no per-read timeout ever fires.
    The event is set when the client hung up."""
    hung_up = threading.Event()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve() -> None:
        with contextlib.suppress(OSError):
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                for byte in b"HTTP/1.1 200 OK\r\n" * 1000:
                    conn.sendall(bytes([byte]))
                    time.sleep(0.3)
        hung_up.set()

    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()[1], hung_up
    listener.close()


def test_a_trickling_server_is_cut_off_at_the_deadline_and_retried(
    company: Company, trickler: tuple[int, threading.Event], settings
) -> None:
    settings.KAOPU_CHAT_ALLOW_PRIVATE = True
    settings.KAOPU_CHAT_TIMEOUT_SECONDS = 1  # per read; the deadline is twice that
    port, hung_up = trickler
    rep = company.rep_a1
    channel = ChatChannel.objects.create(
        owner=rep, platform="slack", webhook_url=f"http://127.0.0.1:{port}/services/T/B/x"
    )
    row = pushed_row(channel, rep)

    assert send() == {"sent": 0, "retry": 1, "failed": 0}
    row.refresh_from_db()
    assert row.last_error == "RobotUnreachable: DeadlineExceeded"
    assert hung_up.wait(5)  # the worker let go of the connection
    channel.refresh_from_db()
    assert channel.state == ChannelState.OK


def test_a_huge_answer_is_read_only_to_64_kb(company: Company, settings) -> None:
    """A platform (or what poses as one) answering 50 MB: the worker reads the first 64 KB
    and hangs up, so the server could not write the rest."""
    settings.KAOPU_CHAT_ALLOW_PRIVATE = True
    size = 50 * 1024 * 1024
    written: list[int] = []
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode())
            sent, block = 0, b"o" * 65536
            with contextlib.suppress(OSError):
                while sent < size:
                    sent += conn.send(block)
            written.append(sent)

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    rep = company.rep_a1
    port = listener.getsockname()[1]
    channel = ChatChannel.objects.create(
        owner=rep, platform="slack", webhook_url=f"http://127.0.0.1:{port}/services/T/B/x"
    )
    pushed_row(channel, rep)

    send()
    server.join(10)
    listener.close()
    assert written and written[0] < size  # the rest was never read


def test_the_admin_refuses_a_secret_for_wecom_too(company: Company, settings, dns) -> None:
    settings.KAOPU_CHAT_ALLOW_PRIVATE = False
    dns["qyapi.weixin.qq.com"] = ["1.1.1.1"]
    admin = client_for(company.admin)
    answer = admin.post(
        reverse("admin:coaching_chatchannel_add"),
        {
            "owner": company.rep_a1.pk,
            "platform": "wecom",
            "webhook_url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k",
            "secret": "SECsomething",
            "for_pushes": "on",
            "state": "ok",
        },
    )
    assert answer.status_code == 200  # the form again, with the reason
    assert "Only DingTalk and Feishu robots sign." in answer.content.decode()
    assert not ChatChannel.objects.exists()
