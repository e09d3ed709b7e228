"""The lead's history: one small writer per `LeadEventKind`, so every service records a change
the same way (the shape of Saleor's order/events.py).

Each function builds an unsaved `LeadEvent` with the fields that kind carries; `write()` saves
one or many in a single INSERT. A writer never checks permissions or sends domain events: the
service that made the change does that, in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from crm.inserts import insert_many
from crm.models import Lead, LeadEvent, LeadEventKind, User


def _entry(**fields: Any) -> LeadEvent:
    if fields.get("created_at") is None:
        fields["created_at"] = timezone.now()
    return LeadEvent(**fields)


def created(*, lead: Lead, actor: User, to_user: User | None = None, at: dt.datetime) -> LeadEvent:
    """The lead was created (for `to_user` when a rep created their own lead)."""
    return _entry(
        lead=lead, kind=LeadEventKind.CREATED, actor=actor, to_user=to_user, created_at=at
    )


def updated(
    *, lead: Lead, actor: User, changes: dict[str, list[Any]], at: dt.datetime | None = None
) -> LeadEvent:
    """Editable fields changed: `changes` maps each field to its [old, new] JSON values."""
    return _entry(
        lead=lead, kind=LeadEventKind.UPDATED, actor=actor, changes=changes, created_at=at
    )


def handed_down(*, lead: Lead, actor: User, to_user: User, note: str, at: dt.datetime) -> LeadEvent:
    """A lead from the pool handed down to a rep."""
    return _entry(
        lead=lead,
        kind=LeadEventKind.HANDED_DOWN,
        actor=actor,
        team_id=lead.team_id,
        was_chicken_rib=lead.is_chicken_rib,
        to_user=to_user,
        note=note,
        created_at=at,
    )


def reassigned(
    *, lead: Lead, actor: User, from_user_id: int, to_user: User, note: str, at: dt.datetime
) -> LeadEvent:
    """A rep's lead given to another rep."""
    return _entry(
        lead=lead,
        kind=LeadEventKind.REASSIGNED,
        actor=actor,
        team_id=lead.team_id,
        was_chicken_rib=lead.is_chicken_rib,
        from_user_id=from_user_id,
        to_user=to_user,
        note=note,
        created_at=at,
    )


def returned(
    *,
    lead: Lead,
    actor: User,
    from_user_id: int,
    at: dt.datetime,
    note: str = "",
    moved_to_team: str | None = None,
) -> LeadEvent:
    """A rep's lead back in the team pool: taken back by the manager (with a note), or because
    the rep moved to another team (the new team's name kept as a fact, not as a sentence, so
    each reader sees it in their own language)."""
    return _entry(
        lead=lead,
        kind=LeadEventKind.RETURNED,
        actor=actor,
        from_user_id=from_user_id,
        note=note,
        changes={} if moved_to_team is None else {"moved_to_team": moved_to_team},
        created_at=at,
    )


def stage_changed(
    *, lead: Lead, actor: User, from_stage: str, to_stage: str, note: str, at: dt.datetime
) -> LeadEvent:
    """The lead moved along the pipeline (`note` holds the reason a lead was lost)."""
    return _entry(
        lead=lead,
        kind=LeadEventKind.STAGE_CHANGED,
        actor=actor,
        from_stage=from_stage,
        to_stage=to_stage,
        note=note,
        created_at=at,
    )


def next_step(
    *,
    lead: Lead,
    actor: User,
    source: str,
    report_id: int | None = None,
    parked_until: dt.date | None = None,
    at: dt.datetime | None = None,
) -> LeadEvent:
    """The lead's next step (and its date) was set by a sent report, a manager's decision on a
    plan or an activity logged with a next step. `changes` keeps the new step, its date, where it
    came from (`source`, `report_id`) and the parking date, as facts the timeline words in each
    reader's language."""
    facts: dict[str, Any] = {
        "next_step": lead.next_step,
        "next_step_due": lead.next_step_due.isoformat() if lead.next_step_due else None,
        "source": source,
    }
    if report_id is not None:
        facts["report_id"] = report_id
    if parked_until is not None:
        facts["parked_until"] = parked_until.isoformat()
    return _entry(
        lead=lead, kind=LeadEventKind.NEXT_STEP, actor=actor, changes=facts, created_at=at
    )


def write(entries: Iterable[LeadEvent]) -> list[LeadEvent]:
    """Save history entries, however many, in one INSERT (none when there are none)."""
    return insert_many(list(entries))
