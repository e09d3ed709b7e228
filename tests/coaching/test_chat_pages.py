"""Chat channels on the pages (issue 17): a person adds, changes, tests and removes their own
robots on the preferences page; the URL and the secret are write-only (shown masked, never in
the page, not even after an error); only the owner (or an admin, in the admin) reaches a
channel; the team's robot on the coach settings page is the manager's and the admins'; both
languages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from django.test import Client
from django.urls import reverse

from coaching.chat_models import ChannelState, ChatChannel, ChatKind, ChatMessage
from crm import services as crm
from crm.models import AuditEntry

if TYPE_CHECKING:
    from crm.models import User
    from tests.conftest import Company

pytestmark = pytest.mark.django_db

URL = "https://oapi.dingtalk.com/robot/send?access_token=9d1e0c7a2b5f8e11c3f2a"
SECRET = "SECb0b1b2b3b4b5b6b7b8b9c0c1c2c3c4c5c6c7c8c9d0d1d2d3d4d5d6d7d8d9e0e1"
PREFS = "/coach/preferences/"


@pytest.fixture(autouse=True)
def _public_urls(settings, monkeypatch) -> None:
    # The checks run as in production, with DNS answered here: the official host is public.
    settings.KAOPU_CHAT_ALLOW_PRIVATE = False
    import socket

    real = socket.getaddrinfo

    def fake(host: str, *args: Any, **kwargs: Any) -> Any:
        if host == "oapi.dingtalk.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("203.119.206.77", 443))]
        if host == "intranet.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.8", 443))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


def client_for(user: User, language: str = "en") -> Client:
    crm.profile_update(user=user, language=language, time_zone="Asia/Shanghai")
    client = Client()
    client.force_login(user)
    return client


def add(client: Client, **data: str) -> Any:
    form = {"action": "chat_add", "new-platform": "dingtalk", "new-for_pushes": "on"}
    form |= {f"new-{k}": v for k, v in data.items()}
    return client.post(PREFS, form)


def test_a_rep_adds_a_robot_and_sees_it_masked_never_the_address_or_secret(
    company: Company,
) -> None:
    rep = company.rep_a1
    client = client_for(rep)

    answer = add(client, webhook_url=URL, secret=SECRET)

    assert answer.status_code == 302
    channel = ChatChannel.objects.get(owner=rep)
    assert (channel.webhook_url, channel.secret) == (URL, SECRET)
    assert (channel.for_pushes, channel.for_digest) == (True, False)
    page = client.get(PREFS).content.decode()
    assert "https://oapi.dingtalk.com/…•••3f2a" in page
    assert "access_token" not in page and SECRET not in page
    assert "Send a test message" in page
    entry = AuditEntry.objects.get(action="chat_channel_added")
    assert "access_token" not in entry.summary and SECRET not in entry.summary


def test_the_page_speaks_chinese_to_a_chinese_reader(company: Company) -> None:
    client = client_for(company.rep_a1, "zh-hans")
    add(client, webhook_url=URL, secret=SECRET)
    page = client.get(PREFS).content.decode()
    assert "聊天渠道" in page and "发一条测试消息" in page and "钉钉" in page


def test_a_private_address_is_refused_and_not_written_back_into_the_page(
    company: Company,
) -> None:
    client = client_for(company.rep_a1)
    bad = "https://intranet.example.com/admin/delete?all=1"

    answer = add(client, webhook_url=bad, secret=SECRET)

    assert answer.status_code == 422
    page = answer.content.decode()
    assert "private network" in page
    assert "intranet.example.com" not in page and SECRET not in page
    assert not ChatChannel.objects.exists()


def test_a_change_keeps_the_stored_address_when_left_empty_and_a_new_one_mends_a_broken_robot(
    company: Company,
) -> None:
    rep = company.rep_a1
    client = client_for(rep)
    add(client, webhook_url=URL, secret=SECRET)
    channel = ChatChannel.objects.get()
    ChatChannel.objects.filter(pk=channel.pk).update(
        state=ChannelState.BROKEN, broken_reason="300001 token is not exist"
    )
    page = client.get(PREFS).content.decode()
    assert "300001 token is not exist" in page  # the person sees why

    prefix = f"c{channel.pk}"
    client.post(
        PREFS,
        {
            "action": "chat_save",
            "channel": channel.pk,
            f"{prefix}-platform": "dingtalk",
            f"{prefix}-for_digest": "on",
        },
    )
    channel.refresh_from_db()
    assert (channel.webhook_url, channel.secret) == (URL, SECRET)  # kept
    assert (channel.for_pushes, channel.for_digest) == (False, True)
    assert channel.state == ChannelState.BROKEN  # nothing new pasted: still broken

    new_url = URL.replace("3f2a", "0000")
    client.post(
        PREFS,
        {
            "action": "chat_save",
            "channel": channel.pk,
            f"{prefix}-platform": "dingtalk",
            f"{prefix}-webhook_url": new_url,
            f"{prefix}-for_pushes": "on",
        },
    )
    channel.refresh_from_db()
    assert channel.webhook_url == new_url and channel.state == ChannelState.OK


def test_the_test_button_queues_one_message_for_the_worker(company: Company) -> None:
    client = client_for(company.rep_a1)
    add(client, webhook_url=URL)
    channel = ChatChannel.objects.get()

    answer = client.post(PREFS, {"action": "chat_test", "channel": channel.pk})

    assert answer.status_code == 302
    [row] = ChatMessage.objects.all()
    assert (row.kind, row.channel, row.state) == (ChatKind.TEST, channel, "pending")
    assert "test message waiting to send" in client.get(PREFS).content.decode()


def test_another_persons_robot_is_not_found(company: Company) -> None:
    add(client_for(company.rep_a1), webhook_url=URL)
    channel = ChatChannel.objects.get()
    other = client_for(company.rep_a2)
    for action in ("chat_remove", "chat_test", "chat_save"):
        answer = other.post(
            PREFS, {"action": action, "channel": channel.pk, f"c{channel.pk}-platform": "slack"}
        )
        assert answer.status_code == 404
    assert ChatChannel.objects.get().platform == "dingtalk"
    assert not ChatMessage.objects.exists()


def test_remove(company: Company) -> None:
    client = client_for(company.rep_a1)
    add(client, webhook_url=URL)
    channel = ChatChannel.objects.get()
    assert client.post(PREFS, {"action": "chat_remove", "channel": channel.pk}).status_code == 302
    assert not ChatChannel.objects.exists()


def test_the_preferences_page_queries_do_not_grow_with_robots(
    company: Company, django_assert_max_num_queries: Any
) -> None:
    client = client_for(company.rep_a1)
    for _n in range(3):
        add(client, webhook_url=URL)
    with django_assert_max_num_queries(16):
        assert client.get(PREFS).status_code == 200


def test_the_team_robot_is_the_managers_and_the_admins(company: Company) -> None:
    settings_url = reverse("coach-settings")
    manager = client_for(company.manager_a)
    page = manager.get(settings_url).content.decode()
    assert "The team's group robot" in page
    answer = manager.post(
        settings_url,
        {
            "team": company.team_a.pk,
            "action": "robot_save",
            "robot-platform": "dingtalk",
            "robot-webhook_url": URL,
            "robot-secret": SECRET,
        },
    )
    assert answer.status_code == 302
    robot = ChatChannel.objects.get(team=company.team_a)
    assert (robot.owner, robot.for_pushes, robot.for_digest) == (None, False, False)
    page = manager.get(settings_url).content.decode()
    assert "…•••3f2a" in page and "access_token" not in page and SECRET not in page

    # The other team's manager cannot reach it; the admin can.
    other = client_for(company.manager_b)
    answer = other.post(
        settings_url,
        {"team": company.team_a.pk, "action": "robot_remove"},
    )
    assert answer.status_code == 404
    admin = client_for(company.admin)
    answer = admin.post(settings_url, {"team": company.team_a.pk, "action": "robot_test"})
    assert answer.status_code == 302
    assert ChatMessage.objects.get().kind == ChatKind.TEST


def test_the_admin_lists_robots_masked_and_its_form_never_shows_the_secret(
    company: Company,
) -> None:
    add(client_for(company.rep_a1), webhook_url=URL, secret=SECRET)
    channel = ChatChannel.objects.get()
    admin = client_for(company.admin)
    listing = admin.get(reverse("admin:coaching_chatchannel_changelist")).content.decode()
    change = admin.get(
        reverse("admin:coaching_chatchannel_change", args=[channel.pk])
    ).content.decode()
    for page in (listing, change):
        assert "access_token" not in page and SECRET not in page
    assert "…•••3f2a" in listing
