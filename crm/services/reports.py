"""Report (汇报) services: a rep drafts and sends a report; the manager reads, acknowledges,
replies, answers the ask and decides on an escalation plan (which may park the lead, take it
back into the pool or close it as lost, through the lead services). Each answer is audited
and sends its domain event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import audit, events
from crm.models import (
    AskState,
    Lead,
    PlanDecision,
    Report,
    ReportKind,
    ReportReply,
    ReportState,
    Role,
    User,
)
from crm.permissions import can_answer_report, visible_leads, visible_reports
from crm.pipeline import Stage
from crm.reporting import ReportParts, assess, report_due_days, was_on_time
from crm.services.leads import lead_change_stage, lead_return_to_pool, lead_update

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
