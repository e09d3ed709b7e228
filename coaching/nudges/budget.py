"""Quiet hours and the push budget: when an email may go, what each person had pushed today."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Q

from coaching.models import (
    Delivery,
    EmailKind,
    EmailState,
    NotificationPreference,
    Nudge,
    OutboundEmail,
)
from crm.models import User

# The allowance of what people cause (hand-offs, answers, wins...): emails a person gets at
# once per local day; a burst of one rule counts once. Past it, event nudges wait for the digest.
EVENT_EMAILS_PER_DAY = 20
# Events of one rule to one person this close together are one push that says how many.
BURST = dt.timedelta(minutes=10)


def _in_quiet_hours(local: dt.datetime, pref: NotificationPreference) -> bool:
    start, end, now = pref.quiet_start, pref.quiet_end, local.time()
    if start == end:
        return False
    if start < end:
        return start <= now < end
    return now >= start or now < end


def _quiet_end(local: dt.datetime, pref: NotificationPreference) -> dt.datetime:
    """The next moment the quiet hours are over, in the user's zone (DST-safe)."""
    candidate = local.replace(
        hour=pref.quiet_end.hour, minute=pref.quiet_end.minute, second=0, microsecond=0
    )
    if candidate <= local:
        naive = candidate.replace(tzinfo=None) + dt.timedelta(days=1)
        candidate = naive.replace(tzinfo=local.tzinfo)
    return candidate


def _email_at(user: User, pref: NotificationPreference, now: dt.datetime) -> dt.datetime:
    """When an instant email may go out: now, or when the user's quiet hours end."""
    local = now.astimezone(user.zone)
    return _quiet_end(local, pref) if _in_quiet_hours(local, pref) else now


def _local_midnights(recipients: dict[int, User], now: dt.datetime) -> dict[int, dt.datetime]:
    return {
        pk: now.astimezone(u.zone).replace(hour=0, minute=0, second=0, microsecond=0)
        for pk, u in recipients.items()
    }


@dataclass
class _Allowances:
    """What each person has been pushed today (their own local day; 48 hours back covers every
    time zone), kept apart per allowance: scan findings pushed, event emails sent or queued,
    and the (person, rule) pairs whose event email still waits to go (a burst folds into it)."""

    scan_pushed: dict[int, int]
    event_emails: dict[int, int]
    pending: set[tuple[int, str]]


def _pushed_today(
    recipients: dict[int, User], now: dt.datetime, event_rules: set[str]
) -> _Allowances:
    midnight = _local_midnights(recipients, now)
    since = now - dt.timedelta(hours=48)
    scan_pushed: dict[int, int] = defaultdict(int)
    for recipient_id, created_at in (
        Nudge.objects.filter(
            recipient_id__in=list(recipients), delivery=Delivery.PUSH, created_at__gte=since
        )
        .exclude(rule_id__in=event_rules)
        .values_list("recipient_id", "created_at")
    ):
        if created_at >= midnight[recipient_id]:
            scan_pushed[recipient_id] += 1
    event_emails: dict[int, int] = defaultdict(int)
    pending: set[tuple[int, str]] = set()
    for recipient_id, created_at, state, not_before, rule_id in OutboundEmail.objects.filter(
        Q(created_at__gte=since) | Q(state=EmailState.PENDING),
        recipient_id__in=list(recipients),
        kind=EmailKind.INSTANT,
        nudge__rule_id__in=event_rules,
    ).values_list("recipient_id", "created_at", "state", "not_before", "nudge__rule_id"):
        if created_at >= midnight[recipient_id]:
            event_emails[recipient_id] += 1
        # A burst: the email of the same rule still waits, made minutes ago or held by quiet
        # hours (the night's hand-offs go out as one email in the morning).
        if state == EmailState.PENDING and (created_at >= now - BURST or not_before > now):
            pending.add((recipient_id, rule_id))
    return _Allowances(scan_pushed, event_emails, pending)
