"""Reads: the querysets behind the CRM's pages, one module per subject (leads, people,
reports). Visibility always starts from crm.permissions. Everything is re-exported here, so
`from crm import selectors; selectors.lead_list(...)` keeps working."""

from crm.selectors.board import BoardColumn, pipeline_board
from crm.selectors.companies import (
    CompanyFilters,
    ContactFilters,
    company_duplicates,
    company_list,
    company_page,
    contact_list,
    lead_contacts,
)
from crm.selectors.leads import (
    DEFAULT_SORT,
    NULLABLE_SORTS,
    SORTS,
    LeadFilters,
    TimelineEntry,
    handoff_candidates,
    lead_list,
    lead_timeline,
    stalled_q,
    stalled_since,
    with_idle_since,
)
from crm.selectors.my_day import my_day
from crm.selectors.people import rep_load
from crm.selectors.reports import lead_report_facts, my_manager, rep_report_stats, report_inbox

__all__ = [
    "DEFAULT_SORT",
    "NULLABLE_SORTS",
    "SORTS",
    "BoardColumn",
    "CompanyFilters",
    "ContactFilters",
    "LeadFilters",
    "TimelineEntry",
    "company_duplicates",
    "company_list",
    "company_page",
    "contact_list",
    "handoff_candidates",
    "lead_contacts",
    "lead_list",
    "lead_report_facts",
    "lead_timeline",
    "my_day",
    "my_manager",
    "pipeline_board",
    "rep_load",
    "rep_report_stats",
    "report_inbox",
    "stalled_q",
    "stalled_since",
    "with_idle_since",
]
