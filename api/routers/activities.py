"""A lead's activities: list them newest first and log a new one (a call, visit, meeting, email,
doorstep wait or note) through crm.services.activity_log.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from api.caller import aware, caller, lead_visible, page_of
from api.schemas import Id, Moment, Paging, Text, responds
from crm import services
from crm.models import Activity, ActivityKind, Outcome

router = Router()


class ActivityOut(Schema):
    id: int
    lead_id: int
    author_id: int
    kind: str
    outcome: str
    happened_at: dt.datetime
    note: str
    created_at: dt.datetime


class ActivityPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[ActivityOut]


class ActivityIn(Schema):
    kind: ActivityKind
    outcome: Outcome = Outcome.NO_OUTCOME
    happened_at: Moment | None = Field(None, description="Empty means now.")
    note: Text = ""
    next_step: Text = Field("", description="The lead's next step after this; empty keeps it.")
    next_step_due: dt.date | None = Field(None, description="By when (with `next_step`).")


@router.get(
    "/leads/{lead_id}/activities", response=responds({200: ActivityPage}), tags=["activities"]
)
def list_activities(request: HttpRequest, lead_id: Id, paging: Query[Paging]) -> dict[str, Any]:
    """A lead's calls, visits, meetings, emails, doorstep waits and notes, newest first."""
    lead = lead_visible(request, lead_id)
    return page_of(Activity.objects.filter(lead=lead).order_by("-happened_at", "-id"), paging)


@router.post(
    "/leads/{lead_id}/activities", response=responds({201: ActivityOut}), tags=["activities"]
)
def log_activity(request: HttpRequest, lead_id: Id, payload: ActivityIn) -> Status[Activity]:
    lead = lead_visible(request, lead_id)
    activity = services.activity_log(
        actor=caller(request),
        lead=lead,
        kind=payload.kind,
        outcome=payload.outcome,
        happened_at=aware(payload.happened_at),
        note=payload.note,
        next_step=payload.next_step,
        next_step_due=payload.next_step_due,
    )
    return Status(201, activity)
