"""Chat robots (issue 17), the small parts: the two signatures against values worked out by
hand from the platforms' recipes, the masking, the URL check against request forgery, and what
each platform's answer means."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import parse_qs, quote_plus, urlsplit

import pytest
from django.core.exceptions import ValidationError

from coaching.chat_models import ChatChannel
from coaching.delivery.chat_platforms import (
    ChatError,
    ChatText,
    Meaning,
    dingtalk_sign,
    feishu_sign,
    payload,
    read_answer,
    signed,
)
from coaching.delivery.chat_urls import check_url, mask

SECRET = "SEC000000000000000000000000000000000000000000000000000000000000aa"


def test_dingtalk_signs_timestamp_newline_secret_with_the_secret_in_the_query() -> None:
    ms = 1_700_000_000_123
    url, body = signed(
        "dingtalk",
        "https://oapi.dingtalk.com/robot/send?access_token=abc",
        SECRET,
        {"msgtype": "text"},
        now_s=ms / 1000,
    )
    query = parse_qs(urlsplit(url).query)
    assert query["access_token"] == ["abc"] and query["timestamp"] == [str(ms)]
    want = base64.b64encode(
        hmac.new(SECRET.encode(), f"{ms}\n{SECRET}".encode(), hashlib.sha256).digest()
    ).decode()
    assert query["sign"] == [want]  # parse_qs undid the URL-encoding once
    assert dingtalk_sign(SECRET, ms) == quote_plus(want)  # URL-encoded in the URL
    assert body == {"msgtype": "text"}


def test_feishu_signs_with_timestamp_newline_secret_as_the_key_in_the_body() -> None:
    url, body = signed(
        "feishu", "https://open.feishu.cn/open-apis/bot/v2/hook/x", SECRET, {"a": 1}, now_s=1e9
    )
    key = f"1000000000\n{SECRET}".encode()
    want = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    assert url.endswith("/hook/x")
    assert body == {"timestamp": "1000000000", "sign": want, "a": 1}
    assert feishu_sign(SECRET, 1_000_000_000) == want


def test_no_secret_no_signature() -> None:
    assert signed("dingtalk", "https://x/robot/send?access_token=a", "", {}, now_s=1.0) == (
        "https://x/robot/send?access_token=a",
        {},
    )


def test_the_digest_lists_its_lines_with_their_links_on_every_platform() -> None:
    text = ChatText(
        title="T",
        sentence="S",
        link_label="Open",
        link_url="https://k/nudges/",
        lines=[("first <b>", "https://k/1"), ("second", "https://k/2")],
        more="and 3 more",
    )
    assert "1. [first <b>](https://k/1)" in payload("wecom", text)["markdown"]["content"]
    slack = str(payload("slack", text)["blocks"])
    assert "<https://k/1|first &lt;b&gt;>" in slack and "and 3 more" in slack
    assert "[second](https://k/2)" in str(payload("feishu", text))
    assert payload("dingtalk", text)["actionCard"]["singleURL"] == "https://k/nudges/"


@pytest.mark.parametrize(
    ("platform", "status", "content", "meaning"),
    [
        ("wecom", 200, b'{"errcode":93000,"errmsg":"invalid webhook url"}', Meaning.BROKEN),
        ("wecom", 200, b'{"errcode":45009,"errmsg":"api freq out of limit"}', Meaning.TEMPORARY),
        ("dingtalk", 200, b'{"errcode":300001,"errmsg":"token is not exist"}', Meaning.BROKEN),
        ("dingtalk", 200, b'{"errcode":400102,"errmsg":"robot stopped"}', Meaning.BROKEN),
        ("dingtalk", 200, b'{"errcode":130101,"errmsg":"send too fast"}', Meaning.TEMPORARY),
        ("dingtalk", 200, b'{"errcode":40035,"errmsg":"bad json"}', Meaning.PERMANENT),
        ("feishu", 200, b'{"code":19021,"msg":"sign match fail"}', Meaning.BROKEN),
        ("feishu", 200, b'{"code":9499,"msg":"too many request"}', Meaning.TEMPORARY),
        ("feishu", 200, b'{"code":11232,"msg":"frequency limited"}', Meaning.TEMPORARY),
        ("slack", 403, b"invalid_token", Meaning.BROKEN),
        ("slack", 404, b"no_service", Meaning.BROKEN),
        ("slack", 410, b"channel_is_archived", Meaning.BROKEN),
        ("slack", 429, b"rate_limited", Meaning.TEMPORARY),
        ("slack", 400, b"invalid_payload", Meaning.PERMANENT),
        ("feishu", 502, b"", Meaning.TEMPORARY),
    ],
)
def test_each_platforms_answer_is_read(platform, status, content, meaning) -> None:
    with pytest.raises(ChatError) as caught:
        read_answer(platform, status, content)
    assert caught.value.meaning == meaning


@pytest.mark.parametrize(
    ("platform", "content"),
    [
        ("wecom", b'{"errcode":0,"errmsg":"ok"}'),
        ("dingtalk", b'{"errcode":0,"errmsg":"ok"}'),
        ("feishu", b'{"code":0,"msg":"success","data":{}}'),
        ("feishu", b'{"StatusCode":0,"StatusMessage":"success"}'),
        ("slack", b"ok"),
    ],
)
def test_success_is_read_as_success(platform, content) -> None:
    read_answer(platform, 200, content)


def test_the_url_is_shown_masked_and_never_in_the_channels_name() -> None:
    url = "https://oapi.dingtalk.com/robot/send?access_token=9d1e0c7a2b5f8e3f2a"
    assert mask(url) == "https://oapi.dingtalk.com/…•••3f2a"
    channel = ChatChannel(platform="dingtalk", webhook_url=url, secret=SECRET, owner_id=7)
    assert "access_token" not in str(channel) and SECRET not in str(channel)
    assert channel.masked_url == "https://oapi.dingtalk.com/…•••3f2a"


@pytest.mark.parametrize(
    "url",
    [
        "http://oapi.dingtalk.com/robot/send?access_token=a",  # not https
        "https://127.0.0.1/robot/send",
        "https://localhost:8443/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "https://169.254.169.254/latest/meta-data",  # a cloud's metadata service
        "https://[::1]/hook",
        "https://[::ffff:10.0.0.1]/hook",
        "https://0.0.0.0/hook",
        "https://user:pw@hooks.slack.com/services/x",
        "ftp://hooks.slack.com/x",
        "not a url",
    ],
)
def test_private_addresses_and_plain_http_are_refused(settings, url: str) -> None:
    settings.KAOPU_CHAT_ALLOW_PRIVATE = False
    with pytest.raises(ValidationError):
        check_url(url)


def test_a_public_address_is_taken_as_pasted(settings) -> None:
    settings.KAOPU_CHAT_ALLOW_PRIVATE = False
    assert check_url("  https://1.1.1.1/services/T/B/x  ") == "https://1.1.1.1/services/T/B/x"


def test_the_tests_and_debug_may_use_a_local_fake(settings) -> None:
    settings.KAOPU_CHAT_ALLOW_PRIVATE = True
    assert check_url("http://127.0.0.1:8123/robot/send?access_token=a")


@pytest.mark.parametrize(
    ("advice", "sentence"),
    [
        ("停滞不等于没戏。别让宏达一直拖着，也别直接放弃。", "停滞不等于没戏。"),
        (
            "A stalled lead is not a dead one. Instead of letting it drift…",
            "A stalled lead is not a dead one.",
        ),
        ("Decide by 3 Mar. “Quick answers” reward reps.", "Decide by 3 Mar."),
        ("One sentence only", "One sentence only"),
    ],
)
def test_a_push_says_the_advices_first_sentence_only(advice: str, sentence: str) -> None:
    from coaching.delivery.chat_text import first_sentence

    assert first_sentence(advice) == sentence
