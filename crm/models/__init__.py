"""The CRM's models, one module per entity: people and teams, leads, their activities and
their history, reports, records (outbox and audit trail), import jobs, and companies with their
contacts. Everything is re-exported here, so `from crm.models import Lead` keeps working and a
new entity arrives as a sibling module."""

from crm.models.activities import Activity, ActivityKind, Outcome
from crm.models.companies import Company, Contact, ContactRole, LeadContact, company_name_key
from crm.models.history import LeadEvent, LeadEventKind
from crm.models.imports import (
    DuplicatePolicy,
    ImportJob,
    ImportMode,
    ImportState,
    ImportValueMap,
)
from crm.models.leads import ChickenRibReason, Currency, Lead, Source
from crm.models.people import Language, Role, Team, TeamMembership, User
from crm.models.records import AuditEntry, DomainEvent
from crm.models.reports import (
    AskKind,
    AskState,
    PlanDecision,
    Report,
    ReportKind,
    ReportReply,
    ReportState,
)
from crm.models.tally import LeadTally, lead_tally_rebuild

__all__ = [
    "Activity",
    "ActivityKind",
    "AskKind",
    "AskState",
    "AuditEntry",
    "ChickenRibReason",
    "Company",
    "Contact",
    "ContactRole",
    "Currency",
    "DomainEvent",
    "DuplicatePolicy",
    "ImportJob",
    "ImportMode",
    "ImportState",
    "ImportValueMap",
    "Language",
    "Lead",
    "LeadContact",
    "LeadEvent",
    "LeadEventKind",
    "LeadTally",
    "Outcome",
    "PlanDecision",
    "Report",
    "ReportKind",
    "ReportReply",
    "ReportState",
    "Role",
    "Source",
    "Team",
    "TeamMembership",
    "User",
    "company_name_key",
    "lead_tally_rebuild",
]
