"""Activities: what a rep did on a lead (a call, visit, meeting, email, doorstep wait or note),
logged now or afterwards. Logging one keeps the lead's `last_activity_at` and sends
`activity_logged` for the coach. As in Pipedrive, the same form asks for the lead's next step
and its date: given, it becomes the lead's next step (crm.services.leads.lead_set_next_step).
A lead the manager parked is un-parked by an activity: someone is working it again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import events
from crm.models import Activity, ActivityKind, Contact, Lead, LeadContact, Outcome, User
from crm.permissions import visible_leads
from crm.services.leads import NextStepSource, lead_set_next_step


def _check(
    *,
    kind: str,
    outcome: str,
    happened_at: dt.datetime,
    now: dt.datetime,
    next_step: str,
    next_step_due: dt.date | None,
    new_step: bool,
) -> None:
    errors: dict[str, str] = {}
    if kind not in ActivityKind.values:
        errors["kind"] = _("Unknown kind of activity.")
    if outcome not in Outcome.values:
        errors["outcome"] = _("Unknown outcome.")
    if happened_at > now + dt.timedelta(minutes=5):
        errors["happened_at"] = _(
            "An activity cannot happen in the future; plan it as the next step."
        )
    if next_step_due is not None and not next_step:
        errors["next_step"] = _("Say what the next step is, not only when.")
    if new_step and next_step_due is not None and next_step_due < timezone.localdate(now):
        errors["next_step_due"] = _("The next step's date is in the past.")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def activity_log(
    *,
    actor: User,
    lead: Lead,
    kind: str,
    outcome: str = Outcome.NO_OUTCOME,
    happened_at: dt.datetime | None = None,
    note: str = "",
    next_step: str = "",
    next_step_due: dt.date | None = None,
    contacts: Sequence[Contact] = (),
    client_key: str = "",
) -> Activity:
    """Log a call, visit, meeting, email, doorstep wait or note on a lead (may be in the past).

    `next_step` (with `next_step_due`) is the lead's next step after it; empty keeps the lead's
    as it is (the form pre-fills the lead's own, so an unchanged one is not a new step).
    `contacts` are whom it was with: people on the lead (crm.models.LeadContact).
    `client_key` is the phone's key for a log kept offline: a second copy changes nothing and
    returns the activity the first one made."""
    lead = visible_leads(actor).select_for_update().get(pk=lead.pk)
    if client_key:
        sent_before = Activity.objects.filter(author=actor, client_key=client_key).first()
        if sent_before is not None and sent_before.lead_id == lead.pk:
            return sent_before
        if sent_before is not None:  # the key of a log on another lead: not this one's copy
            client_key = ""
    now = timezone.now()
    happened_at = happened_at or now
    next_step = " ".join(next_step.split())
    # The form pre-fills the lead's own next step: left as it is, it is not a new one.
    new_step = bool(next_step) and (
        next_step != " ".join(lead.next_step.split()) or next_step_due != lead.next_step_due
    )
    _check(
        kind=kind,
        outcome=outcome,
        happened_at=happened_at,
        now=now,
        next_step=next_step,
        next_step_due=next_step_due,
        new_step=new_step,
    )
    activity = Activity.objects.create(
        lead=lead,
        author=actor,
        kind=kind,
        outcome=outcome,
        happened_at=happened_at,
        note=note.strip(),
        created_at=now,
        client_key=client_key,
    )
    if contacts:
        on_lead = set(LeadContact.objects.filter(lead=lead).values_list("contact_id", flat=True))
        if any(contact.pk not in on_lead for contact in contacts):
            raise ValidationError({"contacts": _("Pick people who are on this lead.")})
        activity.contacts.set(contacts)
    if lead.last_activity_at is None or happened_at > lead.last_activity_at:
        lead.last_activity_at = happened_at
    lead.updated_at = now
    lead.save(update_fields=["last_activity_at", "updated_at"])
    if new_step:
        lead_set_next_step(
            actor=actor,
            lead=lead,
            next_step=next_step,
            due=next_step_due,
            source=NextStepSource.ACTIVITY,
        )
    elif lead.parked_until is not None:
        lead.parked_until = None
        lead.save(update_fields=["parked_until"])
    events.emit(
        events.activity_logged,
        lead_id=lead.pk,
        actor_id=actor.pk,
        activity_id=activity.pk,
        kind=kind,
        outcome=outcome,
        next_step_due=next_step_due.isoformat() if new_step and next_step_due else None,
    )
    return activity
