"""The demo's reports as a real team has them: most open leads reported on lately, loss
reviews after a loss, escalation plans (all three layers) on chicken-rib leads, open asks,
acknowledgements and replies. Each is written in its author's language, sent after the lead
was handed down (a loss review after the loss), and passes the checks report_submit makes."""

from __future__ import annotations

import datetime as dt
import random

from django.utils import timezone

from crm.management.demo.words import pick
from crm.models import (
    AskState,
    Lead,
    Report,
    ReportKind,
    ReportReply,
    ReportState,
    Team,
    User,
)
from crm.pipeline import Stage
from crm.reporting import ReportParts, assess
from crm.services.reports import lead_last_report_refresh


def team_reports(rng: random.Random, team: Team) -> None:
    """The team's reports on its reps' worked leads, and the manager's replies to some."""
    now = timezone.now()
    reports = []
    leads = Lead.objects.filter(team=team, owner__isnull=False).exclude(stage=Stage.NEW)
    for lead in leads.select_related("owner"):
        kind = _kind(rng, lead)
        submitted = _sent_at(rng, lead, kind, now) if kind else None
        if kind and submitted:
            reports.append(_report(rng, lead, kind, submitted, team.manager, now))
    Report.objects.bulk_create(reports, batch_size=500)
    lead_last_report_refresh(leads=leads)  # Lead.last_reported_at, as report_submit keeps it
    replies = [
        ReportReply(
            report=report,
            author=team.manager,
            body=pick(rng, "reply", team.manager.language),
            created_at=report.acknowledged_at,
        )
        for report in reports
        if report.acknowledged_at and rng.random() < 0.4
    ]
    ReportReply.objects.bulk_create(replies, batch_size=500)


def _kind(rng: random.Random, lead: Lead) -> str | None:
    """What the rep wrote on this lead, if anything."""
    roll = rng.random()
    if lead.stage == Stage.LOST:
        return ReportKind.LOSS_REVIEW if roll < 0.5 else None
    if lead.is_chicken_rib and roll < 0.4:
        return ReportKind.ESCALATION
    if roll < 0.65:
        return ReportKind.PROGRESS
    if roll < 0.72:
        return ReportKind.QUESTION
    return None


def _sent_at(rng: random.Random, lead: Lead, kind: str, now: dt.datetime) -> dt.datetime | None:
    """When it was sent: in the last 12 days, after the hand-off and, for a closed lead,
    before it closed (a loss review after); None when there was no such moment."""
    assert lead.handed_at is not None
    if kind == ReportKind.LOSS_REVIEW:
        start, end = lead.closed_at or now, now
    else:
        start, end = lead.handed_at, lead.closed_at or now
    start = max(start, now - dt.timedelta(days=12)) + dt.timedelta(minutes=30)
    if end <= start:
        return None
    return start + (end - start) * rng.random()


def _parts(rng: random.Random, kind: str, language: str) -> dict[str, str]:
    """The report's text in the author's language; a plan always has its three layers and a
    question its ask."""
    plan = kind == ReportKind.ESCALATION
    parts = {
        "status_now": pick(rng, "status_now", language),
        "what_i_did": pick(rng, "what_i_did", language) if rng.random() < 0.8 else "",
        "next_step": pick(rng, "plan_next_step", language) if plan or rng.random() < 0.8 else "",
        "backup_plan": pick(rng, "backup_plan", language) if rng.random() < 0.5 else "",
        "ask": pick(rng, "ask", language) if plan or rng.random() < 0.35 else "",
    }
    if kind == ReportKind.QUESTION and not parts["ask"]:
        parts["ask"] = pick(rng, "question", language)
    return parts


def _report(
    rng: random.Random,
    lead: Lead,
    kind: str,
    submitted: dt.datetime,
    manager: User,
    now: dt.datetime,
) -> Report:
    """One sent report with its quality and, for most, the manager's acknowledgement."""
    author = lead.owner
    assert author is not None
    parts = _parts(rng, kind, author.language)
    today = timezone.localdate(submitted)
    next_due = today + dt.timedelta(days=rng.randint(2, 10)) if parts["next_step"] else None
    ask_due = today + dt.timedelta(days=rng.randint(1, 6)) if parts["ask"] else None
    quality = assess(ReportParts(kind=kind, next_step_due=next_due, ask_due=ask_due, **parts))
    acknowledged = submitted + dt.timedelta(hours=rng.uniform(1, 30))
    is_acknowledged = acknowledged < now and rng.random() < 0.7
    return Report(
        author=author,
        team=lead.team,
        lead=lead,
        kind=kind,
        state=ReportState.SUBMITTED,
        next_step_due=next_due,
        ask_due=ask_due,
        share_with_director=lead.value >= 1_000_000 and rng.random() < 0.5,
        quality_score=quality.score,
        quality_issues=quality.issues,
        on_time=rng.random() < 0.75,
        created_at=submitted,
        updated_at=submitted,
        submitted_at=submitted,
        read_at=acknowledged if is_acknowledged or rng.random() < 0.3 else None,
        acknowledged_at=acknowledged if is_acknowledged else None,
        acknowledged_by=manager if is_acknowledged else None,
        ask_state=AskState.OPEN if parts["ask"] else AskState.NONE,
        **parts,
    )
