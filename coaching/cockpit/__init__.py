"""The manager's cockpit: the team's pipeline, its stalled leads, one row of figures per rep
(or per team for the +2), the manager's own debt, and the hand-off suggestion.

One module per part — cube (the leads counted once by team, owner, stage and currency, which
the rows and the pipeline add up), figures (rep and team rows), reports (the rows' report
figures), pipeline (stage rows), debt (stalled leads and what the manager owes), suggestions
(whom to hand a lead to), ranking (the director's sortable table of reps) — re-exported here,
so callers keep `from coaching import cockpit` and `cockpit.rep_rows(...)`. Every figure is a
SQL aggregate, so the number of queries depends on neither the number of leads nor of reps.
"""

from coaching.cockpit.cube import LeadCube, lead_cube
from coaching.cockpit.debt import DEBT_LIMIT, STALLED_LIMIT, can_answer_for, my_debt, stalled_leads
from coaching.cockpit.figures import (
    DEFAULT_PERIOD,
    HANDED,
    PERIODS,
    Figures,
    period_from,
    rep_figures,
    rep_rows,
    reps_across,
    team_rows,
    team_total,
)
from coaching.cockpit.pipeline import (
    CHANGE_DAYS,
    FUNNEL_STAGES,
    StageRow,
    combined_pipeline,
    empty_pipeline,
    pipelines,
)
from coaching.cockpit.reports import report_cells
from coaching.cockpit.suggestions import (
    SUGGESTION_DAYS,
    Suggestion,
    handoff_suggestions,
    month_start,
    reason_for,
)
from crm.pipeline import OPEN_STAGES

__all__ = [
    "CHANGE_DAYS",
    "DEBT_LIMIT",
    "DEFAULT_PERIOD",
    "FUNNEL_STAGES",
    "HANDED",
    "OPEN_STAGES",
    "PERIODS",
    "STALLED_LIMIT",
    "SUGGESTION_DAYS",
    "Figures",
    "LeadCube",
    "StageRow",
    "Suggestion",
    "can_answer_for",
    "combined_pipeline",
    "empty_pipeline",
    "handoff_suggestions",
    "lead_cube",
    "month_start",
    "my_debt",
    "period_from",
    "pipelines",
    "reason_for",
    "rep_figures",
    "rep_rows",
    "report_cells",
    "reps_across",
    "stalled_leads",
    "team_rows",
    "team_total",
]
