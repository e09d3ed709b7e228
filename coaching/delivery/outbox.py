"""Sending an outbox (coaching.OutboundEmail, coaching.ChatMessage): small leased claims, one
row at a time. Every function works on the model its channel names (`Channel.model`, email by
default): email and chat rows are claimed, leased, retried and failed by this one code.

A sender claims a few due rows at once (KAOPU_EMAIL_CLAIM_SIZE) with a guarded update that
writes its own name and a short lease (KAOPU_EMAIL_LEASE_SECONDS), renewed before each send and,
while one send is in flight, every third of the lease by a heartbeat thread: a slow server that
still answers (EMAIL_TIMEOUT is per SMTP step, a send has five or more) never lets the lease
lapse under a live sender, so no second sender sends the same email again. A killed worker's
heartbeat dies with it: its unsent rows are claimable again as soon as its lease lapses, seconds
later; only the claim's holder can mark a row sent, retried or failed, so a sender whose lease
lapsed (a long stall) cannot overwrite the work of the one that took over.

Each row is handled on its own: a message that cannot be built fails that row only, a database
hiccup skips to the next row (the row's lease lapses and it is retried), a server that is down
or hung costs one timeout per batch, not one per row. A temporary failure (4xx, timeout,
connection error) is retried with capped exponential backoff for KAOPU_EMAIL_RETRY_HOURS; a
permanent one (5xx) fails the row at once. A failed row stays in the outbox for the admin to see
and resend, and the person sees it on their preferences page. Nothing is dropped silently.

The one resend no design can rule out (a crash between the server's accept and our commit)
carries the same Message-ID and X-Kaopu-Key.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from coaching.delivery.channels import Channel, Deferred, EmailChannel, Failure
from coaching.models import EmailState, OutboundEmail, OutboxRow
from crm import audit
from crm.models import User

log = logging.getLogger(__name__)

Counts = dict[str, int]


def new_owner() -> str:
    """A name for one claim's holder: which machine and process, and which claim."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def _lease(now: dt.datetime) -> dt.datetime:
    return now + dt.timedelta(seconds=settings.KAOPU_EMAIL_LEASE_SECONDS)


def due_q(now: dt.datetime) -> Q:
    """Rows to send now: pending and due, or claimed by a sender whose lease has lapsed."""
    return Q(state=EmailState.PENDING, not_before__lte=now) | Q(
        state=EmailState.SENDING, lease_until__lt=now
    )


Model = type[OutboxRow]


def due_count(
    now: dt.datetime | None = None, cap: int = 10_000, *, model: Model = OutboundEmail
) -> int:
    now = now or timezone.now()
    return len(model._default_manager.filter(due_q(now)).values_list("pk", flat=True)[:cap])


def active_senders(now: dt.datetime | None = None, *, model: Model = OutboundEmail) -> int:
    """Senders at work now: each holds one live claim (its rows' lease has not lapsed)."""
    now = now or timezone.now()
    return (
        model._default_manager.filter(state=EmailState.SENDING, lease_until__gte=now)
        .values("claimed_by")
        .distinct()
        .count()
    )


def claim(*, owner: str, size: int, now: dt.datetime, model: Model = OutboundEmail) -> list[int]:
    """Claim up to `size` due rows for `owner`; returns the ids it got (oldest due first).

    The update is guarded by the due condition, so of two senders that picked the same
    candidates each row goes to one; on PostgreSQL the candidates skip rows another sender
    is claiming right now, so concurrent senders take different rows."""
    for _ in range(3):
        candidates = model._default_manager.filter(due_q(now)).order_by("not_before", "id")
        if connection.features.has_select_for_update_skip_locked:
            with transaction.atomic():
                ids = list(
                    candidates.select_for_update(skip_locked=True).values_list("pk", flat=True)[
                        :size
                    ]
                )
                got = _take(model, ids, owner, now)
        else:
            ids = list(candidates.values_list("pk", flat=True)[:size])
            got = _take(model, ids, owner, now)
        if got or not ids:
            return got
    return []


def _take(model: Model, ids: list[int], owner: str, now: dt.datetime) -> list[int]:
    if not ids:
        return []
    taken = model._default_manager.filter(due_q(now), pk__in=ids).update(
        state=EmailState.SENDING, claimed_by=owner, claimed_at=now, lease_until=_lease(now)
    )
    if not taken:
        return []
    return list(
        model._default_manager.filter(pk__in=ids, claimed_by=owner, state=EmailState.SENDING)
        .order_by("not_before", "id")
        .values_list("pk", flat=True)
    )


def backoff_seconds(attempts: int) -> float:
    """Wait before try number `attempts + 1`: 30 s, 1, 2, 4 … minutes, at most the cap."""
    base = settings.KAOPU_EMAIL_BACKOFF_SECONDS
    return float(min(base * 2 ** max(attempts - 1, 0), settings.KAOPU_EMAIL_BACKOFF_CAP_SECONDS))


def deliver_due(
    *,
    limit: int = 200,
    now: dt.datetime | None = None,
    seconds: float | None = None,
    channel: Channel | None = None,
) -> Counts:
    """Send due rows, claim after claim, until none is due, `limit` rows were handled or
    `seconds` have passed; returns how many were sent, retried and failed (and, for a paced
    chat robot, deferred: due again when the robot's minute has room, no try counted)."""
    counts: Counts = {"sent": 0, "retry": 0, "failed": 0}
    channel = channel or EmailChannel()
    deadline = time.monotonic() + seconds if seconds is not None else None
    try:
        while sum(counts.values()) < limit:
            if deadline is not None and time.monotonic() >= deadline:
                break
            owner = new_owner()
            size = min(settings.KAOPU_EMAIL_CLAIM_SIZE, limit - sum(counts.values()))
            try:
                ids = claim(owner=owner, size=size, now=now or timezone.now(), model=channel.model)
            except DatabaseError:
                log.warning("outbox: claiming failed, the database did not answer", exc_info=True)
                _reset_connection()
                break
            if not ids:
                break
            if not send_claimed(ids, owner=owner, channel=channel, counts=counts, now=now):
                break  # the server is down: the other rows wait for their backoff
    finally:
        channel.close()
    return counts


def send_claimed(
    ids: list[int],
    *,
    owner: str,
    channel: Channel,
    counts: Counts,
    now: dt.datetime | None = None,
) -> bool:
    """Send the rows of one claim in order; False when the server is down (the rest of the
    claim is then handed back, due after the first backoff, no attempt counted)."""
    model = channel.model
    for index, pk in enumerate(ids):
        moment = now or timezone.now()
        try:
            # Renew the lease on what is left of the claim, then load the row if it is still
            # ours (a sender that stalled past its lease leaves the row to whoever took it).
            model._default_manager.filter(
                pk__in=ids[index:], claimed_by=owner, state=EmailState.SENDING
            ).update(lease_until=_lease(moment))
            row = (
                model._default_manager.select_related(*channel.related)
                .filter(pk=pk, claimed_by=owner, state=EmailState.SENDING)
                .first()
            )
        except DatabaseError:
            log.warning("outbox: row %s skipped, the database did not answer", pk, exc_info=True)
            _reset_connection()
            continue  # its lease lapses and it is retried
        if row is None:
            continue
        with _Heartbeat(model, row.pk, owner=owner):
            outcome = _deliver_one(row, owner=owner, channel=channel, now=now)
        if outcome == Failure.DOWN:
            counts["retry"] += 1
            _hand_back(model, ids[index + 1 :], owner=owner, now=moment)
            return False
        counts[outcome] = counts.get(outcome, 0) + 1
    return True


class _Heartbeat:
    """While one send is in flight, renew its row's lease every third of the lease, from a
    thread with its own database connection (closed when the send ends). A send that ends
    within the first third, as nearly all do, never touches the database from the thread.
    Guarded by the claim: once another sender holds the row, the heartbeat renews nothing."""

    def __init__(self, model: Model, pk: int, *, owner: str) -> None:
        self.model, self.pk, self.owner = model, pk, owner
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"lease-{pk}", daemon=True)

    def __enter__(self) -> None:
        self.thread.start()

    def __exit__(self, *_exc: object) -> None:
        self.done.set()
        # Not waited for longer: a beat stuck behind a database lock (SQLite waits up to its
        # timeout) must not hold up the sender. Its late update is harmless, being guarded by
        # the claim that the outcome just cleared.
        self.thread.join(timeout=1)

    def _run(self) -> None:
        every = settings.KAOPU_EMAIL_LEASE_SECONDS / 3
        try:
            while not self.done.wait(every):
                try:
                    renewed = self.model._default_manager.filter(
                        pk=self.pk, claimed_by=self.owner, state=EmailState.SENDING
                    ).update(lease_until=_lease(timezone.now()))
                except DatabaseError:
                    # Tried again at the next beat; the lease outlasts one missed beat.
                    log.warning("outbox: row %s lease not renewed", self.pk, exc_info=True)
                    _reset_connection()
                    continue
                if not renewed:
                    return  # no longer ours: nothing to keep alive
        finally:
            connection.close()  # this thread's own connection


def _deliver_one(row: OutboxRow, *, owner: str, channel: Channel, now: dt.datetime | None) -> str:
    attempts = row.attempts + 1
    try:
        worth_it = channel.prepare(row)
    except DatabaseError:
        _reset_connection()
        return "retry"  # left claimed: its lease lapses and it is tried again, no try counted
    if not worth_it:
        # Resolved before we got to it (and all that folded into it): nothing worth sending.
        _finish(row, owner, state=EmailState.SENT, last_error="skipped: nudge closed")
        return "sent"
    try:
        channel.send(row)
    except Deferred as wait:
        # Paced (the robot's minute is full): the row waits its turn, no try counted.
        _finish(row, owner, state=EmailState.PENDING, not_before=wait.until)
        return "deferred"
    except DatabaseError as error:
        # Building the message needs the database: a dropped link is not the row's fault.
        _reset_connection()
        gave_up = _failed(
            row, owner=owner, attempts=attempts, error=error, failure=Failure.TEMPORARY, now=now
        )
        return "failed" if gave_up else "retry"
    except Exception as error:
        failure = channel.classify(error)
        gave_up = _failed(
            row, owner=owner, attempts=attempts, error=error, failure=failure, now=now
        )
        if failure == Failure.DOWN and not gave_up:
            return Failure.DOWN
        return "failed" if gave_up else "retry"
    _finish(row, owner, state=EmailState.SENT, attempts=attempts, last_error="")
    return "sent"


def _failed(
    row: OutboxRow,
    *,
    owner: str,
    attempts: int,
    error: BaseException,
    failure: Failure,
    now: dt.datetime | None,
) -> bool:
    """Record a failed try: due again after the backoff, or failed for good (returns True)
    when it is permanent or the retry period is over."""
    moment = now or timezone.now()
    retry_until = row.retry_until or moment + dt.timedelta(hours=settings.KAOPU_EMAIL_RETRY_HOURS)
    wait = dt.timedelta(seconds=backoff_seconds(attempts))
    gave_up = failure == Failure.PERMANENT or moment + wait > retry_until
    text = f"{type(error).__name__}: {error}"[:2000]
    if failure == Failure.PERMANENT and not isinstance(error, OSError):
        log.error("outbox: row %s failed for good: %s", row.pk, text, exc_info=error)
    else:
        log.warning("outbox: row %s try %s failed (%s): %s", row.pk, attempts, failure, text)
    _finish(
        row,
        owner,
        state=EmailState.FAILED if gave_up else EmailState.PENDING,
        attempts=attempts,
        last_error=text,
        not_before=moment + wait,
        retry_until=retry_until,
    )
    return gave_up


def _finish(row: OutboxRow, owner: str, *, state: str, **fields: object) -> None:
    """Record the outcome, guarded by the claim: only its holder's update counts. One retry
    after a dropped database link, so a sent row is not sent again for want of a commit."""
    fields = {"state": state, "claimed_by": "", "lease_until": None, **fields}
    if state == EmailState.SENT:
        fields["sent_at"] = timezone.now()
    else:
        fields["claimed_at"] = None
    _with_retry(
        lambda: (
            type(row)
            ._default_manager.filter(claimed_by=owner, state=EmailState.SENDING)
            .filter(pk=row.pk)  # last, so bench/run.py finds the row's id as the last parameter
            .update(**fields)
        ),
        f"row {row.pk} → {state}",
    )


def _hand_back(model: Model, ids: list[int], *, owner: str, now: dt.datetime) -> None:
    if not ids:
        return
    wait = dt.timedelta(seconds=settings.KAOPU_EMAIL_BACKOFF_SECONDS)
    _with_retry(
        lambda: model._default_manager.filter(
            pk__in=ids, claimed_by=owner, state=EmailState.SENDING
        ).update(
            state=EmailState.PENDING,
            claimed_by="",
            claimed_at=None,
            lease_until=None,
            not_before=now + wait,
        ),
        f"{len(ids)} rows handed back",
    )


def _with_retry(update: Callable[[], int], what: str) -> None:
    for attempt in (1, 2):
        try:
            if not update():
                log.warning("outbox: %s not recorded: the claim had passed on", what)
            return
        except DatabaseError:
            log.warning("outbox: %s: the database did not answer (try %s)", what, attempt)
            _reset_connection()
    # Left claimed: the lease lapses and the row is tried again (same Message-ID).


def _reset_connection() -> None:
    """Drop a broken database connection; the next query opens a new one."""
    try:
        connection.close()
    except DatabaseError:
        connection.connection = None


def outbox_resend(*, actor: User, ids: list[int], model: Model = OutboundEmail) -> int:
    """Send failed rows again (the admin's one click): due now, tries and retry period
    counted afresh, the last error kept until the next try. Returns how many were requeued."""
    with transaction.atomic():
        rows = list(
            model._default_manager.select_for_update().filter(pk__in=ids, state=EmailState.FAILED)
        )
        model._default_manager.filter(pk__in=[r.pk for r in rows]).update(
            state=EmailState.PENDING,
            attempts=0,
            not_before=timezone.now(),
            retry_until=None,
            claimed_by="",
            lease_until=None,
        )
        audit.record_many(
            actor=actor,
            action="email_resend" if model is OutboundEmail else "chat_resend",
            objects=list(rows),
            summary="sent again by the admin",
        )
    return len(rows)


def failed_for(user: User, *, days: int = 14) -> OutboundEmail | None:
    """The person's latest email that failed for good in the last `days` days, if any: the
    preferences page tells them their email is not reaching them. A failure queued before the
    person's latest email that went through is not told: that later mail reached them. (A row
    marked sent because its nudge closed first, last_error "skipped: …", reached nobody.)"""
    since = timezone.now() - dt.timedelta(days=days)
    latest_sent = (
        OutboundEmail.objects.filter(recipient=user, state=EmailState.SENT, sent_at__isnull=False)
        .exclude(last_error__startswith="skipped")
        .order_by("-sent_at")
        .values("sent_at")[:1]
    )
    return (
        OutboundEmail.objects.filter(recipient=user, state=EmailState.FAILED, created_at__gte=since)
        .filter(created_at__gte=Coalesce(Subquery(latest_sent), Value(since)))
        .order_by("-created_at", "-id")
        .first()
    )
