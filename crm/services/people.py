"""People services: moving a rep between teams (their open leads go back to the old team's
pool), putting a rep into a team, and a user's own language and time-zone preferences.
"""

from __future__ import annotations

from zoneinfo import available_timezones

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import audit, events, history
from crm.models import Language, Lead, Role, Team, TeamMembership, User
from crm.pipeline import OPEN_STAGES
from crm.services.leads import returned_payload


@transaction.atomic
def rep_move_team(*, actor: User, user: User, team: Team) -> int:
    """Move a rep to another team. Their history stays; their open leads go back to the old
    team's pool, for the old manager to hand down again. Returns how many leads went back.
    """
    if not actor.is_admin_role:
        raise ValidationError(_("Only an admin can move people between teams."))
    if user.role != Role.REP:
        raise ValidationError(_("Only reps move between teams."))
    if user.team_id == team.pk:
        return 0
    now = timezone.now()
    old_team_id = user.team_id
    TeamMembership.objects.filter(user=user, left_at__isnull=True).update(left_at=now)
    TeamMembership.objects.create(user=user, team=team, joined_at=now)
    open_leads = list(Lead.objects.select_for_update().filter(owner=user, stage__in=OPEN_STAGES))
    history.write(
        history.returned(
            lead=lead, actor=actor, from_user_id=user.pk, moved_to_team=team.name, at=now
        )
        for lead in open_leads
    )
    Lead.objects.filter(pk__in=[lead.pk for lead in open_leads]).update(owner=None, updated_at=now)
    user.team = team
    user.save(update_fields=["team"])
    audit.record(actor=actor, action="user.moved_team", obj=user, summary=team.name)
    # Each lead back in the pool is announced as lead_return_to_pool announces one, so the
    # coach expires the rep's nudges on it.
    events.emit_many(
        events.lead_handed_down,
        [
            returned_payload(lead_id=lead.pk, actor=actor, from_user_id=user.pk)
            for lead in open_leads
        ],
    )
    events.emit(
        events.rep_moved_team,
        user_id=user.pk,
        actor_id=actor.pk,
        from_team_id=old_team_id,
        to_team_id=team.pk,
    )
    return len(open_leads)


@transaction.atomic
def rep_join_team(*, user: User, team: Team) -> None:
    """Put a rep without a team into `team` (used when setting people up)."""
    user.team = team
    user.save(update_fields=["team"])
    TeamMembership.objects.filter(user=user, left_at__isnull=True).update(left_at=timezone.now())
    TeamMembership.objects.create(user=user, team=team)


def profile_update(*, user: User, language: str, time_zone: str) -> User:
    """Keep the user's language and time zone on their profile."""
    errors: dict[str, str] = {}
    if language not in Language.values:
        errors["language"] = _("Unknown language.")
    if time_zone not in available_timezones():
        errors["time_zone"] = _("Unknown time zone.")
    if errors:
        raise ValidationError(errors)
    user.language = language
    user.time_zone = time_zone
    user.save(update_fields=["language", "time_zone"])
    return user
