"""Fake chat platforms on 127.0.0.1 (issue 17): one threading HTTP server per platform that
checks what the real robot checks (its token in the URL, the message format, DingTalk's and
Feishu's signatures with a timestamp within the hour, at most 20 messages a minute per robot)
and answers in the platform's words. On command it fails (a removed robot), throttles, is down
(503) or hangs (answers after `hang_seconds`, or never).

Messages are kept with their X-Kaopu-Key, so a test counts each arrival by its idempotency key.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlsplit

PER_MINUTE = 20


@dataclass
class Received:
    key: str
    token: str
    body: dict[str, Any]
    at: float


class FakePlatform:
    """The common part: the server, the robots it knows (token → secret), the modes."""

    platform = ""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.robots: dict[str, str] = {}  # token → secret ("" when unsigned)
        self.received: list[Received] = []
        self.hosts: list[str] = []  # the Host header of each message taken
        self.refused: Counter[str] = Counter()  # why → how many
        self.mode = "ok"  # ok | removed | throttle | down | hang
        self.hang_seconds = 3600.0
        self.per_minute = PER_MINUTE
        self.sends: dict[str, deque[float]] = {}
        self.server: ThreadingHTTPServer | None = None
        self.hanging = threading.Event()  # set to release hung requests at shutdown

    # -- the robot's side ---------------------------------------------------------------------

    def add_robot(self, token: str, secret: str = "") -> str:
        self.robots[token] = secret
        return self.url(token)

    def url(self, token: str) -> str:  # pragma: no cover - each platform's own
        raise NotImplementedError

    @property
    def base(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def keys(self) -> Counter[str]:
        with self.lock:
            return Counter(r.key for r in self.received)

    def count(self) -> int:
        with self.lock:
            return len(self.received)

    def max_per_minute(self, token: str | None = None) -> int:
        """The most messages one robot took in any 60 s (sliding)."""
        with self.lock:
            times = sorted(r.at for r in self.received if token in (None, r.token))
        best, start = 0, 0
        for end in range(len(times)):
            while times[end] - times[start] >= 60:
                start += 1
            best = max(best, end - start + 1)
        return best

    # -- what each platform checks and answers ------------------------------------------------

    def token_of(self, path: str, query: dict[str, list[str]]) -> str:  # pragma: no cover
        raise NotImplementedError

    def check_signature(self, secret: str, query: dict[str, list[str]], body: Any) -> bool:
        return True

    def check_format(self, body: Any) -> bool:  # pragma: no cover
        raise NotImplementedError

    def answer(self, outcome: str) -> tuple[int, dict[str, str], bytes]:  # pragma: no cover
        """outcome: ok | bad_token | bad_sign | bad_format | throttled | down."""
        raise NotImplementedError

    # -- handling one request -----------------------------------------------------------------

    def handle(self, path: str, headers: Any, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(path)
        query = parse_qs(parts.query, keep_blank_values=True)
        if self.mode == "down":
            return self.answer("down")
        if self.mode == "hang":
            self.hanging.wait(self.hang_seconds)
            return self.answer("down")
        token = self.token_of(parts.path, query)
        if self.mode == "removed" or token not in self.robots:
            self._refuse("bad_token")
            return self.answer("bad_token")
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = None
        if not self.check_signature(self.robots[token], query, body):
            self._refuse("bad_sign")
            return self.answer("bad_sign")
        if not isinstance(body, dict) or not self.check_format(body):
            self._refuse("bad_format")
            return self.answer("bad_format")
        now = time.time()
        with self.lock:
            window = self.sends.setdefault(token, deque())
            while window and now - window[0] >= 60:
                window.popleft()
            if self.mode == "throttle" or len(window) >= self.per_minute:
                self.refused["throttled"] += 1
                return self.answer("throttled")
            window.append(now)
            self.hosts.append(headers.get("Host", ""))
            self.received.append(
                Received(key=headers.get("X-Kaopu-Key", ""), token=token, body=body, at=now)
            )
        return self.answer("ok")

    def _refuse(self, why: str) -> None:
        with self.lock:
            self.refused[why] += 1

    # -- the server ---------------------------------------------------------------------------

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                status, headers, content = fake.handle(self.path, self.headers, raw)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(content)))
                    self.end_headers()
                    self.wfile.write(content)
                except OSError:
                    pass  # the client gave up waiting (a hung platform)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.hanging.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (a killed worker, a timeout) is not the test's news


def _json(status: int, data: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(data).encode()


class FakeWeCom(FakePlatform):
    """qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…: markdown (≤ 4096 bytes) or text."""

    platform = "wecom"

    def url(self, token: str) -> str:
        return f"{self.base}/cgi-bin/webhook/send?key={token}"

    def token_of(self, path: str, query: dict[str, list[str]]) -> str:
        return query.get("key", [""])[0] if path == "/cgi-bin/webhook/send" else ""

    def check_format(self, body: Any) -> bool:
        kind = body.get("msgtype")
        if kind == "markdown":
            content = (body.get("markdown") or {}).get("content")
            return isinstance(content, str) and 0 < len(content.encode()) <= 4096
        if kind == "text":
            return isinstance((body.get("text") or {}).get("content"), str)
        return False

    def answer(self, outcome: str) -> tuple[int, dict[str, str], bytes]:
        return {
            "ok": _json(200, {"errcode": 0, "errmsg": "ok"}),
            "bad_token": _json(200, {"errcode": 93000, "errmsg": "invalid webhook url"}),
            "bad_sign": _json(200, {"errcode": 93000, "errmsg": "invalid webhook url"}),
            "bad_format": _json(200, {"errcode": 40008, "errmsg": "invalid message type"}),
            "throttled": _json(200, {"errcode": 45009, "errmsg": "api freq out of limit"}),
            "down": _json(503, {"errcode": -1, "errmsg": "system busy"}),
        }[outcome]


class FakeDingTalk(FakePlatform):
    """oapi.dingtalk.com/robot/send?access_token=…[&timestamp=ms&sign=…]: markdown, text or
    actionCard; a signed robot checks the sign and a timestamp within the hour."""

    platform = "dingtalk"

    def url(self, token: str) -> str:
        return f"{self.base}/robot/send?access_token={token}"

    def token_of(self, path: str, query: dict[str, list[str]]) -> str:
        return query.get("access_token", [""])[0] if path == "/robot/send" else ""

    def check_signature(self, secret: str, query: dict[str, list[str]], body: Any) -> bool:
        if not secret:
            return True
        try:
            ms = int(query["timestamp"][0])
            # parse_qs has already URL-decoded the sign once.
            sign = query["sign"][0]
        except (KeyError, ValueError, IndexError):
            return False
        if abs(time.time() * 1000 - ms) > 3600 * 1000:
            return False
        want = base64.b64encode(
            hmac.new(secret.encode(), f"{ms}\n{secret}".encode(), hashlib.sha256).digest()
        ).decode()
        return hmac.compare_digest(want, sign) or hmac.compare_digest(want, unquote_plus(sign))

    def check_format(self, body: Any) -> bool:
        kind = body.get("msgtype")
        if kind == "markdown":
            md = body.get("markdown") or {}
            return bool(md.get("title")) and bool(md.get("text"))
        if kind == "actionCard":
            card = body.get("actionCard") or {}
            single = bool(card.get("singleTitle")) and bool(card.get("singleURL"))
            return bool(card.get("title")) and bool(card.get("text")) and single
        return kind == "text" and bool((body.get("text") or {}).get("content"))

    def answer(self, outcome: str) -> tuple[int, dict[str, str], bytes]:
        return {
            "ok": _json(200, {"errcode": 0, "errmsg": "ok"}),
            "bad_token": _json(200, {"errcode": 300001, "errmsg": "token is not exist"}),
            "bad_sign": _json(200, {"errcode": 310000, "errmsg": "sign not match"}),
            "bad_format": _json(200, {"errcode": 40035, "errmsg": "缺少参数 json"}),
            "throttled": _json(200, {"errcode": 130101, "errmsg": "send too fast"}),
            "down": _json(503, {"errcode": -1, "errmsg": "系统繁忙"}),
        }[outcome]


class FakeFeishu(FakePlatform):
    """open.feishu.cn/open-apis/bot/v2/hook/…: interactive card, post or text; a signed bot
    checks timestamp (seconds, within the hour) and sign in the body."""

    platform = "feishu"

    def url(self, token: str) -> str:
        return f"{self.base}/open-apis/bot/v2/hook/{token}"

    def token_of(self, path: str, query: dict[str, list[str]]) -> str:
        prefix = "/open-apis/bot/v2/hook/"
        return path[len(prefix) :] if path.startswith(prefix) else ""

    def check_signature(self, secret: str, query: dict[str, list[str]], body: Any) -> bool:
        if not secret:
            return True
        if not isinstance(body, dict):
            return False
        try:
            seconds = int(body["timestamp"])
            sign = str(body["sign"])
        except (KeyError, ValueError):
            return False
        if abs(time.time() - seconds) > 3600:
            return False
        key = f"{seconds}\n{secret}".encode()
        want = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
        return hmac.compare_digest(want, sign)

    def check_format(self, body: Any) -> bool:
        kind = body.get("msg_type")
        if kind == "interactive":
            card = body.get("card") or {}
            title = ((card.get("header") or {}).get("title") or {}).get("content")
            return bool(title) and isinstance(card.get("elements"), list) and card["elements"]
        if kind == "post":
            return isinstance((body.get("content") or {}).get("post"), dict)
        return kind == "text" and bool((body.get("content") or {}).get("text"))

    def answer(self, outcome: str) -> tuple[int, dict[str, str], bytes]:
        return {
            "ok": _json(200, {"code": 0, "msg": "success", "data": {}}),
            "bad_token": _json(
                200, {"code": 19001, "msg": "param invalid: incoming webhook access token invalid"}
            ),
            "bad_sign": _json(
                200,
                {
                    "code": 19021,
                    "msg": "sign match fail or timestamp is not within one hour from current time",
                },
            ),
            "bad_format": _json(200, {"code": 19002, "msg": "params error, msg_type need"}),
            "throttled": _json(200, {"code": 9499, "msg": "too many request"}),
            "down": _json(503, {"code": -1, "msg": "service unavailable"}),
        }[outcome]


class FakeSlack(FakePlatform):
    """hooks.slack.com/services/T…/B…/…: text and/or blocks; answers in words, 429 with
    Retry-After when throttled."""

    platform = "slack"

    def url(self, token: str) -> str:
        return f"{self.base}/services/T0KAOPU/B0KAOPU/{token}"

    def token_of(self, path: str, query: dict[str, list[str]]) -> str:
        prefix = "/services/T0KAOPU/B0KAOPU/"
        return path[len(prefix) :] if path.startswith(prefix) else ""

    def check_format(self, body: Any) -> bool:
        blocks = body.get("blocks")
        if blocks is not None:
            ok = isinstance(blocks, list) and all(
                isinstance(b, dict) and b.get("type") for b in blocks
            )
            if not ok or len(blocks) > 50:
                return False
        return bool(body.get("text")) or bool(blocks)

    def answer(self, outcome: str) -> tuple[int, dict[str, str], bytes]:
        text = {"Content-Type": "text/html"}
        return {
            "ok": (200, text, b"ok"),
            "bad_token": (403, text, b"invalid_token"),
            "bad_sign": (403, text, b"invalid_token"),
            "bad_format": (400, text, b"invalid_payload"),
            "throttled": (429, text | {"Retry-After": "30"}, b"rate_limited"),
            "down": (503, text, b"service_unavailable"),
        }[outcome]


PLATFORMS: dict[str, type[FakePlatform]] = {
    "wecom": FakeWeCom,
    "dingtalk": FakeDingTalk,
    "feishu": FakeFeishu,
    "slack": FakeSlack,
}


@contextlib.contextmanager
def fake_platforms() -> Iterator[dict[str, FakePlatform]]:
    """The four fakes, started; stopped (and any hung request released) after."""
    fakes = {name: cls() for name, cls in PLATFORMS.items()}
    for fake in fakes.values():
        fake.start()
    try:
        yield fakes
    finally:
        for fake in fakes.values():
            fake.stop()
