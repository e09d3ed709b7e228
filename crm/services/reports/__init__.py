"""Report (汇报) services: a rep drafts and sends a report; the manager reads, acknowledges,
replies, answers the ask and decides on an escalation plan (which may park the lead, take it
back into the pool or close it as lost, through the lead services). Each answer is audited,
stamps `Report.answered_at` (what is "new" for the rep until they open the report:
report_mark_seen) and sends its domain event.

A plan moves the lead: a sent progress report or plan with a next step and its date becomes
the lead's next step; the manager's "keep pushing until", "I'll come with you" and "park until"
set the lead's date (crm.services.leads.lead_set_next_step, with a history row naming the
report).

One module per subject, each name re-exported here so that `from crm.services.reports import
…` stays: submitting (the draft and sending it), answering (read, seen, acknowledged, replied,
the ask answered) and deciding (the manager's decision on an escalation plan).
"""

from crm.services.reports.answering import (
    ASK_FINAL,
    ASK_STEPS,
    _answerable,
    _check_ask_step,
    report_acknowledge,
    report_answer_ask,
    report_mark_read,
    report_mark_seen,
    report_reply,
)
from crm.services.reports.deciding import (
    DATED_DECISIONS,
    _apply_decision,
    _check_decision,
    report_decide,
)
from crm.services.reports.submitting import (
    REPORT_FIELDS,
    _is_first_plan,
    _move_lead,
    _note_last_report,
    _previous_report_time,
    _report_parts,
    _submit_errors,
    lead_last_report_refresh,
    report_save_draft,
    report_submit,
)

__all__ = [
    "ASK_FINAL",
    "ASK_STEPS",
    "DATED_DECISIONS",
    "REPORT_FIELDS",
    "_answerable",
    "_apply_decision",
    "_check_ask_step",
    "_check_decision",
    "_is_first_plan",
    "_move_lead",
    "_note_last_report",
    "_previous_report_time",
    "_report_parts",
    "_submit_errors",
    "lead_last_report_refresh",
    "report_acknowledge",
    "report_answer_ask",
    "report_decide",
    "report_mark_read",
    "report_mark_seen",
    "report_reply",
    "report_save_draft",
    "report_submit",
]
