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
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import audit, events
from crm.models import (
    Activity,
    ActivityKind,
    AskState,
    ChickenRibReason,
    DomainEvent,
    Language,
    Lead,
    LeadEvent,
    LeadEventKind,
    Outcome,
    PlanDecision,
    Report,
    ReportKind,
    ReportReply,
    ReportState,
    Role,
    Team,
    TeamMembership,
    User,
)
from crm.permissions import (
    can_answer_report,
    can_hand_off,
    hand_off_targets,
    visible_leads,
    visible_reports,
)
from crm.pipeline import OPEN_STAGES, Stage, can_move
from crm.reporting import ReportParts, assess, report_due_days, was_on_time

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
        team = Team.objects.filter(manager=actor).first()
        if team is None:
            raise ValidationError(_("You do not manage a team yet; ask an admin to set it up."))
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
    events.emit(events.lead_created, lead_id=lead.pk, actor_id=actor.pk)
    return lead


# The bookkeeping fields a new lead gets from its service, not from its data.
_NOT_EDITABLE = tuple(f.name for f in Lead._meta.fields if f.name not in EDITABLE_FIELDS)


def _pool_team(actor: User, team: Team | None) -> Team:
    """The team whose pool a manager's or admin's new leads land in."""
    if actor.role == Role.MANAGER:
        own = Team.objects.filter(manager=actor).first()
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


def _emit_many(signal: Signal, payloads: list[dict[str, Any]]) -> None:
    """events.emit for many events of one kind: the outbox rows in one insert, the signals
    once the transaction commits."""
    DomainEvent.objects.bulk_create(
        [DomainEvent(name=events.NAMES[signal], payload=payload) for payload in payloads]
    )

    def send() -> None:
        for payload in payloads:
            signal.send_robust(sender=signal, **payload)

    transaction.on_commit(send, robust=True)


def lead_build(*, actor: User, team: Team, data: Mapping[str, Any], now: dt.datetime) -> Lead:
    """An unsaved lead for `team`'s pool, checked exactly as lead_create checks a lead's data
    (without the database round trips). Raises ValidationError keyed by field."""
    clean = _clean_lead_data(data)
    _check_lead_data(clean)
    lead = Lead(
        **clean,
        team=team,
        owner=None,
        created_by=actor,
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
    team = _pool_team(actor, team)
    now = timezone.now()
    created = 0
    batch: list[Lead] = []

    def flush() -> None:
        saved = Lead.objects.bulk_create(batch)
        LeadEvent.objects.bulk_create(
            [
                LeadEvent(lead=lead, kind=LeadEventKind.CREATED, actor=actor, created_at=now)
                for lead in saved
            ]
        )
        _emit_many(
            events.lead_created, [{"lead_id": lead.pk, "actor_id": actor.pk} for lead in saved]
        )
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
    events.emit(events.lead_updated, lead_id=lead.pk, actor_id=actor.pk, changed=sorted(changes))
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
                _("%(company)s is not in %(rep)s's team.")
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
            # Kept as facts, not as a sentence: each reader sees it in their own language.
            changes={"moved_to_team": team.name},
            created_at=now,
        )
        for lead in open_leads
    )
    Lead.objects.filter(pk__in=[lead.pk for lead in open_leads]).update(owner=None, updated_at=now)
    user.team = team
    user.save(update_fields=["team"])
    audit.record(actor=actor, action="user.moved_team", obj=user, summary=team.name)
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


# --- Reports (汇报) ---------------------------------------------------------------------------

REPORT_FIELDS: tuple[str, ...] = (
    "kind",
    "status_now",
    "what_i_did",
    "next_step",
    "next_step_due",
    "backup_plan",
    "ask",
    "ask_due",
    "share_with_director",
)


def _report_parts(report: Report) -> ReportParts:
    return ReportParts(
        kind=report.kind,
        status_now=report.status_now,
        what_i_did=report.what_i_did,
        next_step=report.next_step,
        next_step_due=report.next_step_due,
        backup_plan=report.backup_plan,
        ask=report.ask,
        ask_due=report.ask_due,
    )


@transaction.atomic
def report_save_draft(
    *,
    author: User,
    data: Mapping[str, Any],
    report: Report | None = None,
    lead: Lead | None = None,
) -> Report:
    """Save what the rep has typed so far; nothing typed is lost. Only the author's own drafts."""
    if report is None:
        if author.team_id is None or author.role != Role.REP:
            raise ValidationError(_("Only a rep in a team writes reports to a manager."))
        if lead is not None and not visible_leads(author).filter(pk=lead.pk).exists():
            raise ValidationError(_("You can only report on your own leads."))
        report = Report(author=author, team_id=author.team_id, lead=lead)
    else:
        # Re-read under a lock: an autosave racing the "send" click must not turn a sent
        # report back into a draft.
        report = Report.objects.select_for_update(of=("self",)).get(pk=report.pk)
        if report.author_id != author.pk or report.state != ReportState.DRAFT:
            raise ValidationError(_("This report is already sent and can no longer be changed."))
    for field in REPORT_FIELDS:
        if field in data:
            value = data[field]
            setattr(report, field, value.strip() if isinstance(value, str) else value)
    if report.kind not in ReportKind.values:
        raise ValidationError({"kind": _("Unknown kind of report.")})
    quality = assess(_report_parts(report))
    report.quality_score = quality.score
    report.quality_issues = quality.issues
    report.updated_at = timezone.now()
    report.save()
    return report


def _previous_report_time(report: Report) -> dt.datetime | None:
    earlier = Report.objects.filter(
        author=report.author, lead=report.lead, state=ReportState.SUBMITTED
    ).exclude(pk=report.pk)
    last = earlier.order_by("-submitted_at").values_list("submitted_at", flat=True).first()
    if last is None and report.lead is not None:
        return report.lead.handed_at
    return last


@transaction.atomic
def report_submit(*, author: User, report: Report) -> Report:
    """Send a draft to the manager. Its quality and whether it came on time are saved with it."""
    report = Report.objects.select_for_update(of=("self",)).select_related("lead").get(pk=report.pk)
    if report.author_id != author.pk:
        raise ValidationError(_("Only the author can send this report."))
    if report.state != ReportState.DRAFT:
        raise ValidationError(_("This report is already sent."))
    errors: dict[str, str] = {}
    if not report.status_now.strip() and report.kind != ReportKind.QUESTION:
        errors["status_now"] = _("Say where things stand now before sending.")
    if report.kind == ReportKind.QUESTION and not report.ask.strip():
        errors["ask"] = _("Write your question before sending.")
    if report.kind == ReportKind.LOSS_REVIEW and report.lead is None:
        errors["kind"] = _("A loss review is written on a lead.")
    if report.kind == ReportKind.ESCALATION and report.lead is None:
        errors["kind"] = _("An escalation plan is written on a lead.")
    today = timezone.localdate()
    if report.next_step_due and report.next_step_due < today:
        errors["next_step_due"] = _("The next step's date is in the past.")
    if report.ask_due and report.ask_due < today:
        errors["ask_due"] = _("The date you need it by is in the past.")
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    lead = report.lead
    deadline = None
    if lead is not None:
        dates = [d for d in (lead.tender_date, lead.expected_close) if d is not None and d >= today]
        deadline = min(dates) if dates else None
    quality = assess(_report_parts(report))
    report.quality_score = quality.score
    report.quality_issues = quality.issues
    report.on_time = was_on_time(
        previous=_previous_report_time(report),
        now=now,
        allowed_days=report_due_days(close_or_tender=deadline, today=today),
    )
    report.state = ReportState.SUBMITTED
    report.submitted_at = now
    report.updated_at = now
    report.ask_state = AskState.OPEN if report.ask.strip() else AskState.NONE
    report.save()
    events.emit(
        events.report_submitted,
        report_id=report.pk,
        author_id=author.pk,
        lead_id=report.lead_id,
        kind=report.kind,
        has_plan=report.has_plan,
        has_ask=bool(report.ask.strip()),
        shared=report.share_with_director,
    )
    return report


def _answerable(actor: User, report: Report) -> Report:
    report = (
        visible_reports(actor)
        .select_for_update(of=("self",))
        .select_related("team", "lead")
        .get(pk=report.pk, state=ReportState.SUBMITTED)
    )
    if not can_answer_report(actor, report):
        raise ValidationError(_("Only the rep's manager can do this."))
    return report


def report_mark_read(*, actor: User, report: Report) -> None:
    """The manager opened the report: it is no longer unread in the inbox."""
    if report.read_at is None and can_answer_report(actor, report):
        Report.objects.filter(pk=report.pk, read_at__isnull=True).update(read_at=timezone.now())


@transaction.atomic
def report_acknowledge(*, actor: User, report: Report) -> Report:
    """The manager has read the report and says so to the rep."""
    report = _answerable(actor, report)
    if report.acknowledged_at is not None:
        return report
    now = timezone.now()
    report.acknowledged_at = now
    report.acknowledged_by = actor
    report.read_at = report.read_at or now
    report.save(update_fields=["acknowledged_at", "acknowledged_by", "read_at"])
    audit.record(actor=actor, action="report.acknowledged", obj=report)
    events.emit(
        events.report_acknowledged,
        report_id=report.pk,
        actor_id=actor.pk,
        author_id=report.author_id,
    )
    return report


@transaction.atomic
def report_reply(*, actor: User, report: Report, body: str) -> ReportReply:
    """Add a message to the thread under a report (the rep, the manager, or a +2 it is shared
    with)."""
    report = (
        visible_reports(actor).select_for_update().get(pk=report.pk, state=ReportState.SUBMITTED)
    )
    body = body.strip()
    if not body:
        raise ValidationError({"body": _("Write something before replying.")})
    reply = ReportReply.objects.create(report=report, author=actor, body=body)
    if can_answer_report(actor, report) and report.read_at is None:
        report.read_at = timezone.now()
        report.save(update_fields=["read_at"])
    events.emit(
        events.report_replied, report_id=report.pk, actor_id=actor.pk, author_id=report.author_id
    )
    return reply


@transaction.atomic
def report_answer_ask(*, actor: User, report: Report, state: str, note: str = "") -> Report:
    """Close the rep's ask: done, or declined with a reason. Its response time is kept."""
    report = _answerable(actor, report)
    if report.ask_state != AskState.OPEN:
        raise ValidationError(_("This ask is already answered."))
    note = note.strip()
    if state not in (AskState.DONE, AskState.DECLINED):
        raise ValidationError({"state": _("Choose done or declined.")})
    if state == AskState.DECLINED and not note:
        raise ValidationError({"note": _("Say why you decline, so the rep can plan around it.")})
    now = timezone.now()
    report.ask_state = state
    report.ask_resolved_at = now
    report.ask_resolution_note = note
    report.read_at = report.read_at or now
    report.save(update_fields=["ask_state", "ask_resolved_at", "ask_resolution_note", "read_at"])
    audit.record(actor=actor, action="report.ask_answered", obj=report, summary=state)
    events.emit(
        events.ask_answered,
        report_id=report.pk,
        actor_id=actor.pk,
        author_id=report.author_id,
        state=state,
    )
    return report


@transaction.atomic
def report_decide(
    *,
    actor: User,
    report: Report,
    decision: str,
    note: str = "",
    park_until: dt.date | None = None,
) -> Report:
    """The manager's answer to an escalation plan: keep pushing, park the lead until a date,
    take it back into the team pool, or close it as lost."""
    report = _answerable(actor, report)
    if report.kind != ReportKind.ESCALATION or report.lead is None:
        raise ValidationError(_("Only an escalation plan on a lead takes a decision."))
    if report.decision:
        raise ValidationError(_("This plan already has a decision."))
    if decision not in PlanDecision.values:
        raise ValidationError({"decision": _("Choose one of the decisions.")})
    note = note.strip()
    lead = report.lead
    if decision == PlanDecision.PARK:
        if park_until is None or park_until <= timezone.localdate():
            raise ValidationError({"park_until": _("Park the lead until a date in the future.")})
        lead_update(
            actor=actor,
            lead=lead,
            data={
                "next_step": _("Parked by the manager: pick it up again."),
                "next_step_due": park_until,
            },
        )
    elif decision == PlanDecision.HAND_BACK:
        lead_return_to_pool(actor=actor, lead=lead, note=note)
    elif decision == PlanDecision.CLOSE_LOST:
        if not note:
            raise ValidationError({"note": _("Say why the lead is closed as lost.")})
        lead_change_stage(actor=actor, lead=lead, to_stage=Stage.LOST, reason=note)
    now = timezone.now()
    report.decision = decision
    report.decision_note = note
    report.park_until = park_until if decision == PlanDecision.PARK else None
    report.decided_at = now
    report.decided_by = actor
    audit.record(actor=actor, action="report.plan_decided", obj=report, summary=decision)
    report.read_at = report.read_at or now
    report.acknowledged_at = report.acknowledged_at or now
    report.acknowledged_by = report.acknowledged_by or actor
    report.save()
    events.emit(
        events.plan_decided,
        report_id=report.pk,
        actor_id=actor.pk,
        author_id=report.author_id,
        lead_id=lead.pk,
        decision=decision,
    )
    return report


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
    LeadEvent.objects.create(
        lead=lead,
        kind=LeadEventKind.RETURNED,
        actor=actor,
        from_user_id=previous,
        note=note,
        created_at=now,
    )
    audit.record(actor=actor, action="lead.returned_to_pool", obj=lead)
    events.emit(
        events.lead_handed_down,
        lead_id=lead.pk,
        actor_id=actor.pk,
        to_user_id=None,
        from_user_id=previous,
        note=note,
    )
    return lead
