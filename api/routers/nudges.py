"""The coach's nudges for the caller: list them (open, snoozed or closed), snooze one until a
moment, dismiss one with a reason. Reads go through coaching.selectors, writes through
coaching.services; another user's nudge does not exist (404).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema

from api.caller import aware, caller, page_of
from api.schemas import Id, Line300, Moment, Paging, responds
from coaching import selectors as coaching_selectors
from coaching import services as coaching_services
from coaching.models import Nudge

router = Router()


class NudgeOut(Schema):
    id: int
    rule_id: str
    title: str
    advice: str
    action_url: str
    priority: int
    state: str
    lead_id: int | None
    report_id: int | None
    snoozed_until: dt.datetime | None
    created_at: dt.datetime


class NudgePage(Schema):
    count: int
    page: int
    page_size: int
    items: list[NudgeOut]


class NudgeQuery(Paging):
    show: Literal["open", "snoozed", "closed"] = "open"


class SnoozeIn(Schema):
    until: Moment
    reason: Line300 = ""


class DismissIn(Schema):
    reason: Line300


def _nudge_out(nudge: Nudge, language: str) -> dict[str, Any]:
    shown = coaching_selectors.show(nudge, language)
    return {
        "id": nudge.pk,
        "rule_id": nudge.rule_id,
        "title": shown.title,
        "advice": shown.advice,
        "action_url": shown.action_url,
        "priority": nudge.priority,
        "state": nudge.state,
        "lead_id": nudge.lead_id,
        "report_id": nudge.report_id,
        "snoozed_until": nudge.snoozed_until,
        "created_at": nudge.created_at,
    }


def _nudge(request: HttpRequest, nudge_id: int) -> Nudge:
    return get_object_or_404(Nudge, pk=nudge_id, recipient=caller(request))


@router.get("/nudges", response=responds({200: NudgePage}), tags=["nudges"])
def list_nudges(request: HttpRequest, filters: Query[NudgeQuery]) -> dict[str, Any]:
    """The coach's advice for you: open (the default), snoozed, or closed."""
    user = caller(request)
    page = page_of(coaching_selectors.nudges_for(user=user, show_state=filters.show), filters)
    page["items"] = [_nudge_out(n, user.language) for n in page["items"]]
    return page


@router.post("/nudges/{nudge_id}/snooze", response=responds({200: NudgeOut}), tags=["nudges"])
def snooze_nudge(request: HttpRequest, nudge_id: Id, payload: SnoozeIn) -> dict[str, Any]:
    """Put a nudge away until a moment in the future; it comes back by itself."""
    user = caller(request)
    nudge = coaching_services.nudge_snooze(
        user=user,
        nudge=_nudge(request, nudge_id),
        until=aware(payload.until),  # type: ignore[arg-type]
        reason=payload.reason,
    )
    return _nudge_out(nudge, user.language)


@router.post("/nudges/{nudge_id}/dismiss", response=responds({200: NudgeOut}), tags=["nudges"])
def dismiss_nudge(request: HttpRequest, nudge_id: Id, payload: DismissIn) -> dict[str, Any]:
    """Dismiss a nudge, saying why."""
    user = caller(request)
    nudge = coaching_services.nudge_dismiss(
        user=user, nudge=_nudge(request, nudge_id), reason=payload.reason
    )
    return _nudge_out(nudge, user.language)
