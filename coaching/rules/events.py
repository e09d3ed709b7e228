"""The event rules: NudgeSpec, the working-day due dates, and one pure function per event."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from crm.models import Outcome, ReportKind


@dataclass(frozen=True)
class NudgeSpec:
    """What the coach wants to say, to whom, about what; the key makes it idempotent."""

    rule_id: str
    recipient_id: int
    period: str = "once"
    lead_id: int | None = None
    report_id: int | None = None
    subject_user_id: int | None = None
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        if self.lead_id:
            subject = f"lead:{self.lead_id}"
        elif self.report_id:
            subject = f"report:{self.report_id}"
        elif self.subject_user_id:
            subject = f"user:{self.subject_user_id}"
        else:
            subject = "-"
        return f"{self.rule_id}|{subject}|{self.recipient_id}|{self.period}"


# --- Event rules: pure -------------------------------------------------------------------------


def add_working_days(start: dt.date, days: int) -> dt.date:
    """The date `days` working days (Monday to Friday) after `start`."""
    day = start
    left = max(days, 0)
    while left:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return day


def due_context(start: dt.date, working_days: int) -> dict[str, Any]:
    """A due date N working days on, for a nudge's context: shown (`date`) and comparable in
    SQL (`due`, the date's ordinal)."""
    due = add_working_days(start, working_days)
    return {"date": due.isoformat(), "due": due.toordinal()}


NOTE_CHARS = 140


def on_lead_handed_down(
    *,
    lead_id: int,
    company: str,
    to_user_id: int | None,
    event_id: int,
    chicken_rib: bool,
    note: str = "",
    handed_on: dt.date | None = None,
    working_days: int = 2,
) -> list[NudgeSpec]:
    """A lead handed to a rep: acknowledge and send a first plan by a date N working days on
    (the team's threshold), with the manager's note; a chicken-rib lead is a test."""
    if to_user_id is None:
        return []
    note = " ".join(note.split())
    if len(note) > NOTE_CHARS:
        note = note[: NOTE_CHARS - 1] + "…"
    context: dict[str, Any] = {"company": company, "chicken_rib": chicken_rib, "note": note}
    if handed_on is not None:
        context |= due_context(handed_on, working_days)
    return [
        NudgeSpec(
            "handoff_first_plan",
            to_user_id,
            period=f"e{event_id}",
            lead_id=lead_id,
            context=context,
        )
    ]


def on_chicken_rib_flagged(
    *,
    lead_id: int,
    company: str,
    owner_id: int | None,
    event_id: int,
    flagged_on: dt.date,
    working_days: int,
) -> list[NudgeSpec]:
    """A lead just flagged chicken-rib: its owner is asked for a plan within N working days."""
    if owner_id is None:
        return []
    return [
        NudgeSpec(
            "chicken_rib_plan",
            owner_id,
            period=f"e{event_id}",
            lead_id=lead_id,
            context={"company": company, "chicken_rib": True}
            | due_context(flagged_on, working_days),
        )
    ]


def answer_code(event_name: str, payload: dict[str, Any]) -> str:
    """What the manager's answer was, as the key of report_answered's text variants."""
    if event_name == "report_acknowledged":
        return "acknowledged"
    if event_name == "report_replied":
        return "replied"
    if event_name == "ask_answered":
        return f"ask_{payload.get('state', '')}"
    return str(payload.get("decision", "decided"))


def on_report_answered(
    *,
    event_id: int,
    report_id: int,
    author_id: int | None,
    actor_id: int | None,
    manager: str,
    company: str,
    answer: str,
    until: str | None = None,
) -> list[NudgeSpec]:
    """The manager (or a +2) answered a report: the author hears it at once, one update per
    answer, until they open the report."""
    if author_id is None or actor_id == author_id:
        return []
    context: dict[str, Any] = {"manager": manager, "company": company, "answer": answer}
    if until:
        context["until"] = until
    return [
        NudgeSpec(
            "report_answered",
            author_id,
            period=f"e{event_id}",
            report_id=report_id,
            context=context,
        )
    ]


def on_handed_lead_closed(
    *,
    lead_id: int,
    company: str,
    owner_id: int | None,
    owner_name: str,
    handed_by_id: int | None,
    outcome: str,
) -> list[NudgeSpec]:
    """A lead a manager handed down was won or lost: the manager hears how it ended."""
    if handed_by_id is None or owner_id is None or handed_by_id == owner_id:
        return []
    return [
        NudgeSpec(
            "handed_lead_closed",
            handed_by_id,
            period=outcome,
            lead_id=lead_id,
            context={"company": company, "rep": owner_name, "outcome": outcome},
        )
    ]


def on_first_plan(
    *,
    report_id: int,
    company: str,
    author_id: int,
    author_name: str,
    handed_by_id: int | None,
    first_plan: bool,
) -> list[NudgeSpec]:
    """The first plan on a lead a manager handed down reaches that manager."""
    if not first_plan or handed_by_id is None or handed_by_id == author_id:
        return []
    return [
        NudgeSpec(
            "handed_lead_first_plan",
            handed_by_id,
            report_id=report_id,
            context={"company": company, "rep": author_name},
        )
    ]


def on_activity_logged(
    *, lead_id: int, company: str, owner_id: int | None, activity_id: int, outcome: str
) -> list[NudgeSpec]:
    """Unreachable or refused: don't bounce it back; go and find out why, then plan."""
    if owner_id is None or outcome not in (Outcome.UNREACHABLE, Outcome.REFUSED):
        return []
    return [
        NudgeSpec(
            "bounce_back",
            owner_id,
            period=f"a{activity_id}",
            lead_id=lead_id,
            context={"company": company, "activity_id": activity_id},
        )
    ]


def on_lead_won(
    *, lead_id: int, company: str, owner_id: int | None, handed_by_id: int | None
) -> list[NudgeSpec]:
    """After a win, thank and credit the manager who handed the lead down."""
    if owner_id is None or handed_by_id is None or handed_by_id == owner_id:
        return []
    return [
        NudgeSpec(
            "lead_won_thanks",
            owner_id,
            lead_id=lead_id,
            context={"company": company, "manager_id": handed_by_id},
        )
    ]


def on_lead_lost(*, lead_id: int, company: str, owner_id: int | None) -> list[NudgeSpec]:
    """A lost lead deserves an honest, timely loss review."""
    if owner_id is None:
        return []
    return [NudgeSpec("loss_review", owner_id, lead_id=lead_id, context={"company": company})]


def on_report_submitted(
    *,
    report_id: int,
    kind: str,
    lead_id: int | None,
    company: str,
    author_name: str,
    manager_id: int | None,
) -> list[NudgeSpec]:
    """An escalation plan waits for the manager's decision."""
    if kind != ReportKind.ESCALATION or manager_id is None or lead_id is None:
        return []
    return [
        NudgeSpec(
            "plan_decision_due",
            manager_id,
            report_id=report_id,
            context={"company": company, "rep": author_name},
        )
    ]
