"""Every write in the CRM, one module per subject: leads, hand-offs, activities, people and
reports. Each service is one transaction that also writes the lead's history and its domain
events; errors a user can cause raise ValidationError in the active language and save nothing.

Everything is re-exported here, so `from crm import services; services.lead_create(...)` keeps
working and a new subject (companies, contacts) arrives as a sibling module.
"""

from crm.services.activities import activity_log
from crm.services.companies import (
    company_create,
    company_merge,
    company_update,
    contact_create,
    contact_update,
    lead_contact_add,
    lead_contact_create,
    lead_contact_remove,
)
from crm.services.handoffs import lead_hand_off
from crm.services.leads import (
    EDITABLE_FIELDS,
    NextStepSource,
    lead_build,
    lead_bulk_create,
    lead_change_stage,
    lead_create,
    lead_pool_team,
    lead_return_to_pool,
    lead_set_next_step,
    lead_update,
    returned_payload,
)
from crm.services.people import profile_update, rep_join_team, rep_move_team
from crm.services.reports import (
    REPORT_FIELDS,
    report_acknowledge,
    report_answer_ask,
    report_decide,
    report_mark_read,
    report_mark_seen,
    report_reply,
    report_save_draft,
    report_submit,
)

__all__ = [
    "EDITABLE_FIELDS",
    "REPORT_FIELDS",
    "NextStepSource",
    "activity_log",
    "company_create",
    "company_merge",
    "company_update",
    "contact_create",
    "contact_update",
    "lead_build",
    "lead_bulk_create",
    "lead_change_stage",
    "lead_contact_add",
    "lead_contact_create",
    "lead_contact_remove",
    "lead_create",
    "lead_hand_off",
    "lead_pool_team",
    "lead_return_to_pool",
    "lead_set_next_step",
    "lead_update",
    "profile_update",
    "rep_join_team",
    "rep_move_team",
    "report_acknowledge",
    "report_answer_ask",
    "report_decide",
    "report_mark_read",
    "report_mark_seen",
    "report_reply",
    "report_save_draft",
    "report_submit",
    "returned_payload",
]
