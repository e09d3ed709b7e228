"""Hand-offs: a manager (or admin) hands leads from the team pool down to a rep of that team,
or reassigns them between reps. Every move is in the lead's history and the audit trail, and
each lead moved sends `lead_handed_down` for the coach.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import audit, events, history
from crm.models import Lead, LeadEvent, User
from crm.permissions import can_hand_off, hand_off_targets, visible_leads


@transaction.atomic
def lead_hand_off(*, actor: User, lead_ids: Iterable[int], to_user: User, note: str = "") -> int:
    """Hand leads down to a rep of the actor's own team, with a note. Returns how many moved.

    Only managers (for their own team) and admins hand leads out. Every hand-off and
    reassignment stays in the lead's history; the lead remembers who handed it down and when.
    """
    if not can_hand_off(actor):
        raise ValidationError(_("Only a manager can hand leads down."))
    ids = sorted({int(pk) for pk in lead_ids})
    if not ids:
        raise ValidationError(_("Pick at least one lead to hand down."))
    if not hand_off_targets(actor).filter(pk=to_user.pk).exists():
        raise ValidationError(_("You can only hand leads to a rep of your own team."))
    leads = list(visible_leads(actor).select_for_update().filter(pk__in=ids).order_by("pk"))
    if len(leads) != len(ids):
        raise ValidationError(_("Some of the chosen leads are not in your team."))
    for lead in leads:
        if lead.team_id != to_user.team_id:
            raise ValidationError(
                _("%(company)s is not in %(rep)s's team.")
                % {"company": lead.company, "rep": to_user}
            )
        if not lead.is_open:
            raise ValidationError(
                _("%(company)s is closed; reopen it before handing it down.")
                % {"company": lead.company}
            )
    now = timezone.now()
    entries: list[LeadEvent] = []
    moved: list[tuple[int, int | None]] = []
    for lead in leads:
        if lead.owner_id == to_user.pk:
            continue
        previous = lead.owner_id
        if previous:
            entry = history.reassigned(
                lead=lead,
                actor=actor,
                from_user_id=previous,
                to_user=to_user,
                note=note.strip(),
                at=now,
            )
        else:
            entry = history.handed_down(
                lead=lead, actor=actor, to_user=to_user, note=note.strip(), at=now
            )
        entries.append(entry)
        moved.append((lead.pk, previous))
    if not moved:
        return 0
    Lead.objects.filter(pk__in=[pk for pk, _prev in moved]).update(
        owner=to_user, handed_by=actor, handed_at=now, updated_at=now
    )
    history.write(entries)
    audit.record_many(
        actor=actor,
        action="lead.handed_down",
        objects=[lead for lead in leads if any(pk == lead.pk for pk, _p in moved)],
        summary=f"to {to_user.username}",
    )
    for pk, previous in moved:
        events.emit(
            events.lead_handed_down,
            lead_id=pk,
            actor_id=actor.pk,
            to_user_id=to_user.pk,
            from_user_id=previous,
            note=note.strip(),
        )
    return len(moved)
