"""Domain events: what happened in the CRM, for whoever listens (the coach). crm imports no
listener.

Each event is two things: a `DomainEvent` row written in the same transaction as the change
(the outbox that background workers read, so nothing is lost if a process dies right after the
commit), and a Django signal sent once the transaction commits, for in-process listeners.
Payloads carry ids, never live objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.dispatch import Signal

# No code connects a listener to these Signals outside the tests: the coach reads the outbox
# rows by name, and a playbook rule may subscribe to any name below (coaching.receivers checks
# them against NAMES). So none is dropped; each line says who reads its row today.
lead_created = Signal()  # lead_id, actor_id — counted by import checks and the import bench
lead_updated = Signal()  # lead_id, actor_id, changed (field names) — no reader yet; playbook-ready
lead_handed_down = Signal()  # lead_id, actor_id, to_user_id, from_user_id, note — the coach
# lead_id, actor_id, activity_id, kind, outcome, next_step_due — the coach
activity_logged = Signal()
lead_stage_changed = Signal()  # lead_id, actor_id, from_stage, to_stage — no reader yet
lead_won = Signal()  # lead_id, actor_id, handed_by_id — the coach
lead_lost = Signal()  # lead_id, actor_id, reason — the coach
rep_moved_team = Signal()  # user_id, actor_id, from_team_id, to_team_id — no reader yet
lead_next_step_set = Signal()  # lead_id, actor_id, owner_id, next_step_due, parked_until,
# source ("report" | "decision" | "activity"), report_id — the coach closes stalled nudges
# report_id, author_id, lead_id, kind, has_plan, has_ask, shared, team_id, ask_kind,
# quality_score, quality_issues, handed_by_id, first_plan_on_lead, next_step_due — the coach
report_submitted = Signal()
report_acknowledged = Signal()  # report_id, actor_id, author_id, lead_id — the coach
# report_id, actor_id, author_id, lead_id, reply_id, by_author — the coach (an update for the
# rep when the manager replies)
report_replied = Signal()
# report_id, actor_id, author_id, lead_id, state, previous_state, ask_kind — the coach
ask_answered = Signal()
# report_id, actor_id, author_id, lead_id, decision, until — the coach
plan_decided = Signal()
report_seen = Signal()  # report_id, author_id, lead_id — the author saw new answers

# The stable names stored in the outbox; listeners match on these.
NAMES: dict[Signal, str] = {
    lead_created: "lead_created",
    lead_updated: "lead_updated",
    lead_handed_down: "lead_handed_down",
    activity_logged: "activity_logged",
    lead_stage_changed: "lead_stage_changed",
    lead_won: "lead_won",
    lead_lost: "lead_lost",
    rep_moved_team: "rep_moved_team",
    report_submitted: "report_submitted",
    report_acknowledged: "report_acknowledged",
    report_replied: "report_replied",
    ask_answered: "ask_answered",
    plan_decided: "plan_decided",
    lead_next_step_set: "lead_next_step_set",
    report_seen: "report_seen",
}


def emit(signal: Signal, **payload: Any) -> None:
    """Record the event in the outbox now and send the signal once the transaction commits."""
    from crm.models import DomainEvent

    DomainEvent.objects.create(name=NAMES[signal], payload=payload)
    transaction.on_commit(lambda: signal.send(sender=signal, **payload), robust=True)


def emit_many(signal: Signal, payloads: Sequence[dict[str, Any]]) -> None:
    """`emit` for many events of one kind: the outbox rows in one insert (none for none), the
    signals once the transaction commits."""
    from crm.inserts import insert_many
    from crm.models import DomainEvent

    if not payloads:
        return

    insert_many([DomainEvent(name=NAMES[signal], payload=payload) for payload in payloads])
    if not signal.receivers:
        return  # nobody listens (an import's lead_created): the payloads need not wait

    def send() -> None:
        for payload in payloads:
            signal.send_robust(sender=signal, **payload)

    transaction.on_commit(send, robust=True)
