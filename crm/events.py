"""Domain events the CRM sends after a change commits. Listeners get ids, never live objects.

Other apps (the coach) connect receivers here; crm itself never imports them.
"""

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.dispatch import Signal

lead_created = Signal()  # lead_id, actor_id
lead_updated = Signal()  # lead_id, actor_id, changed (list of field names)
lead_handed_down = Signal()  # lead_id, actor_id, to_user_id, from_user_id, note
activity_logged = Signal()  # lead_id, actor_id, activity_id, kind, outcome
lead_stage_changed = Signal()  # lead_id, actor_id, from_stage, to_stage
lead_won = Signal()  # lead_id, actor_id, handed_by_id
lead_lost = Signal()  # lead_id, actor_id, reason
rep_moved_team = Signal()  # user_id, actor_id, from_team_id, to_team_id


def send_on_commit(signal: Signal, **payload: Any) -> None:
    """Send `signal` once the surrounding transaction commits (at once outside one)."""
    send: Callable[[], object] = lambda: signal.send(sender=signal, **payload)  # noqa: E731
    transaction.on_commit(send, robust=True)
