"""People acting on nudges: snoozing or dismissing one or a whole card; snoozed ones woken."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from coaching.models import Nudge, NudgeState
from crm.models import User


@transaction.atomic
def nudge_snooze(*, user: User, nudge: Nudge, until: dt.datetime, reason: str = "") -> Nudge:
    """Put a nudge away until a moment in the future; it comes back by itself."""
    nudge = Nudge.objects.select_for_update().get(pk=nudge.pk, recipient=user)
    if not nudge.is_active:
        raise ValidationError(_("This nudge is already closed."))
    now = timezone.now()
    if until <= now:
        raise ValidationError({"until": _("Choose a moment in the future.")})
    if until > now + dt.timedelta(days=366):
        raise ValidationError({"until": _("Snooze for a year at most.")})
    nudge.state = NudgeState.SNOOZED
    nudge.snoozed_until = until
    nudge.reason = reason.strip()[:300]
    nudge.acted_at = now
    nudge.save(update_fields=["state", "snoozed_until", "reason", "acted_at"])
    return nudge


@transaction.atomic
def nudge_dismiss(*, user: User, nudge: Nudge, reason: str) -> Nudge:
    """Dismiss a nudge, saying why (the coach learns which advice misses)."""
    nudge = Nudge.objects.select_for_update().get(pk=nudge.pk, recipient=user)
    if not nudge.is_active:
        raise ValidationError(_("This nudge is already closed."))
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": _("Say why you dismiss this advice.")})
    nudge.state = NudgeState.DISMISSED
    nudge.reason = reason[:300]
    nudge.acted_at = timezone.now()
    nudge.resolved_by = "dismissed"
    nudge.save(update_fields=["state", "reason", "acted_at", "resolved_by"])
    return nudge


def _card_nudges(user: User, rule_id: str, now: dt.datetime) -> Any:
    """The user's due nudges of one rule, locked: what their card shows."""
    return (
        Nudge.objects.select_for_update()
        .filter(recipient=user, rule_id=rule_id)
        .filter(Q(state=NudgeState.OPEN) | Q(state=NudgeState.SNOOZED, snoozed_until__lte=now))
    )


@transaction.atomic
def card_snooze(*, user: User, rule_id: str, until: dt.datetime, reason: str = "") -> int:
    """Put away a whole card (every due nudge of one rule for the user) until a moment in the
    future; each comes back by itself. Returns how many nudges were snoozed."""
    now = timezone.now()
    if until <= now:
        raise ValidationError({"until": _("Choose a moment in the future.")})
    if until > now + dt.timedelta(days=366):
        raise ValidationError({"until": _("Snooze for a year at most.")})
    ids = list(_card_nudges(user, rule_id, now).values_list("pk", flat=True))
    if not ids:
        raise ValidationError(_("This card is already closed."))
    return Nudge.objects.filter(pk__in=ids).update(
        state=NudgeState.SNOOZED, snoozed_until=until, reason=reason.strip()[:300], acted_at=now
    )


@transaction.atomic
def card_dismiss(*, user: User, rule_id: str, reason: str) -> int:
    """Dismiss a whole card, saying why. Returns how many nudges were dismissed."""
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": _("Say why you dismiss this advice.")})
    now = timezone.now()
    ids = list(_card_nudges(user, rule_id, now).values_list("pk", flat=True))
    if not ids:
        raise ValidationError(_("This card is already closed."))
    return Nudge.objects.filter(pk__in=ids).update(
        state=NudgeState.DISMISSED, reason=reason[:300], acted_at=now, resolved_by="dismissed"
    )


def wake_snoozed(*, now: dt.datetime | None = None) -> int:
    """Snoozed nudges whose time has come are open again."""
    return Nudge.objects.filter(
        state=NudgeState.SNOOZED, snoozed_until__lte=now or timezone.now()
    ).update(state=NudgeState.OPEN)
