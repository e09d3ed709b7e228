"""Kaopu's JSON API (django-ninja), with its OpenAPI document at /api/openapi.json and the docs
at /api/docs.

The API is a thin layer, like the pages: it reads through crm.selectors and crm.permissions
and writes through crm.services and coaching.services. A lead, report or nudge the caller may
not see does not exist for them (404). Every error has one shape:

    {"error": {"code": "...", "message": "...", "fields": {"field": "message"}}}

with the messages in the caller's language.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, NinjaAPI, Query, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.responses import Status
from pydantic import AfterValidator

from api.auth import RateLimited, TokenAuth
from coaching import selectors as coaching_selectors
from coaching import services as coaching_services
from coaching.models import Nudge
from crm import selectors, services
from crm.forms import LeadFilterForm
from crm.models import (
    Activity,
    ActivityKind,
    ChickenRibReason,
    Currency,
    Lead,
    Outcome,
    Report,
    ReportKind,
    Source,
    Team,
    User,
)
from crm.permissions import can_hand_off, visible_leads, visible_people, visible_reports

log = logging.getLogger(__name__)

api = NinjaAPI(
    title="Kaopu API",
    version="1",
    description=(
        "The CRM's leads, activities, hand-offs, reports and the coach's nudges. "
        "Authenticate with `Authorization: Bearer <token>`; make a token on your profile page. "
        "120 requests per minute per token."
    ),
    auth=TokenAuth(),
    urls_namespace="api",
    docs_url="/docs",
)

# --- Types -------------------------------------------------------------------------------------


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("null character")
    return value


def _sane_moment(value: dt.datetime) -> dt.datetime:
    if not 1900 <= value.year <= 2200:
        raise ValueError("out of range")
    return value


Id = Annotated[int, Field(ge=1, le=9_223_372_036_854_775_807)]
Text = Annotated[str, AfterValidator(_no_nul), Field(max_length=10_000)]
Moment = Annotated[dt.datetime, AfterValidator(_sane_moment)]


Line20 = Annotated[str, AfterValidator(_no_nul), Field(max_length=20)]
Line40 = Annotated[str, AfterValidator(_no_nul), Field(max_length=40)]
Line100 = Annotated[str, AfterValidator(_no_nul), Field(max_length=100)]
Line200 = Annotated[str, AfterValidator(_no_nul), Field(max_length=200)]
Line254 = Annotated[str, AfterValidator(_no_nul), Field(max_length=254)]
Line300 = Annotated[str, AfterValidator(_no_nul), Field(max_length=300)]
Line500 = Annotated[str, AfterValidator(_no_nul), Field(max_length=500)]
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]


class ErrorBody(Schema):
    code: str
    message: str
    fields: dict[str, str] = {}


class ErrorOut(Schema):
    error: ErrorBody


ERRORS: dict[int, type[Schema]] = {
    400: ErrorOut,
    401: ErrorOut,
    404: ErrorOut,
    422: ErrorOut,
    429: ErrorOut,
}


def responds(ok: dict[int, Any]) -> dict[int, Any]:
    return ok | ERRORS


# --- Errors -------------------------------------------------------------------------------------


def error_response(
    request: HttpRequest,
    status: int,
    code: str,
    message: str,
    fields: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    response = api.create_response(
        request,
        {"error": {"code": code, "message": message, "fields": fields or {}}},
        status=status,
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


PYDANTIC_MESSAGES = {
    "missing": lambda ctx: _("This field is required."),
    "string_too_long": lambda ctx: (
        _("Ensure this has at most %(max)s characters.") % {"max": ctx.get("max_length")}
    ),
    "literal_error": lambda ctx: (
        _("Choose one of: %(choices)s.") % {"choices": ctx.get("expected")}
    ),
    "enum": lambda ctx: _("Choose one of: %(choices)s.") % {"choices": ctx.get("expected")},
    "greater_than_equal": lambda ctx: (
        _("Ensure this is at least %(min)s.") % {"min": ctx.get("ge")}
    ),
    "less_than_equal": lambda ctx: _("Ensure this is at most %(max)s.") % {"max": ctx.get("le")},
    "json_invalid": lambda ctx: _("The request body is not valid JSON."),
}


def _on_request_invalid(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    fields: dict[str, str] = {}
    for error in exc.errors:
        names = [str(part) for part in error.get("loc", ()) if isinstance(part, str)]
        names = [n for n in names if n not in ("body", "query", "path", "payload", "filters")]
        name = names[-1] if names else "__all__"
        ctx = error.get("ctx") or {}
        message = PYDANTIC_MESSAGES.get(
            error.get("type", ""), lambda ctx: _("Enter a valid value.")
        )
        fields.setdefault(name, message(ctx))
    return error_response(request, 422, "invalid", _("Some fields are not valid."), fields)


def _on_refused(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    if hasattr(exc, "error_dict"):
        fields = {name: " ".join(messages) for name, messages in exc.message_dict.items()}
        message = fields.pop("__all__", "") or _("Some fields are not valid.")
    else:
        fields, message = {}, " ".join(exc.messages)
    return error_response(request, 422, "invalid", message, fields)


def _on_not_found(request: HttpRequest, exc: Any) -> HttpResponse:
    return error_response(request, 404, "not_found", _("Not found."))


def _on_unauthenticated(request: HttpRequest, exc: Any) -> HttpResponse:
    return error_response(
        request,
        401,
        "unauthorized",
        _("Send a valid API token: Authorization: Bearer <token>."),
        headers={"WWW-Authenticate": "Bearer"},
    )


def _on_rate_limited(request: HttpRequest, exc: RateLimited) -> HttpResponse:
    return error_response(
        request,
        429,
        "rate_limited",
        _("Too many requests: at most %(limit)d a minute per token. Try again in %(seconds)d s.")
        % {"limit": _rate_limit(), "seconds": exc.retry_after},
        headers={"Retry-After": str(exc.retry_after)},
    )


def _rate_limit() -> int:
    from api.auth import rate_limit

    return rate_limit()


def _on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 400:  # ninja's only 400: a body that is not JSON
        return error_response(request, 400, "bad_request", _("The request body is not valid JSON."))
    codes = {403: "forbidden", 405: "method_not_allowed"}
    return error_response(
        request, exc.status_code, codes.get(exc.status_code, "error"), str(exc.message)
    )


def _on_crash(request: HttpRequest, exc: Any) -> HttpResponse:
    log.exception("API error on %s %s", request.method, request.path)
    return error_response(
        request, 500, "server_error", _("Something went wrong on our side; nothing was changed.")
    )


api.add_exception_handler(NinjaValidationError, _on_request_invalid)  # type: ignore[arg-type]
api.add_exception_handler(DjangoValidationError, _on_refused)  # type: ignore[arg-type]
api.add_exception_handler(Http404, _on_not_found)
api.add_exception_handler(ObjectDoesNotExist, _on_not_found)
api.add_exception_handler(AuthenticationError, _on_unauthenticated)
api.add_exception_handler(RateLimited, _on_rate_limited)  # type: ignore[arg-type]
api.add_exception_handler(HttpError, _on_http_error)  # type: ignore[arg-type]
api.add_exception_handler(Exception, _on_crash)


def _user(request: HttpRequest) -> User:
    user = request.auth  # type: ignore[attr-defined]
    assert isinstance(user, User)
    return user


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    """A time without a zone is in the user's own zone."""
    if moment is not None and timezone.is_naive(moment):
        return timezone.make_aware(moment)
    return moment


# --- Paging -------------------------------------------------------------------------------------


class Paging(Schema):
    page: int = Field(1, ge=1, le=100_000)
    page_size: int = Field(50, ge=1, le=100)


def _page(items: QuerySet[Any], paging: Paging) -> dict[str, Any]:
    count = items.count()
    start = (paging.page - 1) * paging.page_size
    return {
        "count": count,
        "page": paging.page,
        "page_size": paging.page_size,
        "items": list(items[start : start + paging.page_size]),
    }


# --- Leads --------------------------------------------------------------------------------------


class LeadOut(Schema):
    id: int
    company: str
    contact_name: str
    phone: str
    email: str
    source: str
    value: Decimal
    currency: str
    stage: str
    team_id: int
    owner_id: int | None
    expected_close: dt.date | None
    tender_date: dt.date | None
    competitor: str
    next_step: str
    next_step_due: dt.date | None
    is_chicken_rib: bool
    chicken_rib_reasons: list[str]
    notes: str
    lost_reason: str
    handed_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    last_activity_at: dt.datetime | None


class LeadPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[LeadOut]


class LeadFields(Schema):
    contact_name: Line100 = ""
    phone: Line40 = ""
    email: Line254 = ""
    value: Money = Decimal("0")
    currency: Currency = Currency.CNY
    expected_close: dt.date | None = None
    tender_date: dt.date | None = None
    competitor: Line200 = ""
    next_step: Line300 = ""
    next_step_due: dt.date | None = None
    is_chicken_rib: bool = False
    chicken_rib_reasons: list[ChickenRibReason] = Field(default_factory=list, max_length=10)
    notes: Text = ""


class LeadIn(LeadFields):
    company: Line200
    source: Source
    team_id: Id | None = Field(None, description="Admins only: the team whose pool it joins.")


NULLABLE_DATES = ("expected_close", "tender_date", "next_step_due")


class LeadPatch(Schema):
    company: Line200 | None = None
    contact_name: Line100 | None = None
    phone: Line40 | None = None
    email: Line254 | None = None
    source: Source | None = None
    value: Money | None = None
    currency: Currency | None = None
    expected_close: dt.date | None = None
    tender_date: dt.date | None = None
    competitor: Line200 | None = None
    next_step: Line300 | None = None
    next_step_due: dt.date | None = None
    is_chicken_rib: bool | None = None
    chicken_rib_reasons: list[ChickenRibReason] | None = Field(None, max_length=10)
    notes: Text | None = None


class LeadQuery(Paging):
    q: Line100 = ""
    stage: str = Field("", max_length=20, description="A stage, or `open`.")
    owner: str = Field("", max_length=20, description="A rep's id, or `none` for the pool.")
    source: str = Field("", max_length=20)
    chicken_rib: str = Field("", max_length=3, description="`yes` or `no`.")
    view: str = Field("", max_length=10, description="`due` or `stalled`.")
    sort: str = Field("", max_length=10)


def _lead(request: HttpRequest, lead_id: int) -> Lead:
    return get_object_or_404(visible_leads(_user(request)), pk=lead_id)


@api.get("/leads", response=responds({200: LeadPage}), tags=["leads"])
def list_leads(request: HttpRequest, filters: Query[LeadQuery]) -> dict[str, Any]:
    """The leads you may see, with the lead list's filters and sorting, a page at a time."""
    user = _user(request)
    owners = [(str(p.pk), str(p)) for p in visible_people(user)]
    query = QueryDict(mutable=True)
    for name in selectors.LeadFilters.__dataclass_fields__:
        value = getattr(filters, name)
        if value:
            query[name] = value
    form = LeadFilterForm(query, owners=owners)
    if not form.is_valid():
        raise DjangoValidationError(
            {name: errors for name, errors in form.errors.items()}  # type: ignore[misc]
        )
    values = {
        name: form.cleaned_data.get(name) or ""
        for name in selectors.LeadFilters.__dataclass_fields__
    }
    values["sort"] = values["sort"] or selectors.DEFAULT_SORT
    leads = selectors.lead_list(user=user, filters=selectors.LeadFilters(**values))
    return _page(leads, filters)


@api.post("/leads", response=responds({201: LeadOut}), tags=["leads"])
def create_lead(request: HttpRequest, payload: LeadIn) -> Status[Lead]:
    """Create a lead: a rep's is their own; a manager's lands in the team pool."""
    data = payload.model_dump(exclude={"team_id"})
    team = None
    if payload.team_id is not None:
        team = Team.objects.filter(pk=payload.team_id).first()
        if team is None:
            raise DjangoValidationError({"team_id": _("Unknown team.")})
    return Status(201, services.lead_create(actor=_user(request), data=data, team=team))


@api.get("/leads/{lead_id}", response=responds({200: LeadOut}), tags=["leads"])
def get_lead(request: HttpRequest, lead_id: Id) -> Lead:
    return _lead(request, lead_id)


@api.patch("/leads/{lead_id}", response=responds({200: LeadOut}), tags=["leads"])
def update_lead(request: HttpRequest, lead_id: Id, payload: LeadPatch) -> Lead:
    """Change some of a lead's fields; fields you leave out keep their value."""
    lead = _lead(request, lead_id)
    # Only the dates may be emptied with null; a null elsewhere leaves the field as it is.
    data = {
        name: value
        for name, value in payload.model_dump(exclude_unset=True).items()
        if value is not None or name in NULLABLE_DATES
    }
    return services.lead_update(actor=_user(request), lead=lead, data=data)


class HandOffIn(Schema):
    to_user_id: Id
    note: Line500 = ""


class HandOffOut(Schema):
    moved: int
    lead: LeadOut


@api.post(
    "/leads/{lead_id}/handoff", response=responds({200: HandOffOut, 403: ErrorOut}), tags=["leads"]
)
def hand_off_lead(request: HttpRequest, lead_id: Id, payload: HandOffIn) -> dict[str, Any]:
    """Hand a lead down to a rep of your team (managers and admins)."""
    user = _user(request)
    lead = _lead(request, lead_id)
    if not can_hand_off(user):
        raise HttpError(403, _("Only a manager can hand leads down."))
    to_user = User.objects.filter(pk=payload.to_user_id).first()
    if to_user is None:
        raise DjangoValidationError(
            {"to_user_id": _("You can only hand leads to a rep of your own team.")}
        )
    moved = services.lead_hand_off(
        actor=user, lead_ids=[lead.pk], to_user=to_user, note=payload.note
    )
    return {"moved": moved, "lead": _lead(request, lead_id)}


# --- Activities ---------------------------------------------------------------------------------


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


@api.get("/leads/{lead_id}/activities", response=responds({200: ActivityPage}), tags=["activities"])
def list_activities(request: HttpRequest, lead_id: Id, paging: Query[Paging]) -> dict[str, Any]:
    """A lead's calls, visits, meetings, emails, doorstep waits and notes, newest first."""
    lead = _lead(request, lead_id)
    return _page(Activity.objects.filter(lead=lead).order_by("-happened_at", "-id"), paging)


@api.post("/leads/{lead_id}/activities", response=responds({201: ActivityOut}), tags=["activities"])
def log_activity(request: HttpRequest, lead_id: Id, payload: ActivityIn) -> Status[Activity]:
    lead = _lead(request, lead_id)
    activity = services.activity_log(
        actor=_user(request),
        lead=lead,
        kind=payload.kind,
        outcome=payload.outcome,
        happened_at=_aware(payload.happened_at),
        note=payload.note,
    )
    return Status(201, activity)


# --- Reports ------------------------------------------------------------------------------------


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
    share_with_director: bool
    quality_score: int
    quality_issues: list[str]
    on_time: bool | None
    ask_state: str
    created_at: dt.datetime
    submitted_at: dt.datetime | None
    acknowledged_at: dt.datetime | None


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
    share_with_director: bool = False


@api.get("/reports", response=responds({200: ReportPage}), tags=["reports"])
def list_reports(request: HttpRequest, filters: Query[ReportQuery]) -> dict[str, Any]:
    """Your own reports (drafts too), or the reports your team sent you."""
    user = _user(request)
    reports: QuerySet[Report]
    if filters.scope == "team":
        reports = selectors.report_inbox(user=user)
    else:
        reports = Report.objects.filter(author=user).order_by("-created_at", "-id")
    return _page(reports, filters)


@api.post("/reports", response=responds({201: ReportOut}), tags=["reports"])
def submit_report(request: HttpRequest, payload: ReportIn) -> Status[Report]:
    """Write a report to your manager and send it, in one step (reps)."""
    user = _user(request)
    lead = _lead(request, payload.lead_id) if payload.lead_id is not None else None
    data = payload.model_dump(exclude={"lead_id"})
    with transaction.atomic():
        report = services.report_save_draft(author=user, data=data, lead=lead)
        report = services.report_submit(author=user, report=report)
    return Status(201, report)


@api.get("/reports/{report_id}", response=responds({200: ReportOut}), tags=["reports"])
def get_report(request: HttpRequest, report_id: Id) -> Report:
    return get_object_or_404(visible_reports(_user(request)), pk=report_id)


# --- Nudges -------------------------------------------------------------------------------------


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
    return get_object_or_404(Nudge, pk=nudge_id, recipient=_user(request))


@api.get("/nudges", response=responds({200: NudgePage}), tags=["nudges"])
def list_nudges(request: HttpRequest, filters: Query[NudgeQuery]) -> dict[str, Any]:
    """The coach's advice for you: open (the default), snoozed, or closed."""
    user = _user(request)
    page = _page(coaching_selectors.nudges_for(user=user, show_state=filters.show), filters)
    page["items"] = [_nudge_out(n, user.language) for n in page["items"]]
    return page


@api.post("/nudges/{nudge_id}/snooze", response=responds({200: NudgeOut}), tags=["nudges"])
def snooze_nudge(request: HttpRequest, nudge_id: Id, payload: SnoozeIn) -> dict[str, Any]:
    """Put a nudge away until a moment in the future; it comes back by itself."""
    user = _user(request)
    nudge = coaching_services.nudge_snooze(
        user=user,
        nudge=_nudge(request, nudge_id),
        until=_aware(payload.until),  # type: ignore[arg-type]
        reason=payload.reason,
    )
    return _nudge_out(nudge, user.language)


@api.post("/nudges/{nudge_id}/dismiss", response=responds({200: NudgeOut}), tags=["nudges"])
def dismiss_nudge(request: HttpRequest, nudge_id: Id, payload: DismissIn) -> dict[str, Any]:
    """Dismiss a nudge, saying why."""
    user = _user(request)
    nudge = coaching_services.nudge_dismiss(
        user=user, nudge=_nudge(request, nudge_id), reason=payload.reason
    )
    return _nudge_out(nudge, user.language)
