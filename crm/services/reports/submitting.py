"""Writing and sending a report: the rep's draft saved as typed (its quality assessed), and the
draft sent to the manager, refused while a part the kind needs is missing; its quality and
whether it came on time are saved with it. A sent progress report or plan with a next step and
its date becomes the lead's next step (crm.services.leads.lead_set_next_step, with a history row
naming the report), and the lead keeps its latest report's time (Lead.last_reported_at).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import events
from crm.models import AskKind, AskState, Lead, Report, ReportKind, ReportState, Role, User
from crm.permissions import visible_leads
from crm.reporting import ReportParts, assess, report_due_days, was_on_time
from crm.services.leads import NextStepSource, lead_set_next_step

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
