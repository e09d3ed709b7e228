"""The manager's answers to a sent report, and the rep seeing them: read (no longer unread in
the inbox), acknowledged, replied to in the report's thread, and the rep's ask answered step by
step (open → accepted → in progress → done / declined, forward only). Each answer stamps
`Report.answered_at`, which is "new" for the rep until they open the report (report_mark_seen),
and sends its domain event; the acknowledgement and the ask's answers are audited.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import audit, events
from crm.models import AskState, Report, ReportReply, ReportState, User
from crm.permissions import can_answer_report, visible_reports

# An ask moves forward only: open → accepted → in progress → done / declined (final).
ASK_STEPS: dict[str, int] = {
    AskState.OPEN: 0,
    AskState.ACCEPTED: 1,
    AskState.IN_PROGRESS: 2,
    AskState.DONE: 3,
    AskState.DECLINED: 3,
}
ASK_FINAL = frozenset({AskState.DONE, AskState.DECLINED})


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
