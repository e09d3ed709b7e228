"""The coach's writes, in one place for callers: views, the API, tasks, tests and benchmarks
import them from here. Each lives in the module for its subject:

- coaching.nudges: making nudges (push budget, quiet hours), resolving, expiring, snoozing,
  dismissing and waking them;
- coaching.handlers: the domain-event consumer, one registered handler per event;
- coaching.scans: the scans, one registered function per scan name, and `run_scans`;
- coaching.thanks: thanks, credit and the year-end note;
- coaching.preferences: people's notification preferences and teams' rule thresholds.

Email delivery lives in coaching.delivery.
"""

from __future__ import annotations

from coaching.handlers import HANDLED_EVENTS, handle_event, process_pending_events
from coaching.nudges import (
    CHUNK,
    create_nudges,
    expire_for_lead,
    nudge_dismiss,
    nudge_snooze,
    resolve,
    wake_snoozed,
)
from coaching.preferences import (
    preference_for,
    preference_update,
    rule_setting_update,
)
from coaching.scans import run_scans
from coaching.thanks import thanks_send, year_end_note_send

__all__ = [
    "CHUNK",
    "HANDLED_EVENTS",
    "create_nudges",
    "expire_for_lead",
    "handle_event",
    "nudge_dismiss",
    "nudge_snooze",
    "preference_for",
    "preference_update",
    "process_pending_events",
    "resolve",
    "rule_setting_update",
    "run_scans",
    "thanks_send",
    "wake_snoozed",
    "year_end_note_send",
]
