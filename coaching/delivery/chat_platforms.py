"""The four chat platforms' webhook formats, signatures and answers (issue 17).

Pure functions, no database: `payload` turns a ChatText into the body the platform's robot
takes (WeCom markdown, DingTalk actionCard, Feishu interactive card, Slack blocks); `signed`
adds the platform's signature (DingTalk: timestamp and sign in the URL's query; Feishu:
timestamp and sign in the body; both HMAC-SHA256 with the robot's secret, as their docs say);
`read_answer` reads the platform's answer and raises ChatError saying what it means: the robot
is gone or its key is wrong (BROKEN: the channel is marked broken and the message goes by email),
a throttle or a server error (TEMPORARY: retried with backoff), or a message the platform will
never take (PERMANENT: that row fails, visible in the admin).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import quote_plus

from coaching.chat_models import ChatPlatform


@dataclass(frozen=True)
class ChatText:
    """What a chat message says, already in its reader's language: a title, one sentence and
    the action link into Kaopu; a digest adds its lines (text, link) and "and N more"."""

    title: str
    sentence: str
    link_label: str
    link_url: str
    lines: list[tuple[str, str]] = field(default_factory=list)
    more: str = ""


class Meaning(StrEnum):
    BROKEN = "broken"  # the key is wrong or the robot was removed: no retry will help
    TEMPORARY = "temporary"  # throttled or a server error: retry with backoff
    PERMANENT = "permanent"  # the platform refuses this message: fail the row


class ChatError(Exception):
    """A platform's answer that is not a success. `code` is the platform's own (errcode, code,
    the HTTP status, or Slack's error word)."""

    def __init__(self, meaning: Meaning, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}"[:300])
        self.meaning, self.code, self.message = meaning, code, message[:200]


# The platforms' codes (their docs' error tables).
BROKEN_CODES: dict[str, set[int]] = {
    # 93000: invalid webhook URL (the key is wrong, or the robot was removed from the group).
    ChatPlatform.WECOM: {93000},
    # 300001/400101: the access token does not exist; 400102: the robot is switched off;
    # 310000: the signature, keyword or IP check failed (a wrong secret, say).
    ChatPlatform.DINGTALK: {300001, 300005, 310000, 400101, 400102},
    # 19001: the webhook's token is invalid; 19021: the signature does not match; 19022: IP not
    # allowed; 19024: the robot's keyword is not in the message.
    ChatPlatform.FEISHU: {19001, 19021, 19022, 19024},
}
THROTTLE_CODES: dict[str, set[int]] = {
    ChatPlatform.WECOM: {45009},
    ChatPlatform.DINGTALK: {130101, 410100},
    ChatPlatform.FEISHU: {9499, 11232},
}
# Temporary: the platform's "system busy".
BUSY_CODES: dict[str, set[int]] = {
    ChatPlatform.WECOM: {-1},
    ChatPlatform.DINGTALK: {-1},
    ChatPlatform.FEISHU: {-1},
}
SLACK_BROKEN = {
    "invalid_token",
    "no_service",
    "no_team",
    "team_disabled",
    "channel_not_found",
    "channel_is_archived",
    "action_prohibited",
    "no_active_hooks",
}


# --- Formats -----------------------------------------------------------------------------------


def _md_link(label: str, url: str) -> str:
    return f"[{label}]({url})"


def _markdown(text: ChatText) -> str:
    """WeCom's and DingTalk's markdown: a bold title, the sentence, the digest's lines, the
    link."""
    parts = [f"**{text.title}**", "", text.sentence]
    if text.lines:
        parts.append("")
        parts += [f"{n}. {_md_link(line, url)}" for n, (line, url) in enumerate(text.lines, 1)]
        if text.more:
            parts.append(text.more)
    parts += ["", _md_link(text.link_label, text.link_url)]
    return "\n".join(parts)


def _slack_escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack(text: ChatText) -> dict[str, Any]:
    body = _slack_escape(text.sentence)
    if text.lines:
        body += "\n" + "\n".join(
            f"{n}. <{url}|{_slack_escape(line)}>" for n, (line, url) in enumerate(text.lines, 1)
        )
        if text.more:
            body += "\n" + _slack_escape(text.more)
    return {
        "text": f"{text.title}: {text.sentence}",  # the notification's line, and the fallback
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": text.title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": body[:3000]}},
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": text.link_label[:75]},
                        "url": text.link_url,
                        "style": "primary",
                    }
                ],
            },
        ],
    }


def _feishu(text: ChatText) -> dict[str, Any]:
    body = text.sentence
    if text.lines:
        body += "\n" + "\n".join(
            f"{n}. {_md_link(line, url)}" for n, (line, url) in enumerate(text.lines, 1)
        )
        if text.more:
            body += "\n" + text.more
    return {
        "msg_type": "interactive",
        "card": {
            "config": {"wide_screen_mode": True},
            "header": {
                "template": "blue",
                "title": {"tag": "plain_text", "content": text.title},
            },
            "elements": [
                {"tag": "div", "text": {"tag": "lark_md", "content": body}},
                {
                    "tag": "action",
                    "actions": [
                        {
                            "tag": "button",
                            "type": "primary",
                            "text": {"tag": "plain_text", "content": text.link_label},
                            "url": text.link_url,
                        }
                    ],
                },
            ],
        },
    }


def payload(platform: str, text: ChatText) -> dict[str, Any]:
    """The JSON body the platform's robot takes for this message."""
    if platform == ChatPlatform.WECOM:
        # WeCom's robot markdown (at most 4096 bytes; ours are a few hundred).
        return {"msgtype": "markdown", "markdown": {"content": _markdown(text)}}
    if platform == ChatPlatform.DINGTALK:
        # An actionCard: the markdown body with one button into Kaopu.
        return {
            "msgtype": "actionCard",
            "actionCard": {
                "title": text.title,
                "text": _markdown(text),
                "btnOrientation": "0",
                "singleTitle": text.link_label,
                "singleURL": text.link_url,
            },
        }
    if platform == ChatPlatform.FEISHU:
        return _feishu(text)
    if platform == ChatPlatform.SLACK:
        return _slack(text)
    raise ValueError(f"unknown chat platform {platform!r}")


# --- Signatures --------------------------------------------------------------------------------


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk: Base64(HMAC-SHA256(key=secret, "timestamp\\nsecret")), URL-encoded."""
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu: Base64(HMAC-SHA256(key="timestamp\\nsecret", empty message))."""
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def signed(
    platform: str, url: str, secret: str, body: dict[str, Any], *, now_s: float
) -> tuple[str, dict[str, Any]]:
    """The URL and body to post, signed when the platform signs and the robot has a secret."""
    if not secret:
        return url, body
    if platform == ChatPlatform.DINGTALK:
        ms = int(now_s * 1000)
        glue = "&" if "?" in url else "?"
        return f"{url}{glue}timestamp={ms}&sign={dingtalk_sign(secret, ms)}", body
    if platform == ChatPlatform.FEISHU:
        seconds = int(now_s)
        return url, {"timestamp": str(seconds), "sign": feishu_sign(secret, seconds), **body}
    return url, body


# --- Answers -----------------------------------------------------------------------------------


def _json(content: bytes) -> dict[str, Any]:
    try:
        data = json.loads(content or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def read_answer(platform: str, status: int, content: bytes) -> None:
    """Return when the platform took the message; raise ChatError saying what its answer
    means otherwise."""
    if platform == ChatPlatform.SLACK:
        word = content.decode("utf-8", "replace").strip()[:100]
        if status == 200 and word in ("ok", ""):
            return
        if status == 429 or status >= 500:
            raise ChatError(Meaning.TEMPORARY, str(status), word or "throttled")
        if word in SLACK_BROKEN or status in (401, 403, 404, 410):
            raise ChatError(Meaning.BROKEN, word or str(status), word or "webhook refused")
        raise ChatError(Meaning.PERMANENT, word or str(status), word or "refused")
    if status == 429 or status >= 500:
        raise ChatError(Meaning.TEMPORARY, str(status), f"HTTP {status}")
    if status in (401, 403, 404, 410):
        raise ChatError(Meaning.BROKEN, str(status), f"HTTP {status}")
    data = _json(content)
    if platform == ChatPlatform.FEISHU:
        raw = data.get("code", data.get("StatusCode", 0 if status == 200 else status))
        message = str(data.get("msg") or data.get("StatusMessage") or "")
    else:
        raw = data.get("errcode", 0 if status == 200 else status)
        message = str(data.get("errmsg") or "")
    try:
        code = int(raw)
    except (TypeError, ValueError):
        code = -1
    if status == 200 and code == 0:
        return
    if code in BROKEN_CODES.get(platform, set()):
        raise ChatError(Meaning.BROKEN, str(code), message or "robot refused")
    if code in THROTTLE_CODES.get(platform, set()) or code in BUSY_CODES.get(platform, set()):
        raise ChatError(Meaning.TEMPORARY, str(code), message or "throttled")
    raise ChatError(Meaning.PERMANENT, str(code), message or f"HTTP {status}")
