"""The chat robots' channel (issue 17): the outbox's Channel for ChatMessage rows.

The claim, lease, heartbeat, retries and the failed row are the outbox's own
(coaching.delivery.outbox, shared with email); this class only posts one row to its robot and
says what a failure means:

- each robot (a webhook URL, however many channels share it) gets at most
  KAOPU_CHAT_PER_MINUTE messages in any minute: a row over the limit is deferred (due again
  when the oldest of the minute's sends is a minute old, no try counted), never dropped;
  the robot's other rows in the same batch are due as its slots free in turn rather than all at
  the first, so a backlog is not claimed and deferred again in every batch;
- every request has a timeout per phase (KAOPU_CHAT_TIMEOUT_SECONDS) and an overall deadline of
  twice that (a server that trickles its answer a byte at a time is cut off there), and reads at
  most ANSWER_BYTES of the answer, so a hung or hostile platform frees the worker; a robot that
  did not answer is not asked again in the same batch (its other rows retry later), while the
  other robots' rows go on;
- the host is resolved at each send and the connection goes to the address checked (no DNS
  rebinding into the network); a name that does not resolve just then is retried, an address
  that is not public marks the robot broken;
- an invalid key or a removed robot marks the channel broken (once, with the platform's reason,
  written to the audit trail the admins read) and the message goes by email instead; a
  throttle or a server error retries with the outbox's backoff.

The URL and secret never reach a log line or an error text: errors carry the platform's code
and message, or the transport error's class. httpx's own request log (which names the URL) is
kept at WARNING.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import socket
import threading
import time
from typing import Any

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from coaching.chat_models import ChannelState, ChatChannel, ChatKind, ChatMessage
from coaching.delivery.channels import Deferred, Failure
from coaching.delivery.chat_platforms import ChatError, Meaning, payload, read_answer, signed
from coaching.delivery.chat_text import chat_burst, chat_text
from coaching.delivery.chat_urls import HostNotFound, pinned, resolve
from coaching.models import EmailKind, OutboundEmail, OutboxRow
from crm import audit

log = logging.getLogger(__name__)
# httpx logs each request's full URL at INFO: a webhook URL is a credential.
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("httpcore").setLevel(logging.WARNING)

WINDOW = dt.timedelta(minutes=1)
ANSWER_BYTES = 64 * 1024  # the platforms answer in a few hundred bytes


class ChannelBroken(Exception):
    """The robot refused for good (or was found broken before): the message went by email."""


class RobotUnreachable(Exception):
    """The robot did not answer (timeout, refused connection): retried later."""


class DeadlineExceeded(httpx.TimeoutException):
    """The request as a whole outlasted its deadline (a server answering a byte at a time)."""

    def __init__(self) -> None:
        super().__init__("the request outlasted its deadline")


# --- Pacing ------------------------------------------------------------------------------------


def take_slot(channel_id: int, now: dt.datetime) -> list[dt.datetime] | None:
    """Take one of the robot's sends in the minute before `now`: None when taken, else the
    moments its slots free, soonest first. A compare-and-swap on the channel's pace_version,
    so two workers never both take the last slot."""
    limit = settings.KAOPU_CHAT_PER_MINUTE
    for _ in range(20):
        version, slots = ChatChannel.objects.values_list("pace_version", "send_slots").get(
            pk=channel_id
        )
        recent = sorted(
            t for t in (dt.datetime.fromisoformat(s) for s in slots or []) if t > now - WINDOW
        )
        if len(recent) >= limit:
            return [t + WINDOW for t in recent[-limit:]]
        recent.append(now)
        taken = ChatChannel.objects.filter(pk=channel_id, pace_version=version).update(
            send_slots=[t.isoformat() for t in recent[-limit:]], pace_version=version + 1
        )
        if taken:
            return None
    return [now + dt.timedelta(seconds=1)]  # a crowd on this robot: try again in a moment


def pace_holder(channel: ChatChannel) -> int:
    """The channel whose recent sends count for this robot: two people (or a person and the
    team) who pasted the same group robot share its minute, as the platform counts it."""
    first = (
        ChatChannel.objects.filter(webhook_url=channel.webhook_url)
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )
    return first or channel.pk


# --- Broken robots -----------------------------------------------------------------------------


def mark_broken(channel: ChatChannel, reason: str) -> bool:
    """Mark the channel broken with the platform's reason; True the first time (then the
    admins read it in the audit trail, the person on their preferences page)."""
    changed = ChatChannel.objects.filter(pk=channel.pk, state=ChannelState.OK).update(
        state=ChannelState.BROKEN, broken_reason=reason[:300], broken_at=timezone.now()
    )
    if changed:
        channel.state, channel.broken_reason = ChannelState.BROKEN, reason[:300]
        audit.record(
            actor=None,
            action="chat_channel_broken",
            obj=channel,
            summary=f"{channel}: {reason}",
        )
        log.warning("chat: %s marked broken: %s", channel, reason)
    return bool(changed)


def fall_back(row: ChatMessage) -> bool:
    """The row's message by email instead (a push or a digest of a person's channel): True
    when an email carries it. Idempotent: the nudge has one email, the day one digest."""
    user = row.channel.owner
    if user is None or not user.email or not user.is_active:
        return False  # a team's robot: the feed and the team page still have it
    now = timezone.now()
    with transaction.atomic():
        if row.kind == ChatKind.INSTANT and row.nudge_id:
            OutboundEmail.objects.get_or_create(
                nudge_id=row.nudge_id,
                defaults={
                    "recipient": user,
                    "kind": EmailKind.INSTANT,
                    "not_before": now,
                    "created_at": now,
                },
            )
        elif row.kind == ChatKind.DIGEST and row.digest_date:
            OutboundEmail.objects.get_or_create(
                recipient=user,
                kind=EmailKind.DIGEST,
                digest_date=row.digest_date,
                defaults={"not_before": now, "created_at": now},
            )
        else:
            return False
        ChatMessage.objects.filter(pk=row.pk).update(fell_back=True)
    return True


# --- The channel -------------------------------------------------------------------------------


class ChatSender:
    """Posts ChatMessage rows to their robots, one pooled HTTP client per batch."""

    name = "chat"
    model: type[OutboxRow] = ChatMessage
    related: tuple[str, ...] = (
        "channel",
        "channel__owner",
        "channel__team",
        "channel__team__manager",
        "recipient",
        "nudge",
        "credit_post",
        "credit_post__author",
    )

    def __init__(self, *, now: dt.datetime | None = None) -> None:
        self.client: httpx.Client | None = None
        self.down: set[int] = set()  # robots that did not answer in this batch
        # Robots found full in this batch: when their slots free, and how many rows deferred.
        self.paced: dict[int, tuple[list[dt.datetime], int]] = {}
        self.now = now

    def prepare(self, row: ChatMessage) -> bool:
        if row.kind == ChatKind.INSTANT and row.nudge_id:
            burst = chat_burst(row)
            setattr(row, "burst", burst)  # noqa: B010 - read back by chat_text, not a field
            return bool(burst)
        return True

    def _client(self) -> httpx.Client:
        if self.client is None:
            wait = settings.KAOPU_CHAT_TIMEOUT_SECONDS
            self.client = httpx.Client(
                timeout=httpx.Timeout(wait, connect=wait, read=wait, write=wait, pool=wait),
                follow_redirects=False,
                headers={"User-Agent": "Kaopu"},
                # A connection per request: its socket is known to the deadline's watchdog (a
                # pooled one is not), at the cost of a handshake per message (20 a minute at most).
                limits=httpx.Limits(max_keepalive_connections=0),
            )
        return self.client

    def send(self, row: ChatMessage) -> None:
        channel = row.channel
        if channel.state == ChannelState.BROKEN:
            fall_back(row)
            raise ChannelBroken(f"channel broken: {channel.broken_reason}")
        if channel.pk in self.down:
            raise RobotUnreachable("the robot did not answer earlier in this batch")
        holder = pace_holder(channel)
        frees, deferred = self.paced.get(holder, ([], 0))
        if not frees:
            frees = take_slot(holder, self.now or timezone.now()) or []
        if frees:
            # The n-th row deferred in this batch is due when the n-th slot frees (a minute
            # later for each round of the slots), not all at the first: a backlog is claimed
            # about as fast as it can go, not claimed and deferred again in every batch.
            self.paced[holder] = (frees, deferred + 1)
            rounds, slot = divmod(deferred, len(frees))
            raise Deferred(frees[slot] + rounds * WINDOW)
        try:
            address = resolve(channel.webhook_url)
        except HostNotFound as error:
            self.down.add(channel.pk)
            raise RobotUnreachable(f"HostNotFound: {error}") from None
        except ValidationError as error:
            mark_broken(channel, " ".join(error.messages))
            fall_back(row)
            raise ChannelBroken("the webhook address is not allowed") from None
        body = payload(channel.platform, chat_text(row))
        url, body = signed(
            channel.platform, channel.webhook_url, channel.secret, body, now_s=time.time()
        )
        try:
            status, content = self._post(url, address, body, key=row.key)
        except httpx.HTTPError as error:
            self.down.add(channel.pk)
            # The class only: httpx's messages may quote the URL.
            raise RobotUnreachable(type(error).__name__) from None
        try:
            read_answer(channel.platform, status, content)
        except ChatError as error:
            if error.meaning == Meaning.BROKEN:
                mark_broken(channel, f"{error.code} {error.message}".strip())
                fall_back(row)
            raise

    def _post(self, url: str, address: str, body: Any, *, key: str) -> tuple[int, bytes]:
        """POST to the checked address (Host and TLS name of the URL's host), reading at most
        ANSWER_BYTES of the answer, within the deadline: at the deadline a watchdog shuts the
        socket down, which ends whatever phase the request is in."""
        target, host, name = pinned(url, address)
        sockets: list[socket.socket] = []
        expired = threading.Event()

        def trace(event: str, info: dict[str, Any]) -> None:
            if event == "connection.connect_tcp.complete":
                raw = info["return_value"].get_extra_info("socket")
                if raw is not None:  # a second handle on it, for the watchdog only
                    sockets.append(socket.socket(fileno=os.dup(raw.fileno())))
                    if expired.is_set():
                        cut()

        def cut() -> None:
            expired.set()
            for sock in sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

        watchdog = threading.Timer(2 * settings.KAOPU_CHAT_TIMEOUT_SECONDS, cut)
        watchdog.daemon = True
        watchdog.start()
        try:
            with self._client().stream(
                "POST",
                target,
                json=body,
                headers={"Host": host, "X-Kaopu-Key": key},
                extensions={"sni_hostname": name, "trace": trace},
            ) as response:
                content = b""
                for chunk in response.iter_bytes():
                    content += chunk
                    if len(content) >= ANSWER_BYTES:
                        content = content[:ANSWER_BYTES]
                        break
                return response.status_code, content
        except httpx.HTTPError:
            if expired.is_set():
                raise DeadlineExceeded from None
            raise
        finally:
            watchdog.cancel()
            watchdog.join()  # a cut under way ends before its sockets close (no fd reuse)
            for sock in sockets:
                sock.close()

    def classify(self, error: BaseException) -> Failure:
        if isinstance(error, ChatError):
            if error.meaning == Meaning.TEMPORARY:
                return Failure.TEMPORARY
            return Failure.PERMANENT
        if isinstance(error, RobotUnreachable | TimeoutError | OSError):
            # Not DOWN: one robot that does not answer must not hold up the other robots'
            # rows in the claim; this robot's own rows are not tried again in this batch.
            return Failure.TEMPORARY
        return Failure.PERMANENT  # broken, or a message we could not build

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
