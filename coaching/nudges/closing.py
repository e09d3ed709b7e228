"""Closing nudges: resolved when their action happens, expired when their lead moves on."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db.models import Q
from django.utils import timezone

from coaching import playbook
from coaching.models import Nudge, NudgeState


def resolve(
    code: str,
    *,
    now: dt.datetime | None = None,
    recipient_id: int | None = None,
    lead_id: int | None = None,
    lead_or_general: bool = False,
    report_id: int | None = None,
    subject_user_id: int | None = None,
    exclude_context: dict[str, Any] | None = None,
) -> int:
    """Mark done the active nudges whose rules say `code` resolves them. Returns how many."""
    rule_ids = [r.id for r in playbook.rules().values() if code in r.resolves]
    if not rule_ids:
        return 0
    nudges = Nudge.objects.active().filter(rule_id__in=rule_ids)
    if recipient_id is not None:
        nudges = nudges.filter(recipient_id=recipient_id)
    if lead_or_general:
        nudges = (
            nudges.filter(Q(lead_id=lead_id) | Q(lead__isnull=True))
            if lead_id
            else (nudges.filter(lead__isnull=True))
        )
    elif lead_id is not None:
        nudges = nudges.filter(lead_id=lead_id)
    if report_id is not None:
        nudges = nudges.filter(report_id=report_id)
    if subject_user_id is not None:
        nudges = nudges.filter(subject_user_id=subject_user_id)
    if exclude_context:
        for name, value in exclude_context.items():
            # Only nudges that carry this value; those without the key stay in (NULL-safe).
            nudges = nudges.exclude(Q(context__has_key=name) & Q(**{f"context__{name}": value}))
    return nudges.update(state=NudgeState.DONE, acted_at=now or timezone.now(), resolved_by=code)


def expire_for_lead(
    *, lead_id: int, recipient_id: int | None = None, keep: Sequence[str] = ()
) -> int:
    """A lead that changed hands or closed no longer needs the old nudges about it."""
    nudges = Nudge.objects.active().filter(lead_id=lead_id).exclude(rule_id__in=keep)
    if recipient_id is not None:
        nudges = nudges.filter(recipient_id=recipient_id)
    return nudges.update(state=NudgeState.EXPIRED, acted_at=timezone.now(), resolved_by="expired")
