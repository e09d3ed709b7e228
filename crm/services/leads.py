"""Lead services: create one or many, edit, move along the pipeline, take back into the pool,
and the team pool a new lead lands in. Each service is one transaction that writes the lead's
history (crm.history) and its domain events (crm.events); a user's mistake raises
ValidationError in the active language and saves nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import audit, events, history
from crm.inserts import insert_many
from crm.models import ChickenRibReason, Lead, Role, Team, User, stalls, tally
from crm.permissions import can_hand_off, managed_team, visible_leads
from crm.pipeline import Stage, can_move
from crm.services.companies import lead_people_link, leads_company_set, leads_contacts_link

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
    if reasons and not set(reasons) <= set(ChickenRibReason.values):
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


def lead_pool_team(*, actor: User, team: Team | None = None) -> Team:
    """The team whose pool a manager's or admin's new leads land in: a manager's own team (no
    other), or the team an admin chose. Raises ValidationError (keyed `team` when the choice
    is the problem) for anyone else or a missing team."""
    if actor.role == Role.MANAGER:
        own = managed_team(actor)
        if own is None:
            raise ValidationError(_("You do not manage a team yet; ask an admin to set it up."))
        if team is not None and team.pk != own.pk:
            raise ValidationError({"team": _("You can only add leads to your own team.")})
        return own
    if actor.is_admin_role:
        if team is None:
            raise ValidationError({"team": _("Choose the team this lead belongs to.")})
        return team
    raise ValidationError(_("Only a manager or an admin adds leads to a team's pool."))


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
    elif actor.role == Role.MANAGER or actor.is_admin_role:
        # A manager's lead goes to their own pool whatever team was asked for (the API's
        # team_id is for admins), as it always has; lead_bulk_create refuses another team.
        team = lead_pool_team(actor=actor, team=team if actor.role != Role.MANAGER else None)
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
    # Its company record and contact, as the migration gave the leads made before them.
    lead_people_link(actor=actor, lead=lead)
    history.write([history.created(lead=lead, actor=actor, to_user=owner, at=now)])
    events.emit(events.lead_created, lead_id=lead.pk, actor_id=actor.pk)
    return lead


# The bookkeeping fields a new lead gets from its service, not from its data.
_NOT_EDITABLE = tuple(f.name for f in Lead._meta.fields if f.name not in EDITABLE_FIELDS)


def lead_build(*, actor: User, team: Team, data: Mapping[str, Any], now: dt.datetime) -> Lead:
    """An unsaved lead for `team`'s pool, checked exactly as lead_create checks a lead's data
    (without the database round trips). Raises ValidationError keyed by field."""
    clean = _clean_lead_data(data)
    _check_lead_data(clean)
    lead = Lead(
        **clean,
        # By id: half the cost of building a lead (an import builds 100,000).
        team_id=team.pk,
        owner_id=None,
        created_by_id=actor.pk,
        created_at=now,
        updated_at=now,
        stage_changed_at=now,
    )
    lead.clean_fields(exclude=_NOT_EDITABLE)
    return lead


@transaction.atomic
def lead_bulk_create(
    *,
    actor: User,
    rows: Iterable[Mapping[str, Any]],
    team: Team | None = None,
    batch_size: int = 1000,
) -> int:
    """Create many leads at once in the team pool (owner empty), as lead_create would one by one:
    the same checks, a history row and a `lead_created` event for each. All or nothing: one
    invalid row raises ValidationError naming its position (0-based) and saves nothing.
    Returns how many leads were created."""
    team = lead_pool_team(actor=actor, team=team)
    now = timezone.now()
    created = 0
    batch: list[Lead] = []

    def flush() -> None:
        leads_insert(actor=actor, leads=batch, now=now)
        batch.clear()

    for index, data in enumerate(rows):
        try:
            batch.append(lead_build(actor=actor, team=team, data=data, now=now))
        except ValidationError as error:
            raise ValidationError(
                _("Row %(row)d: %(errors)s") % {"row": index, "errors": "; ".join(error.messages)},
                code="invalid_row",
                params={"row": index},
            ) from error
        created += 1
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return created


def leads_insert(*, actor: User, leads: list[Lead], now: dt.datetime) -> None:
    """Save a batch of built leads (lead_build) of one team's pool, inside the caller's
    transaction (lead_bulk_create's, or an import's that checked and built them itself): each
    one's company record set before the one INSERT, then its contact, its history row and its
    `lead_created` event."""
    if not leads:
        return
    leads_company_set(actor=actor, leads=leads)
    for lead in leads:  # COPY goes round bulk_create's stamp too
        stalls.stamp(lead)
    # COPY (PostgreSQL, large batches) goes round bulk_create's tally: the batch's difference,
    # once, whichever way the rows went in; none when the caller suspended the tally (an
    # import recounts its team at its end instead of holding the pool's tally row locked).
    if tally.is_suspended():
        insert_many(leads)
    else:
        with tally.tally_suspended():
            insert_many(leads)
        tally.apply(tally.leads_deltas(leads))
    leads_contacts_link(actor=actor, leads=leads)
    history.write(history.created(lead=lead, actor=actor, at=now) for lead in leads)
    events.emit_many(
        events.lead_created, [{"lead_id": lead.pk, "actor_id": actor.pk} for lead in leads]
    )


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
    history.write([history.updated(lead=lead, actor=actor, changes=changes)])
    events.emit(events.lead_updated, lead_id=lead.pk, actor_id=actor.pk, changed=sorted(changes))
    return lead


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
    lead.moved_from, lead.moved_before_at = from_stage, lead.stage_changed_at
    lead.stage = to_stage
    lead.stage_changed_at = now
    lead.updated_at = now
    lead.lost_reason = reason if to_stage == Stage.LOST else ""
    lead.closed_at = now if to_stage in (Stage.WON, Stage.LOST) else None
    lead.save()
    history.write(
        [
            history.stage_changed(
                lead=lead,
                actor=actor,
                from_stage=from_stage,
                to_stage=to_stage,
                note=reason,
                at=now,
            )
        ]
    )
    audit.record(
        actor=actor, action="lead.stage_changed", obj=lead, summary=f"{from_stage} → {to_stage}"
    )
    events.emit(
        events.lead_stage_changed,
        lead_id=lead.pk,
        actor_id=actor.pk,
        from_stage=from_stage,
        to_stage=to_stage,
    )
    if to_stage == Stage.WON:
        events.emit(
            events.lead_won, lead_id=lead.pk, actor_id=actor.pk, handed_by_id=lead.handed_by_id
        )
    elif to_stage == Stage.LOST:
        events.emit(events.lead_lost, lead_id=lead.pk, actor_id=actor.pk, reason=reason)
    return lead


class NextStepSource:
    """Where a lead's next step came from (the history row and the event say it)."""

    REPORT = "report"
    DECISION = "decision"
    ACTIVITY = "activity"


# A report's next step is free text; the lead keeps a line of it.
_NEXT_STEP_MAX = Lead._meta.get_field("next_step").max_length or 300


def lead_set_next_step(
    *,
    actor: User,
    lead: Lead,
    next_step: str,
    due: dt.date | None,
    source: str,
    report_id: int | None = None,
    parked_until: dt.date | None = None,
) -> Lead:
    """Make `next_step` (by `due`) the lead's next step, because of a sent report, a manager's
    decision or an activity. The lead is parked until `parked_until` when given; any other new
    next step un-parks it (the lead is being worked again). Writes a NEXT_STEP history row
    saying where the step came from and sends `lead_next_step_set`. Runs inside the caller's
    transaction; the caller has checked that `actor` may act on the lead."""
    step = " ".join(next_step.split())
    if len(step) > _NEXT_STEP_MAX:
        step = step[: _NEXT_STEP_MAX - 1] + "…"
    now = timezone.now()
    lead.next_step = step
    lead.next_step_due = due
    lead.parked_until = parked_until
    lead.updated_at = now
    lead.save(update_fields=["next_step", "next_step_due", "parked_until", "updated_at"])
    history.write(
        [
            history.next_step(
                lead=lead,
                actor=actor,
                source=source,
                report_id=report_id,
                parked_until=parked_until,
                at=now,
            )
        ]
    )
    events.emit(
        events.lead_next_step_set,
        lead_id=lead.pk,
        actor_id=actor.pk,
        owner_id=lead.owner_id,
        next_step_due=due.isoformat() if due else None,
        parked_until=parked_until.isoformat() if parked_until else None,
        source=source,
        report_id=report_id,
    )
    return lead


def returned_payload(
    *, lead_id: int, actor: User, from_user_id: int, note: str = ""
) -> dict[str, Any]:
    """The `lead_handed_down` payload of a lead going back to the pool (no `to_user_id`): the
    coach then expires the previous owner's nudges on it. Sent by lead_return_to_pool and, per
    lead, by rep_move_team."""
    return {
        "lead_id": lead_id,
        "actor_id": actor.pk,
        "to_user_id": None,
        "from_user_id": from_user_id,
        "note": note,
    }


@transaction.atomic
def lead_return_to_pool(*, actor: User, lead: Lead, note: str = "") -> Lead:
    """A manager takes a lead back from its rep into the team pool."""
    if not can_hand_off(actor):
        raise ValidationError(_("Only a manager can take a lead back."))
    lead = visible_leads(actor).select_for_update().get(pk=lead.pk)
    if lead.owner_id is None:
        return lead
    previous = lead.owner_id
    now = timezone.now()
    lead.owner = None
    lead.updated_at = now
    lead.save(update_fields=["owner", "updated_at"])
    history.write(
        [history.returned(lead=lead, actor=actor, from_user_id=previous, note=note, at=now)]
    )
    audit.record(actor=actor, action="lead.returned_to_pool", obj=lead)
    events.emit(
        events.lead_handed_down,
        **returned_payload(lead_id=lead.pk, actor=actor, from_user_id=previous, note=note),
    )
    return lead


# Each lead's latest move as its history has it (see Lead.moved_from): for writers that put
# stage moves in the history in bulk (the demo company, the bench dataset, crm migration 0029).
MOVES_REFRESH = (
    "UPDATE crm_lead SET"
    " moved_from = (SELECT e.from_stage FROM crm_leadevent e{indexed}"
    " WHERE e.lead_id = crm_lead.id AND e.kind = 'stage_changed'"
    " ORDER BY e.created_at DESC, e.id DESC LIMIT 1),"
    " moved_before_at = (SELECT e.created_at FROM crm_leadevent e{indexed}"
    " WHERE e.lead_id = crm_lead.id AND e.kind = 'stage_changed'"
    " ORDER BY e.created_at DESC, e.id DESC LIMIT 1 OFFSET 1)"
    " WHERE id IN (SELECT lead_id FROM crm_leadevent WHERE kind = 'stage_changed')"
)


def leads_moves_refresh() -> None:
    """Set every lead's latest move (`moved_from`, `moved_before_at`) from its history."""
    # SQLite, without statistics, would walk every move of the company (leadevent_kind_time)
    # for each lead: told to read the lead's own history.
    indexed = " INDEXED BY leadevent_lead_time" if connection.vendor == "sqlite" else ""
    with connection.cursor() as cursor:
        cursor.execute(MOVES_REFRESH.format(indexed=indexed))
