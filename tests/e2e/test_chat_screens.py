"""The chat channel settings in a browser, both languages (issue 17): a rep adds a DingTalk robot
through the form, sees it masked, queues a test message; a broken WeCom robot says why. The
screens go to artifacts/screenshots/ (ignored by git); with KAOPU_DOCS_SCREENS=1 they replace
docs/chat-channels-en.png and docs/chat-channels-zh.png, which the README shows."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from coaching.chat_models import ChannelState, ChatChannel
from crm import services as crm
from crm.models import Role
from tests.e2e.helpers import LANGS, SCREENSHOTS, Browsing, assert_language
from tests.factories import make_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DOCS = Path(__file__).resolve().parents[2] / "docs"
URL = "https://oapi.dingtalk.com/robot/send?access_token=9d1e0c7a2b5f8e11c3f2a"
SECRET = "SEC6b2d0e4f19a7c3b8e5d1f0a9c7b3e2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a1c3"


@pytest.mark.parametrize("lang", LANGS)
def test_a_rep_adds_a_robot_and_sees_it_masked(
    lang: str, browsing: Browsing, settings, transactional_db: None
) -> None:
    settings.KAOPU_CHAT_ALLOW_PRIVATE = True  # no DNS in the test: the address is taken as is
    name = "小光" if lang == "zh-hans" else "Xiao Guang"
    rep = make_user(username="xiao.guang", first_name=name, role=Role.REP, language=lang)
    crm.profile_update(user=rep, language=lang, time_zone="Asia/Shanghai")
    ChatChannel.objects.create(
        owner=rep,
        platform="wecom",
        webhook_url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=0c5e-77a1-9f",
        for_pushes=False,
        for_digest=True,
        state=ChannelState.BROKEN,
        broken_reason="93000 invalid webhook url",
        broken_at=timezone.now(),
    )
    page = browsing.log_in(rep)
    page.goto("/coach/preferences/")
    add = page.locator("details.chat-add")
    add.locator("summary").click()
    add.locator("select[name=new-platform]").select_option("dingtalk")
    add.locator("input[name=new-webhook_url]").fill(URL)
    add.locator("input[name=new-secret]").fill(SECRET)
    add.locator("input[name=new-for_digest]").check()
    add.locator("button[type=submit]").click()
    page.wait_for_url("**/coach/preferences/#chat")

    section = page.locator("#chat")
    expect(section.locator(".masked").last).to_have_text("https://oapi.dingtalk.com/…•••3f2a")
    dingtalk = section.locator("article.chat-channel").last
    dingtalk.locator("form:has(input[value=chat_test]) button").click()
    page.wait_for_url("**/coach/preferences/#chat")
    html = page.content()
    assert "access_token" not in html and SECRET not in html and "0c5e-77a1" not in html
    assert_language(page, lang)
    expect(section.locator(".chat-channel.broken .notice")).to_contain_text("93000")

    page.evaluate("() => document.fonts.ready")
    folder = DOCS if os.environ.get("KAOPU_DOCS_SCREENS") else SCREENSHOTS
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"chat-channels-{'zh' if lang == 'zh-hans' else 'en'}.png"
    section.screenshot(path=target)
    assert target.stat().st_size > 10_000
