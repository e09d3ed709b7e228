"""The manager's decision on an escalation plan, which moves the lead through the lead
services: keep pushing (until a date), "I'll come with you" (a joint visit on a date), park it
until a date (crm.services.leads.lead_set_next_step, with a history row naming the report),
take it back into the team pool, or close it as lost. The decision is audited, answers the
report and sends its domain event.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import audit, events
from crm.models import PlanDecision, Report, ReportKind, User
from crm.permissions import visible_leads
from crm.pipeline import Stage
from crm.services.leads import (
    NextStepSource,
    lead_change_stage,
    lead_return_to_pool,
    lead_set_next_step,
)
from crm.services.reports.answering import _answerable

# The decisions that keep the lead with the rep and need a date.
DATED_DECISIONS = frozenset(
    {PlanDecision.KEEP_PUSHING, PlanDecision.JOINT_VISIT, PlanDecision.PARK}
)


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
