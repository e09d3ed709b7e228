"""Report (汇报) services: a rep drafts and sends a report; the manager reads, acknowledges,
replies, answers the ask and decides on an escalation plan (which may park the lead, take it
back into the pool or close it as lost, through the lead services). Each answer is audited,
stamps `Report.answered_at` (what is "new" for the rep until they open the report:
report_mark_seen) and sends its domain event.

A plan moves the lead: a sent progress report or plan with a next step and its date becomes
the lead's next step; the manager's "keep pushing until", "I'll come with you" and "park until"
set the lead's date (crm.services.leads.lead_set_next_step, with a history row naming the
report).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Max, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import audit, events
from crm.models import (
    AskKind,
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
from crm.services.leads import (
    NextStepSource,
    lead_change_stage,
    lead_return_to_pool,
    lead_set_next_step,
)

REPORT_FIELDS: tuple[str, ...] = (
    "kind",
    "status_now",
    "what_i_did",
    "next_step",
    "next_step_due",
    "backup_plan",
    "ask",
    "ask_due",
    "ask_kind",
    "concessions",
    "departments",
    "learning",
    "share_with_director",
)

# An ask moves forward only: open → accepted → in progress → done / declined (final).
ASK_STEPS: dict[str, int] = {
    AskState.OPEN: 0,
    AskState.ACCEPTED: 1,
    AskState.IN_PROGRESS: 2,
    AskState.DONE: 3,
    AskState.DECLINED: 3,
}
ASK_FINAL = frozenset({AskState.DONE, AskState.DECLINED})

# The decisions that keep the lead with the rep and need a date.
DATED_DECISIONS = frozenset(
    {PlanDecision.KEEP_PUSHING, PlanDecision.JOINT_VISIT, PlanDecision.PARK}
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
    if report.ask_kind not in AskKind.values:
        raise ValidationError({"ask_kind": _("Unknown kind of ask.")})
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


def _submit_errors(report: Report, today: dt.date) -> dict[str, str]:
    """What stops a draft from being sent, keyed by the field to fix."""
    errors: dict[str, str] = {}
    if not report.status_now.strip() and report.kind != ReportKind.QUESTION:
        errors["status_now"] = _("Say where things stand now before sending.")
    if report.kind == ReportKind.QUESTION and not report.ask.strip():
        errors["ask"] = _("Write your question before sending.")
    if report.kind == ReportKind.LOSS_REVIEW and report.lead is None:
        errors["kind"] = _("A loss review is written on a lead.")
    if report.kind == ReportKind.ESCALATION:
        if report.lead is None:
            errors["kind"] = _("An escalation plan is written on a lead.")
        # A plan is three layers: the facts alone are not a plan.
        if not report.next_step.strip():
            errors["next_step"] = _(
                "A plan says what you will do, given the facts: fill in part 2 before sending."
            )
        if not report.ask.strip():
            errors["ask"] = _(
                "A plan says what you need from your manager: fill in part 3 before sending."
            )
    if report.next_step_due and report.next_step_due < today:
        errors["next_step_due"] = _("The next step's date is in the past.")
    if report.ask_due and report.ask_due < today:
        errors["ask_due"] = _("The date you need it by is in the past.")
    return errors


def _move_lead(*, author: User, report: Report) -> bool:
    """A sent progress report or plan with a next step and its date becomes the lead's next
    step, when the lead is still the author's and open. Returns whether it did."""
    if (
        report.lead_id is None
        or report.kind not in (ReportKind.PROGRESS, ReportKind.ESCALATION)
        or not report.next_step.strip()
        or report.next_step_due is None
    ):
        return False
    lead = Lead.objects.select_for_update().get(pk=report.lead_id)
    if lead.owner_id != author.pk or not lead.is_open:
        return False
    lead_set_next_step(
        actor=author,
        lead=lead,
        next_step=report.next_step,
        due=report.next_step_due,
        source=NextStepSource.REPORT,
        report_id=report.pk,
    )
    return True


def _is_first_plan(report: Report) -> bool:
    """True when no earlier sent report on the report's lead had a next step."""
    if report.lead_id is None or not report.has_plan:
        return False
    earlier = (
        Report.objects.filter(lead_id=report.lead_id, state=ReportState.SUBMITTED)
        .exclude(pk=report.pk)
        .exclude(next_step="")
    )
    return not earlier.exists()


def _note_last_report(lead_id: int, at: dt.datetime) -> None:
    """Lead.last_reported_at: the latest report's time, kept in the transaction that sends it."""
    Lead.objects.filter(pk=lead_id).filter(
        Q(last_reported_at__isnull=True) | Q(last_reported_at__lt=at)
    ).update(last_reported_at=at)


def lead_last_report_refresh(*, leads: QuerySet[Lead] | None = None) -> int:
    """Set Lead.last_reported_at from the leads' sent reports (all leads, or `leads`): for
    reports written in bulk (the demo, the simulation, the bench's generator), which bypass
    report_submit. Returns how many leads were updated."""
    latest = (
        Report.objects.filter(lead=OuterRef("pk"), state=ReportState.SUBMITTED)
        .order_by()
        .values("lead")
        .annotate(at=Max("submitted_at"))
        .values("at")
    )
    target = Lead.objects.all() if leads is None else leads
    return target.order_by().update(last_reported_at=Subquery(latest))


@transaction.atomic
def report_submit(*, author: User, report: Report) -> Report:
    """Send a draft to the manager. Its quality and whether it came on time are saved with it;
    its next step and date become the lead's next step. An escalation plan with only the facts
    is refused, naming the missing parts."""
    report = Report.objects.select_for_update(of=("self",)).select_related("lead").get(pk=report.pk)
    if report.author_id != author.pk:
        raise ValidationError(_("Only the author can send this report."))
    if report.state != ReportState.DRAFT:
        raise ValidationError(_("This report is already sent."))
    today = timezone.localdate()
    errors = _submit_errors(report, today)
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
    if not report.ask.strip():
        report.ask_kind = AskKind.GENERAL
    report.save()
    if report.lead_id is not None:
        _note_last_report(report.lead_id, now)
    first_plan = _is_first_plan(report)
    _move_lead(author=author, report=report)
    events.emit(
        events.report_submitted,
        report_id=report.pk,
        author_id=author.pk,
        lead_id=report.lead_id,
        kind=report.kind,
        has_plan=report.has_plan,
        has_ask=bool(report.ask.strip()),
        shared=report.share_with_director,
        team_id=report.team_id,
        ask_kind=report.ask_kind,
        quality_score=report.quality_score,
        quality_issues=list(report.quality_issues),
        handed_by_id=lead.handed_by_id if lead is not None else None,
        first_plan_on_lead=first_plan,
        next_step_due=report.next_step_due.isoformat() if report.next_step_due else None,
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
def report_mark_seen(*, author: User, report: Report) -> bool:
    """The author opened their report: the answers on it are no longer new to them. Sends
    `report_seen` only when there was something new (not on every visit). Returns whether it
    was new."""
    if report.author_id != author.pk or report.answered_at is None:
        return False
    now = timezone.now()
    updated = (
        Report.objects.filter(pk=report.pk, answered_at__isnull=False)
        .filter(Q(author_seen_at__isnull=True) | Q(author_seen_at__lt=F("answered_at")))
        .update(author_seen_at=now)
    )
    report.author_seen_at = now
    if updated:
        events.emit(
            events.report_seen, report_id=report.pk, author_id=author.pk, lead_id=report.lead_id
        )
    return bool(updated)


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
    report.answered_at = now
    report.save(update_fields=["acknowledged_at", "acknowledged_by", "read_at", "answered_at"])
    audit.record(actor=actor, action="report.acknowledged", obj=report)
    events.emit(
        events.report_acknowledged,
        report_id=report.pk,
        actor_id=actor.pk,
        author_id=report.author_id,
        lead_id=report.lead_id,
    )
    return report


@transaction.atomic
def report_reply(*, actor: User, report: Report, body: str) -> ReportReply:
    """Add a message to the thread under a report (the rep, the manager, or a +2 it is shared
    with). Anyone's reply but the author's is an answer the rep has not seen yet; the author's
    own reply means they have seen the thread."""
    report = (
        visible_reports(actor).select_for_update().get(pk=report.pk, state=ReportState.SUBMITTED)
    )
    body = body.strip()
    if not body:
        raise ValidationError({"body": _("Write something before replying.")})
    reply = ReportReply.objects.create(report=report, author=actor, body=body)
    now = reply.created_at
    by_author = actor.pk == report.author_id
    fields: list[str] = []
    if can_answer_report(actor, report) and report.read_at is None:
        report.read_at = now
        fields.append("read_at")
    if by_author:
        report.author_seen_at = now
        fields.append("author_seen_at")
    else:
        report.answered_at = now
        fields.append("answered_at")
    report.save(update_fields=fields)
    events.emit(
        events.report_replied,
        report_id=report.pk,
        actor_id=actor.pk,
        author_id=report.author_id,
        lead_id=report.lead_id,
        reply_id=reply.pk,
        by_author=by_author,
    )
    return reply


def _check_ask_step(report: Report, state: str, note: str) -> None:
    previous = report.ask_state
    if previous not in ASK_STEPS or previous in ASK_FINAL:
        raise ValidationError(_("This ask is already answered."))
    if state not in ASK_STEPS or state == AskState.OPEN:
        raise ValidationError({"state": _("Choose one of the answers.")})
    if ASK_STEPS[state] <= ASK_STEPS[previous]:
        raise ValidationError(
            {
                "state": _("The ask is already “%(state)s”; choose a later step.")
                % {"state": AskState(previous).label}
            }
        )
    if state == AskState.DECLINED and not note:
        raise ValidationError({"note": _("Say why you decline, so the rep can plan around it.")})


@transaction.atomic
def report_answer_ask(*, actor: User, report: Report, state: str, note: str = "") -> Report:
    """Answer the rep's ask: accepted, in progress ("I'll handle it" / 我来办), done, or
    declined with a reason. An ask moves forward only and done/declined are final; the rep is
    told each step. The first answer's time is kept as the response time."""
    report = _answerable(actor, report)
    note = note.strip()
    _check_ask_step(report, state, note)
    previous = report.ask_state
    now = timezone.now()
    report.ask_state = state
    report.ask_resolved_at = report.ask_resolved_at or now
    if note:
        report.ask_resolution_note = note
    report.read_at = report.read_at or now
    report.answered_at = now
    report.save(
        update_fields=[
            "ask_state",
            "ask_resolved_at",
            "ask_resolution_note",
            "read_at",
            "answered_at",
        ]
    )
    audit.record(actor=actor, action="report.ask_answered", obj=report, summary=state)
    events.emit(
        events.ask_answered,
        report_id=report.pk,
        actor_id=actor.pk,
        author_id=report.author_id,
        lead_id=report.lead_id,
        state=state,
        previous_state=previous,
        ask_kind=report.ask_kind,
    )
    return report


def _check_decision(
    report: Report, decision: str, note: str, until: dt.date | None, today: dt.date
) -> None:
    if report.kind != ReportKind.ESCALATION or report.lead is None:
        raise ValidationError(_("Only an escalation plan on a lead takes a decision."))
    if report.decision:
        raise ValidationError(_("This plan already has a decision."))
    if decision not in PlanDecision.values:
        raise ValidationError({"decision": _("Choose one of the decisions.")})
    if decision == PlanDecision.PARK and (until is None or until <= today):
        raise ValidationError({"until": _("Park the lead until a date in the future.")})
    if decision in (PlanDecision.KEEP_PUSHING, PlanDecision.JOINT_VISIT) and (
        until is not None and until < today
    ):
        raise ValidationError({"until": _("The date is in the past.")})
    if decision == PlanDecision.JOINT_VISIT and until is None:
        raise ValidationError({"until": _("Give the date of the joint visit.")})
    if decision == PlanDecision.CLOSE_LOST and not note:
        raise ValidationError({"note": _("Say why the lead is closed as lost.")})


def _apply_decision(
    *, actor: User, report: Report, decision: str, note: str, until: dt.date | None
) -> None:
    """What the decision does to the lead."""
    lead = report.lead
    assert lead is not None
    if decision == PlanDecision.HAND_BACK:
        lead_return_to_pool(actor=actor, lead=lead, note=note)
        return
    if decision == PlanDecision.CLOSE_LOST:
        lead_change_stage(actor=actor, lead=lead, to_stage=Stage.LOST, reason=note)
        return
    lead = visible_leads(actor).select_for_update().get(pk=lead.pk)
    if decision == PlanDecision.PARK:
        step = _("Parked by the manager: pick it up again.")
    elif decision == PlanDecision.JOINT_VISIT:
        step = _("Joint visit with %(manager)s") % {"manager": actor}
    else:
        if until is None:
            return  # keep pushing, with no new date: the lead's next step stays.
        step = report.next_step or lead.next_step or _("Keep pushing")
    lead_set_next_step(
        actor=actor,
        lead=lead,
        next_step=str(step),
        due=until,
        source=NextStepSource.DECISION,
        report_id=report.pk,
        parked_until=until if decision == PlanDecision.PARK else None,
    )


@transaction.atomic
def report_decide(
    *,
    actor: User,
    report: Report,
    decision: str,
    note: str = "",
    until: dt.date | None = None,
    park_until: dt.date | None = None,
) -> Report:
    """The manager's answer to an escalation plan: keep pushing (until a date: the lead's next
    step date), "I'll come with you" (a joint visit on a date: the lead's next step), park the
    lead until a date (it leaves the stalled lists until then), take it back into the team
    pool, or close it as lost. `park_until` is the older name of `until` for parking."""
    report = _answerable(actor, report)
    until = until or park_until
    note = note.strip()
    _check_decision(report, decision, note, until, timezone.localdate())
    _apply_decision(actor=actor, report=report, decision=decision, note=note, until=until)
    now = timezone.now()
    report.decision = decision
    report.decision_note = note
    report.park_until = until if decision in DATED_DECISIONS else None
    report.decided_at = now
    report.decided_by = actor
    audit.record(actor=actor, action="report.plan_decided", obj=report, summary=decision)
    report.read_at = report.read_at or now
    report.acknowledged_at = report.acknowledged_at or now
    report.acknowledged_by = report.acknowledged_by or actor
    report.answered_at = now
    report.save()
    events.emit(
        events.plan_decided,
        report_id=report.pk,
        actor_id=actor.pk,
        author_id=report.author_id,
        lead_id=report.lead_id,
        decision=decision,
        until=until.isoformat() if until and decision in DATED_DECISIONS else None,
    )
    return report
