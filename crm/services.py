"""Every write in the CRM. Each service is one transaction that also writes the lead's history
and sends its domain event on commit. Errors a user can cause raise ValidationError with a
message in the active language; nothing is saved then.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any
from zoneinfo import available_timezones

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import events
from crm.models import (
    Activity,
    ActivityKind,
    ChickenRibReason,
    Language,
    Lead,
    LeadEvent,
    LeadEventKind,
    Outcome,
    Role,
    Team,
    TeamMembership,
    User,
)
from crm.permissions import can_hand_off, hand_off_targets, visible_leads
from crm.pipeline import OPEN_STAGES, Stage, can_move

# The fields a person may set on a lead through a form or the API. Owner, team, stage and the
# bookkeeping fields only change through their own services.
EDITABLE_FIELDS: tuple[str, ...] = (
    "company",
    "contact_name",
    "phone",
    "email",
    "source",
    "value",
    "currency",
    "expected_close",
    "tender_date",
    "competitor",
    "next_step",
    "next_step_due",
    "is_chicken_rib",
    "chicken_rib_reasons",
    "notes",
)


def _check_lead_data(data: Mapping[str, Any]) -> None:
    errors: dict[str, str] = {}
    if not str(data.get("company", "")).strip():
        errors["company"] = _("A lead needs a company name.")
    value = data.get("value")
    if value is not None and value < 0:
        errors["value"] = _("The estimated value cannot be negative.")
    reasons = data.get("chicken_rib_reasons") or []
    valid = set(ChickenRibReason.values)
    if any(reason not in valid for reason in reasons):
        errors["chicken_rib_reasons"] = _("Unknown chicken-rib reason.")
    if data.get("is_chicken_rib") and not reasons:
        errors["chicken_rib_reasons"] = _("Say why this lead is a chicken-rib lead.")
    if data.get("next_step_due") and not str(data.get("next_step", "")).strip():
        errors["next_step"] = _("Say what the next step is, not only when.")
    if errors:
        raise ValidationError(errors)


def _clean_lead_data(data: Mapping[str, Any]) -> dict[str, Any]:
    clean = {field: data[field] for field in EDITABLE_FIELDS if field in data}
    if "chicken_rib_reasons" in clean:
        clean["chicken_rib_reasons"] = sorted(set(clean["chicken_rib_reasons"] or []))
        if not clean.get("is_chicken_rib", True):
            clean["chicken_rib_reasons"] = []
    return clean


def _stamp(value: Any) -> Any:
    """A JSON-friendly form of a field value for the history."""
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, list | bool | int | str) or value is None:
        return value
    return str(value)


@transaction.atomic
def lead_create(*, actor: User, data: Mapping[str, Any], team: Team | None = None) -> Lead:
    """Create a lead. A rep's lead is their own; a manager's lands in the team pool."""
    clean = _clean_lead_data(data)
    _check_lead_data(clean)
    owner: User | None = None
    if actor.role == Role.REP:
        if actor.team_id is None:
            raise ValidationError(_("You are not in a team yet; ask your manager to add you."))
        team = actor.team
        owner = actor
    elif actor.role == Role.MANAGER:
        team = Team.objects.get(manager=actor)
    elif actor.is_admin_role:
        if team is None:
            raise ValidationError({"team": _("Choose the team this lead belongs to.")})
    else:
        raise ValidationError(_("Directors do not create leads; a manager or rep does."))
    assert team is not None
    now = timezone.now()
    lead = Lead(
        **clean,
        team=team,
        owner=owner,
        created_by=actor,
        created_at=now,
        updated_at=now,
        stage_changed_at=now,
    )
    lead.full_clean()
    lead.save()
    LeadEvent.objects.create(
        lead=lead, kind=LeadEventKind.CREATED, actor=actor, to_user=owner, created_at=now
    )
    events.send_on_commit(events.lead_created, lead_id=lead.pk, actor_id=actor.pk)
    return lead


@transaction.atomic
def lead_update(*, actor: User, lead: Lead, data: Mapping[str, Any]) -> Lead:
    """Change the editable fields of a lead; the history keeps each old and new value."""
    lead = visible_leads(actor).select_for_update().get(pk=lead.pk)
    clean = _clean_lead_data(data)
    merged = {field: getattr(lead, field) for field in EDITABLE_FIELDS} | clean
    _check_lead_data(merged)
    changes = {
        field: [_stamp(getattr(lead, field)), _stamp(value)]
        for field, value in clean.items()
        if getattr(lead, field) != value
    }
    if not changes:
        return lead
    for field, value in clean.items():
        setattr(lead, field, value)
    lead.updated_at = timezone.now()
    lead.full_clean()
    lead.save()
    LeadEvent.objects.create(lead=lead, kind=LeadEventKind.UPDATED, actor=actor, changes=changes)
    events.send_on_commit(
        events.lead_updated, lead_id=lead.pk, actor_id=actor.pk, changed=sorted(changes)
    )
    return lead


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
                _("%(company)s belongs to another team than %(rep)s.")
                % {"company": lead.company, "rep": to_user}
            )
        if not lead.is_open:
            raise ValidationError(
                _("%(company)s is closed; reopen it before handing it down.")
                % {"company": lead.company}
            )
    now = timezone.now()
    history: list[LeadEvent] = []
    moved: list[tuple[int, int | None]] = []
    for lead in leads:
        if lead.owner_id == to_user.pk:
            continue
        previous = lead.owner_id
        history.append(
            LeadEvent(
                lead=lead,
                kind=LeadEventKind.REASSIGNED if previous else LeadEventKind.HANDED_DOWN,
                actor=actor,
                from_user_id=previous,
                to_user=to_user,
                note=note.strip(),
                created_at=now,
            )
        )
        moved.append((lead.pk, previous))
    if not moved:
        return 0
    Lead.objects.filter(pk__in=[pk for pk, _prev in moved]).update(
        owner=to_user, handed_by=actor, handed_at=now, updated_at=now
    )
    LeadEvent.objects.bulk_create(history)
    for pk, previous in moved:
        events.send_on_commit(
            events.lead_handed_down,
            lead_id=pk,
            actor_id=actor.pk,
            to_user_id=to_user.pk,
            from_user_id=previous,
            note=note.strip(),
        )
    return len(moved)


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
    events.send_on_commit(
        events.activity_logged,
        lead_id=lead.pk,
        actor_id=actor.pk,
        activity_id=activity.pk,
        kind=kind,
        outcome=outcome,
    )
    return activity


@transaction.atomic
def lead_change_stage(*, actor: User, lead: Lead, to_stage: str, reason: str = "") -> Lead:
    """Move a lead along the pipeline. Illegal moves are refused; "lost" needs a reason."""
    lead = visible_leads(actor).select_for_update().get(pk=lead.pk)
    from_stage = lead.stage
    if to_stage not in Stage.values:
        raise ValidationError({"to_stage": _("Unknown stage.")})
    if not can_move(from_stage, to_stage):
        raise ValidationError(
            {
                "to_stage": _("A lead cannot move from %(from)s to %(to)s.")
                % {"from": Stage(from_stage).label, "to": Stage(to_stage).label}
            }
        )
    reason = reason.strip()
    if to_stage == Stage.LOST and not reason:
        raise ValidationError({"reason": _("Say why the lead was lost.")})
    now = timezone.now()
    lead.stage = to_stage
    lead.stage_changed_at = now
    lead.updated_at = now
    lead.lost_reason = reason if to_stage == Stage.LOST else ""
    lead.closed_at = now if to_stage in (Stage.WON, Stage.LOST) else None
    lead.save()
    LeadEvent.objects.create(
        lead=lead,
        kind=LeadEventKind.STAGE_CHANGED,
        actor=actor,
        from_stage=from_stage,
        to_stage=to_stage,
        note=reason,
        created_at=now,
    )
    events.send_on_commit(
        events.lead_stage_changed,
        lead_id=lead.pk,
        actor_id=actor.pk,
        from_stage=from_stage,
        to_stage=to_stage,
    )
    if to_stage == Stage.WON:
        events.send_on_commit(
            events.lead_won, lead_id=lead.pk, actor_id=actor.pk, handed_by_id=lead.handed_by_id
        )
    elif to_stage == Stage.LOST:
        events.send_on_commit(events.lead_lost, lead_id=lead.pk, actor_id=actor.pk, reason=reason)
    return lead


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
    LeadEvent.objects.bulk_create(
        LeadEvent(
            lead=lead,
            kind=LeadEventKind.RETURNED,
            actor=actor,
            from_user=user,
            note=_("%(rep)s moved to %(team)s.") % {"rep": user, "team": team},
            created_at=now,
        )
        for lead in open_leads
    )
    Lead.objects.filter(pk__in=[lead.pk for lead in open_leads]).update(owner=None, updated_at=now)
    user.team = team
    user.save(update_fields=["team"])
    events.send_on_commit(
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
