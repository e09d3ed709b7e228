"""A channel's one job: turn an outbox row into a message and hand it to its server, and say
what a failure means. The outbox (claims, leases, retries, the failed row) is the same for
every channel; email is the first. The chat robots (issue 17, coaching.delivery.chat) are
another class with the same methods behind the same claim, on their own rows (ChatMessage).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import smtplib
from enum import StrEnum
from typing import Any, Protocol

from django.core.mail import mailers

from coaching.delivery.messages import burst_of, render
from coaching.models import OutboundEmail, OutboxRow


class Failure(StrEnum):
    # Try again later (4xx): the server is up, the next row may well go through.
    TEMPORARY = "temporary"
    # The server is down or hung (timeout, refused connection, dropped link): try this row
    # again later and stop the batch, so the other rows wait for their turn instead of each
    # waiting out a timeout.
    DOWN = "down"
    # Never going through as it is (5xx such as an unknown mailbox, a message we cannot build).
    PERMANENT = "permanent"


class Deferred(Exception):
    """Raised by `send` when the row may not go yet (a paced robot's minute is full): the row
    is due again at `until`, no try counted."""

    def __init__(self, until: dt.datetime) -> None:
        super().__init__(f"paced until {until.isoformat()}")
        self.until = until


class Channel(Protocol):
    name: str
    # The outbox rows this channel sends, and what to load with each.
    model: type[OutboxRow]
    related: tuple[str, ...]

    def prepare(self, row: Any) -> bool:
        """Look up what the row will say; False when nothing is left worth sending (its nudge
        and all that folded into it were resolved meanwhile)."""

    def send(self, row: Any) -> None:
        """Build the row's message and hand it over; raise if the server did not accept it."""

    def classify(self, error: BaseException) -> Failure:
        """What the exception `send` raised means for the row."""

    def close(self) -> None:
        """Let go of the connection kept across a batch."""


class EmailChannel:
    """SMTP through Django's default mailer, one connection kept across a batch (reopened by
    the mailer if it dropped). Each SMTP step waits at most EMAIL_TIMEOUT seconds."""

    name = "email"
    model: type[OutboxRow] = OutboundEmail
    related: tuple[str, ...] = ("recipient", "nudge")

    def __init__(self) -> None:
        self.mailer: Any = None

    def prepare(self, row: OutboundEmail) -> bool:
        if row.nudge is None:
            return True
        burst = burst_of(row)
        setattr(row, "burst", burst)  # noqa: B010 - read back by messages.render, not a field
        return bool(burst)

    def send(self, row: OutboundEmail) -> None:
        message = render(row)
        try:
            if self.mailer is None:
                self.mailer = mailers.default
                # Opened here, the connection stays open across the batch (send_messages alone
                # would open and close one per message).
                self.mailer.open()
            if not self.mailer.send_messages([message]):
                raise smtplib.SMTPException("the mail server accepted nothing")
        except BaseException:
            self.close()  # a half-spoken SMTP session is not reused
            raise

    def classify(self, error: BaseException) -> Failure:
        if isinstance(error, smtplib.SMTPRecipientsRefused):
            codes = [code for code, _message in error.recipients.values()]
            return Failure.PERMANENT if codes and min(codes) >= 500 else Failure.TEMPORARY
        if isinstance(error, smtplib.SMTPConnectError):
            return Failure.DOWN
        if isinstance(error, smtplib.SMTPResponseException):
            if 500 <= error.smtp_code < 600:
                return Failure.PERMANENT
            return Failure.TEMPORARY if error.smtp_code >= 400 else Failure.DOWN
        if isinstance(error, smtplib.SMTPServerDisconnected | TimeoutError | OSError):
            return Failure.DOWN
        if isinstance(error, smtplib.SMTPException):
            return Failure.TEMPORARY
        return Failure.PERMANENT  # the message could not be built: retrying will not help

    def close(self) -> None:
        if self.mailer is not None:
            with contextlib.suppress(Exception):
                self.mailer.close()
            self.mailer = None
