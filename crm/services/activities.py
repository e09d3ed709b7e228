"""Activities: what a rep did on a lead (a call, visit, meeting, email, doorstep wait or note),
logged now or afterwards. Logging one keeps the lead's `last_activity_at` and sends
`activity_logged` for the coach.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import events
from crm.models import Activity, ActivityKind, Lead, Outcome, User
from crm.permissions import visible_leads


@transaction.atomic
def activity_log(
    *,
    actor: User,
    lead: Lead,
    kind: str,
    outcome: str = Outcome.NO_OUTCOME,
    happened_at: dt.datetime | None = None,
    note: str = "",
) -> Activity:
    """Log a call, visit, meeting, email, doorstep wait or note on a lead (may be in the past)."""
    lead = visible_leads(actor).select_for_update().get(pk=lead.pk)
    now = timezone.now()
    happened_at = happened_at or now
    errors: dict[str, str] = {}
    if kind not in ActivityKind.values:
        errors["kind"] = _("Unknown kind of activity.")
    if outcome not in Outcome.values:
        errors["outcome"] = _("Unknown outcome.")
    if happened_at > now + dt.timedelta(minutes=5):
        errors["happened_at"] = _(
            "An activity cannot happen in the future; plan it as the next step."
        )
    if errors:
        raise ValidationError(errors)
    activity = Activity.objects.create(
        lead=lead,
        author=actor,
        kind=kind,
        outcome=outcome,
        happened_at=happened_at,
        note=note.strip(),
        created_at=now,
    )
    if lead.last_activity_at is None or happened_at > lead.last_activity_at:
        lead.last_activity_at = happened_at
    lead.updated_at = now
    lead.save(update_fields=["last_activity_at", "updated_at"])
    events.emit(
        events.activity_logged,
        lead_id=lead.pk,
        actor_id=actor.pk,
        activity_id=activity.pk,
        kind=kind,
        outcome=outcome,
    )
    return activity
