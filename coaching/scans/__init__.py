"""The coach's scans: one function per scan, registered under the name the playbook's rules
give in `trigger: {scan: …}` with `@scan(...)`.

A scan takes one ScanInput (the rule, its thresholds for a group of teams, the group's open
owned leads and active reps as lazy querysets, and the clock) and returns the NudgeSpecs its
rule calls for. The judgement itself lives in coaching.rules as set-based queries, so a scan's
number of queries never depends on the number of leads. SCANS is the set of scan names the
playbook may use; the start-up check (coaching.receivers.connect) refuses any other.

`run_scans` applies every scan rule to every group of teams sharing its thresholds and makes
the nudges in one batch, so the daily push budget goes to the most important advice.

One module per subject, each name re-exported here so that `from coaching import scans` and
`scans.run_scans()` stay: registry (ScanInput, SCANS, @scan), keys (a finding's nudge key in
SQL), the scans of leads, of reps and their reports, and escalations (to the manager and the
+2), and running (run_scans). Importing the package registers every scan.
"""

from coaching import rules
from coaching.scans.escalations import (
    _amount,
    _names,
    _per_manager,
    _settle_cleared,
    _week,
    director_answers_waiting,
    director_big_deal_stalled,
    director_silent_reps,
    first_plan_overdue,
    report_due_ignored,
)
from coaching.scans.keys import (
    _not_yet,
    _sql_key,
    _Unmade,
    _utc_day,
    _UtcDay,
)
from coaching.scans.leads import (
    big_deal,
    deadline_near,
    no_decision_maker,
    report_due,
    stalled,
    stalled_ignored,
)
from coaching.scans.registry import (
    SCANS,
    M,
    Scan,
    ScanInput,
    _person,
    scan,
)
from coaching.scans.reps import (
    low_contact,
    only_help,
    reliable_rep,
    unacknowledged,
    uneven_distribution,
    year_end,
)
from coaching.scans.running import (
    FOLDED,
    _inputs,
    run_scans,
)
from crm.models import Lead

__all__ = [
    "FOLDED",
    "SCANS",
    "Lead",
    "M",
    "Scan",
    "ScanInput",
    "_Unmade",
    "_UtcDay",
    "_amount",
    "_inputs",
    "_names",
    "_not_yet",
    "_per_manager",
    "_person",
    "_settle_cleared",
    "_sql_key",
    "_utc_day",
    "_week",
    "big_deal",
    "deadline_near",
    "director_answers_waiting",
    "director_big_deal_stalled",
    "director_silent_reps",
    "first_plan_overdue",
    "low_contact",
    "no_decision_maker",
    "only_help",
    "reliable_rep",
    "report_due",
    "report_due_ignored",
    "rules",
    "run_scans",
    "scan",
    "stalled",
    "stalled_ignored",
    "unacknowledged",
    "uneven_distribution",
    "year_end",
]
