"""Reports: the caller's own (drafts too) or the ones their team sent them, one report, and
writing-and-sending a report in one step, through crm.services.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from api.caller import caller, lead_visible, page_of
from api.schemas import Id, Paging, Text, responds
from crm import selectors, services
from crm.models import AskKind, Report, ReportKind
from crm.permissions import visible_reports

router = Router()


class ReportOut(Schema):
    id: int
    author_id: int
    team_id: int
    lead_id: int | None
    kind: str
    state: str
    status_now: str
    what_i_did: str
    next_step: str
    next_step_due: dt.date | None
    backup_plan: str
    ask: str
    ask_due: dt.date | None
    ask_kind: str
    concessions: str
    departments: str
    learning: str
    share_with_director: bool
    quality_score: int
    quality_issues: list[str]
    on_time: bool | None
    ask_state: str
    created_at: dt.datetime
    submitted_at: dt.datetime | None
    acknowledged_at: dt.datetime | None
    answered_at: dt.datetime | None
    decision: str


class ReportPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[ReportOut]


class ReportQuery(Paging):
    scope: Literal["mine", "team"] = Field(
        "mine", description="`mine`: what you wrote; `team`: the reports sent to you."
    )


class ReportIn(Schema):
    lead_id: Id | None = None
    kind: ReportKind = ReportKind.PROGRESS
    status_now: Text = ""
    what_i_did: Text = ""
    next_step: Text = ""
    next_step_due: dt.date | None = None
    backup_plan: Text = ""
    ask: Text = ""
    ask_due: dt.date | None = None
    ask_kind: AskKind = AskKind.GENERAL
    concessions: Text = ""
    departments: Text = ""
    learning: Text = ""
    share_with_director: bool = False


@router.get("/reports", response=responds({200: ReportPage}), tags=["reports"])
def list_reports(request: HttpRequest, filters: Query[ReportQuery]) -> dict[str, Any]:
    """Your own reports (drafts too), or the reports your team sent you."""
    user = caller(request)
    reports: QuerySet[Report]
    if filters.scope == "team":
        reports = selectors.report_inbox(user=user)
    else:
        reports = Report.objects.filter(author=user).order_by("-created_at", "-id")
    return page_of(reports, filters)


@router.post("/reports", response=responds({201: ReportOut}), tags=["reports"])
def submit_report(request: HttpRequest, payload: ReportIn) -> Status[Report]:
    """Write a report to your manager and send it, in one step (reps)."""
    user = caller(request)
    lead = lead_visible(request, payload.lead_id) if payload.lead_id is not None else None
    data = payload.model_dump(exclude={"lead_id"})
    with transaction.atomic():
        report = services.report_save_draft(author=user, data=data, lead=lead)
        report = services.report_submit(author=user, report=report)
    return Status(201, report)


@router.get("/reports/{report_id}", response=responds({200: ReportOut}), tags=["reports"])
def get_report(request: HttpRequest, report_id: Id) -> Report:
    return get_object_or_404(visible_reports(caller(request)), pk=report_id)
