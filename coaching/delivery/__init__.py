"""Delivery: what the outbox's messages say (messages), how a channel sends one (channels) and
how the outbox is sent, with leased claims and retries (outbox)."""

from coaching.delivery.messages import build_digests, burst_of, digest_lines, render
from coaching.delivery.outbox import (
    active_senders,
    backoff_seconds,
    claim,
    deliver_due,
    due_count,
    failed_for,
    new_owner,
    outbox_resend,
)

__all__ = [
    "active_senders",
    "backoff_seconds",
    "build_digests",
    "burst_of",
    "claim",
    "deliver_due",
    "digest_lines",
    "due_count",
    "failed_for",
    "new_owner",
    "outbox_resend",
    "render",
]
