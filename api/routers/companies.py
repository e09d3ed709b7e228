"""The companies and contacts endpoints: list and search, create, read and change a company or
a contact, and the people on a lead with their role in the deal. As on the pages, a company or
contact is seen only through a lead the caller may see (or one they created): any other is a
404. Reads go through crm.selectors.companies, writes through crm.services.companies.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from api.caller import caller, lead_visible, page_of
from api.schemas import Id, Line40, Line100, Line200, Line254, Line300, Paging, Text, responds
from crm.models import Company, Contact, ContactRole, LeadContact
from crm.permissions import company_get_for, contact_get_for
from crm.selectors import companies as select
from crm.services import companies as write

router = Router()


class CompanyOut(Schema):
    id: int
    name: str
    uscc: str
    industry: str
    city: str
    address: str
    website: str
    notes: str
    created_at: dt.datetime
    updated_at: dt.datetime


class CompanyPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[CompanyOut]


class CompanyIn(Schema):
    name: Line200
    uscc: str = Field("", max_length=30, description="统一社会信用代码 (18 characters).")
    industry: Line100 = ""
    city: Line100 = ""
    address: Line300 = ""
    website: Line300 = ""
    notes: Text = ""


class CompanyPatch(Schema):
    name: Line200 | None = None
    uscc: str | None = Field(None, max_length=30)
    industry: Line100 | None = None
    city: Line100 | None = None
    address: Line300 | None = None
    website: Line300 | None = None
    notes: Text | None = None


class CompanyQuery(Paging):
    q: Line100 = ""
    city: Line100 = ""
    industry: Line100 = ""


class ContactOut(Schema):
    id: int
    company_id: int
    name: str
    title: str
    department: str
    mobile: str
    phone: str
    email: str
    wechat: str
    notes: str
    created_at: dt.datetime
    updated_at: dt.datetime


class ContactPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[ContactOut]


class ContactFields(Schema):
    title: Line100 = ""
    department: Line100 = ""
    mobile: Line40 = ""
    phone: Line40 = ""
    email: Line254 = ""
    wechat: Line100 = ""
    notes: Text = ""


class ContactIn(ContactFields):
    company_id: Id
    name: Line100


class ContactPatch(Schema):
    name: Line100 | None = None
    title: Line100 | None = None
    department: Line100 | None = None
    mobile: Line40 | None = None
    phone: Line40 | None = None
    email: Line254 | None = None
    wechat: Line100 | None = None
    notes: Text | None = None


class ContactQuery(Paging):
    q: Line100 = ""
    role: ContactRole | None = None
    company_id: Id | None = None


class LeadContactOut(Schema):
    id: int
    role: ContactRole
    contact: ContactOut
    last_spoken: dt.datetime | None = None


class LeadContactIn(Schema):
    role: ContactRole = ContactRole.OTHER
    contact_id: Id | None = Field(None, description="Someone already at the lead's company.")
    new_contact: ContactFields | None = None
    name: Line100 = Field("", description="A new person's name, when no contact_id is given.")


def _patch(payload: Schema) -> dict[str, Any]:
    return {k: v for k, v in payload.model_dump(exclude_unset=True).items() if v is not None}


@router.get("/companies", response=responds({200: CompanyPage}), tags=["companies"])
def list_companies(request: HttpRequest, filters: Query[CompanyQuery]) -> dict[str, Any]:
    """The companies you see (through your leads), searched by any spelling of the name, the
    unified social credit code or the city."""
    found = select.company_list(
        user=caller(request),
        filters=select.CompanyFilters(q=filters.q, city=filters.city, industry=filters.industry),
    )
    return page_of(found, filters)


@router.post("/companies", response=responds({201: CompanyOut}), tags=["companies"])
def create_company(request: HttpRequest, payload: CompanyIn) -> Status[Company]:
    return Status(201, write.company_create(actor=caller(request), data=payload.model_dump()))


@router.get("/companies/{company_id}", response=responds({200: CompanyOut}), tags=["companies"])
def get_company(request: HttpRequest, company_id: Id) -> Company:
    return company_get_for(caller(request), company_id)


@router.patch("/companies/{company_id}", response=responds({200: CompanyOut}), tags=["companies"])
def update_company(request: HttpRequest, company_id: Id, payload: CompanyPatch) -> Company:
    """Change some of a company's fields; fields you leave out keep their value."""
    user = caller(request)
    company = company_get_for(user, company_id)
    return write.company_update(actor=user, company=company, data=_patch(payload))


@router.get("/contacts", response=responds({200: ContactPage}), tags=["contacts"])
def list_contacts(request: HttpRequest, filters: Query[ContactQuery]) -> dict[str, Any]:
    """The contacts you see (through your leads), searched by name, phone, mobile, email,
    WeChat ID or company name; filtered by their role in one of your deals or by company."""
    found = select.contact_list(
        user=caller(request),
        filters=select.ContactFilters(
            q=filters.q,
            role=filters.role or "",
            company=str(filters.company_id or ""),
        ),
    )
    return page_of(found, filters)


@router.post("/contacts", response=responds({201: ContactOut}), tags=["contacts"])
def create_contact(request: HttpRequest, payload: ContactIn) -> Status[Contact]:
    user = caller(request)
    company = company_get_for(user, payload.company_id)
    data = payload.model_dump(exclude={"company_id"})
    return Status(201, write.contact_create(actor=user, company=company, data=data))


@router.get("/contacts/{contact_id}", response=responds({200: ContactOut}), tags=["contacts"])
def get_contact(request: HttpRequest, contact_id: Id) -> Contact:
    return contact_get_for(caller(request), contact_id)


@router.patch("/contacts/{contact_id}", response=responds({200: ContactOut}), tags=["contacts"])
def update_contact(request: HttpRequest, contact_id: Id, payload: ContactPatch) -> Contact:
    """Change some of a contact's fields; fields you leave out keep their value."""
    user = caller(request)
    contact = contact_get_for(user, contact_id)
    return write.contact_update(actor=user, contact=contact, data=_patch(payload))


@router.get(
    "/leads/{lead_id}/contacts",
    response=responds({200: list[LeadContactOut]}),
    tags=["contacts"],
)
def list_lead_contacts(request: HttpRequest, lead_id: Id) -> list[LeadContact]:
    """The people on a lead, their role in the deal, and when anyone last spoke to each."""
    lead = lead_visible(request, lead_id)
    return select.lead_contacts(user=caller(request), lead=lead)


@router.post(
    "/leads/{lead_id}/contacts",
    response=responds({201: LeadContactOut}),
    tags=["contacts"],
)
def add_lead_contact(
    request: HttpRequest, lead_id: Id, payload: LeadContactIn
) -> Status[LeadContact]:
    """Put someone on a lead with their role: a contact at the lead's company (`contact_id`),
    or a new person (`name` and `new_contact`'s fields). Again for the same contact changes
    the role."""
    user = caller(request)
    lead = lead_visible(request, lead_id)
    if payload.contact_id is not None:
        contact = contact_get_for(user, payload.contact_id)
        link = write.lead_contact_add(actor=user, lead=lead, contact=contact, role=payload.role)
    elif payload.name.strip():
        data = (payload.new_contact.model_dump() if payload.new_contact else {}) | {
            "name": payload.name
        }
        link = write.lead_contact_create(actor=user, lead=lead, data=data, role=payload.role)
    else:
        raise ValidationError({"name": _("Give a contact_id or a new person's name.")})
    return Status(201, link)
