"""The leads endpoints: list with the lead list's own filters, create, read, change some fields,
and hand one down to a rep. Reads go through crm.selectors and crm.permissions, writes through
crm.services, so the API and the pages answer alike.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, QueryDict
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status

from api.caller import caller, lead_visible, page_of
from api.schemas import (
    ErrorOut,
    Id,
    Line40,
    Line100,
    Line200,
    Line254,
    Line300,
    Line500,
    Money,
    Paging,
    Text,
    responds,
)
from crm import selectors, services
from crm.forms import LeadFilterForm
from crm.models import ChickenRibReason, Currency, Lead, Source, Team, User
from crm.permissions import can_hand_off, visible_people

router = Router()


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


class HandOffIn(Schema):
    to_user_id: Id
    note: Line500 = ""


class HandOffOut(Schema):
    moved: int
    lead: LeadOut


@router.get("/leads", response=responds({200: LeadPage}), tags=["leads"])
def list_leads(request: HttpRequest, filters: Query[LeadQuery]) -> dict[str, Any]:
    """The leads you may see, with the lead list's filters and sorting, a page at a time."""
    user = caller(request)
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
    leads = selectors.lead_list(
        user=user, filters=selectors.LeadFilters.from_params(form.cleaned_data)
    )
    return page_of(leads, filters)


@router.post("/leads", response=responds({201: LeadOut}), tags=["leads"])
def create_lead(request: HttpRequest, payload: LeadIn) -> Status[Lead]:
    """Create a lead: a rep's is their own; a manager's lands in the team pool."""
    data = payload.model_dump(exclude={"team_id"})
    team = None
    if payload.team_id is not None:
        team = Team.objects.filter(pk=payload.team_id).first()
        if team is None:
            raise DjangoValidationError({"team_id": _("Unknown team.")})
    return Status(201, services.lead_create(actor=caller(request), data=data, team=team))


@router.get("/leads/{lead_id}", response=responds({200: LeadOut}), tags=["leads"])
def get_lead(request: HttpRequest, lead_id: Id) -> Lead:
    return lead_visible(request, lead_id)


@router.patch("/leads/{lead_id}", response=responds({200: LeadOut}), tags=["leads"])
def update_lead(request: HttpRequest, lead_id: Id, payload: LeadPatch) -> Lead:
    """Change some of a lead's fields; fields you leave out keep their value."""
    lead = lead_visible(request, lead_id)
    # Only the dates may be emptied with null; a null elsewhere leaves the field as it is.
    data = {
        name: value
        for name, value in payload.model_dump(exclude_unset=True).items()
        if value is not None or name in NULLABLE_DATES
    }
    return services.lead_update(actor=caller(request), lead=lead, data=data)


@router.post(
    "/leads/{lead_id}/handoff", response=responds({200: HandOffOut, 403: ErrorOut}), tags=["leads"]
)
def hand_off_lead(request: HttpRequest, lead_id: Id, payload: HandOffIn) -> dict[str, Any]:
    """Hand a lead down to a rep of your team (managers and admins)."""
    user = caller(request)
    lead = lead_visible(request, lead_id)
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
    return {"moved": moved, "lead": lead_visible(request, lead_id)}
