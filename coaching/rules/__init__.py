"""The coach's judgement, kept apart from the machinery that applies it.

Event rules are pure functions: the facts of one event in, nudge specs out. Scan rules are
queryset builders: one set-based query over all leads (or reps, or reports) that returns the
rows needing a nudge, so a scan's number of queries never depends on the number of leads.

One module per subject, each name re-exported here so that `from coaching import rules`
and `rules.report_due(...)` stay: events (NudgeSpec, due dates, the event rules), leads (the
lead queries), batches (large hand-offs spread out), reports, reps, and queries (what the
scan rules share).
"""

from coaching.rules.batches import (
    BATCH_SIZE,
    SPREAD_DAYS,
    Batch,
    _batch_offsets,
    _spread,
    latest_of,
    recent_batches,
)
from coaching.rules.events import (
    NOTE_CHARS,
    NudgeSpec,
    add_working_days,
    answer_code,
    due_context,
    on_activity_logged,
    on_chicken_rib_flagged,
    on_first_plan,
    on_handed_lead_closed,
    on_lead_handed_down,
    on_lead_lost,
    on_lead_won,
    on_report_answered,
    on_report_submitted,
)
from coaching.rules.leads import (
    _big_deals,
    _groups,
    big_deal,
    big_deals_stalled,
    deadline_near,
    no_decision_maker,
    open_owned_leads,
    report_due,
    stalled,
)
from coaching.rules.queries import (
    Rows,
    Unindexed,
)
from coaching.rules.reports import (
    unacknowledged,
    waiting_for_manager,
)
from coaching.rules.reps import (
    HANDS_WORK_BACK,
    active_reps,
    low_contact,
    only_help,
    reliable_rep,
    silent_reps,
    uneven,
    year_end_due,
)
from crm.pipeline import OPEN_STAGES

__all__ = [
    "BATCH_SIZE",
    "HANDS_WORK_BACK",
    "NOTE_CHARS",
    "OPEN_STAGES",
    "SPREAD_DAYS",
    "Batch",
    "NudgeSpec",
    "Rows",
    "Unindexed",
    "_batch_offsets",
    "_big_deals",
    "_groups",
    "_spread",
    "active_reps",
    "add_working_days",
    "answer_code",
    "big_deal",
    "big_deals_stalled",
    "deadline_near",
    "due_context",
    "latest_of",
    "low_contact",
    "no_decision_maker",
    "on_activity_logged",
    "on_chicken_rib_flagged",
    "on_first_plan",
    "on_handed_lead_closed",
    "on_lead_handed_down",
    "on_lead_lost",
    "on_lead_won",
    "on_report_answered",
    "on_report_submitted",
    "only_help",
    "open_owned_leads",
    "recent_batches",
    "reliable_rep",
    "report_due",
    "silent_reps",
    "stalled",
    "unacknowledged",
    "uneven",
    "waiting_for_manager",
    "year_end_due",
]
