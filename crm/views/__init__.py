"""Pages, one module per entity: leads (lists, a lead's page, hand-out), reports (compose, read,
answer, inbox), people (profile, my manager, audit trail, health, lock-out) and exchange (import
and export). Views parse input, call one service or selector, and render; htmx requests get the
page's swappable region via crm.web.render_region.

The names are re-exported here so `crm.views.<name>` (urls, AXES_LOCKOUT_CALLABLE) keeps working.
"""

from crm.views.exchange import (
    lead_export,
    lead_import,
    lead_import_detail,
    lead_import_errors,
    lead_import_progress,
)
from crm.views.leads import (
    handoff,
    lead_change_stage,
    lead_create,
    lead_detail,
    lead_edit,
    lead_list,
    lead_log_activity,
    my_day,
    pipeline_board,
)
from crm.views.people import audit_trail, health, locked_out, my_manager, profile
from crm.views.reports import (
    report_acknowledge,
    report_answer_ask,
    report_compose,
    report_decide,
    report_detail,
    report_inbox,
    report_reply,
)

__all__ = [
    "audit_trail",
    "handoff",
    "health",
    "lead_change_stage",
    "lead_create",
    "lead_detail",
    "lead_edit",
    "lead_export",
    "lead_import",
    "lead_import_detail",
    "lead_import_errors",
    "lead_import_progress",
    "lead_list",
    "lead_log_activity",
    "locked_out",
    "my_day",
    "my_manager",
    "pipeline_board",
    "profile",
    "report_acknowledge",
    "report_answer_ask",
    "report_compose",
    "report_decide",
    "report_detail",
    "report_inbox",
    "report_reply",
]
