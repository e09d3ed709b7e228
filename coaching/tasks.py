"""Celery tasks: thin, idempotent, JSON arguments; each calls one service.

Every task is a poll that derives its work from the database (no task carries a row id), so a
task message lost by the broker (the embedded filesystem broker of `make run` drops one a killed
worker had taken) loses nothing: the next poll finds the same rows. acks_late and
reject_on_worker_lost (config.settings) make Redis redeliver it sooner."""

from __future__ import annotations

import math

from celery import shared_task
from django.conf import settings

from coaching import chat, delivery, handlers, scans
from coaching.chat_models import ChatMessage
from coaching.delivery.chat import ChatSender


@shared_task(acks_late=True)
def process_events() -> int:
    return handlers.process_pending_events()


@shared_task(acks_late=True)
def run_scans() -> dict[str, int]:
    return scans.run_scans()


@shared_task(acks_late=True)
def deliver_emails() -> int:
    """The beat's poll: start one sender per claim's worth of due rows, up to the fan-out less
    the senders at work, so every free worker slot sends. A sender not started within two
    polls expires unread (the next poll starts fresh ones): senders never pile up in a queue
    behind a long backlog."""
    size, fanout = settings.KAOPU_EMAIL_CLAIM_SIZE, settings.KAOPU_EMAIL_FANOUT
    due = delivery.due_count(cap=size * fanout)
    senders = min(math.ceil(due / size), fanout - delivery.active_senders())
    expires = max(2 * settings.KAOPU_EMAIL_POLL_SECONDS, 10.0)
    for _ in range(senders):
        send_emails.apply_async(expires=expires)
    return max(senders, 0)


@shared_task(acks_late=True)
def send_emails() -> dict[str, int]:
    """One sender: small leased claims, one after the other, while rows are due, for at most
    KAOPU_EMAIL_TASK_SECONDS (short, so a one-slot worker, as in `make run`, handles events in
    between). If rows are still due it queues its own continuation, unless the fan-out is
    already at work, so a backlog keeps every slot busy without waiting for the next poll."""
    counts = delivery.deliver_due(limit=1_000_000, seconds=settings.KAOPU_EMAIL_TASK_SECONDS)
    if delivery.due_count(cap=1) and delivery.active_senders() < settings.KAOPU_EMAIL_FANOUT:
        send_emails.apply_async(expires=settings.CELERY_TASK_TIME_LIMIT)
    return counts


@shared_task(acks_late=True)
def build_digests() -> int:
    return delivery.build_digests()


# --- Chat robots (issue 17): the same poll and senders as email, on the chat outbox -----------


@shared_task(acks_late=True)
def deliver_chat() -> int:
    """The beat's poll for the chat outbox, as deliver_emails for email."""
    size, fanout = settings.KAOPU_EMAIL_CLAIM_SIZE, settings.KAOPU_EMAIL_FANOUT
    due = delivery.due_count(cap=size * fanout, model=ChatMessage)
    senders = min(math.ceil(due / size), fanout - delivery.active_senders(model=ChatMessage))
    expires = max(2 * settings.KAOPU_EMAIL_POLL_SECONDS, 10.0)
    for _ in range(senders):
        send_chat.apply_async(expires=expires)
    return max(senders, 0)


@shared_task(acks_late=True)
def send_chat() -> dict[str, int]:
    """One chat sender: leased claims while rows are due, for at most KAOPU_EMAIL_TASK_SECONDS,
    then its own continuation if rows are still due (as send_emails)."""
    counts = delivery.deliver_due(
        limit=1_000_000, seconds=settings.KAOPU_EMAIL_TASK_SECONDS, channel=ChatSender()
    )
    if (
        delivery.due_count(cap=1, model=ChatMessage)
        and delivery.active_senders(model=ChatMessage) < settings.KAOPU_EMAIL_FANOUT
    ):
        send_chat.apply_async(expires=settings.CELERY_TASK_TIME_LIMIT)
    return counts


@shared_task(acks_late=True)
def build_weekly_summaries() -> int:
    return chat.build_weekly_summaries()
