"""Company and contact reads: the lists with their search and filters, a company's page, a
lead's contacts with the last time anyone spoke to each, and likely duplicates of a company.
Visibility always starts from crm.permissions (visible_companies, visible_contacts,
visible_leads): the last-spoken dates too count only activities on leads the viewer may see.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from rapidfuzz import fuzz, process

from crm.models import Activity, Company, Contact, Lead, LeadContact, User, company_name_key
from crm.permissions import lead_scope, visible_companies, visible_contacts, visible_leads
from crm.selectors.search import any_contains, text_contains

DUPLICATE_SCORE = 85  # rapidfuzz ratio of the matching keys, 0–100


def _last_spoken(user: User, contact_ref: str) -> Subquery:
    """When the contact last took part in an activity on a lead `user` may see."""
    activities = Activity.objects.filter(lead_scope(user, "lead__"), contacts=OuterRef(contact_ref))
    return Subquery(activities.order_by("-happened_at").values("happened_at")[:1])


@dataclass(frozen=True)
class CompanyFilters:
    q: str = ""
    city: str = ""
    industry: str = ""


def company_list(*, user: User, filters: CompanyFilters) -> QuerySet[Company]:
    """The companies `user` may see, searched by name (any spelling of it: the matching key),
    code or city, and filtered by city and industry."""
    companies = visible_companies(user)
    term = filters.q.strip()
    if term:
        key = company_name_key(term)
        companies = companies.filter(  # text_contains: the trigram indexes (selectors.search)
            text_contains("name", term) | text_contains("name_key", key) | Q(uscc=term.upper())
        )
    if filters.city:
        companies = companies.filter(city__iexact=filters.city.strip())
    if filters.industry:
        companies = companies.filter(industry__iexact=filters.industry.strip())
    return companies.order_by("name", "id")


def company_page(*, user: User, company: Company) -> dict[str, Any]:
    """What a company's page shows: the leads at it and the contacts there that `user` may
    see, each contact with the last time anyone spoke to them."""
    leads = (
        visible_leads(user)
        .filter(account=company)
        .select_related("owner", "team")
        .order_by("-updated_at", "-id")
    )
    contacts = (
        visible_contacts(user)
        .filter(company=company)
        .annotate(last_spoken=_last_spoken(user, "pk"))
        .order_by("name", "id")
    )
    return {"company": company, "leads": list(leads[:200]), "contacts": list(contacts[:200])}


@dataclass(frozen=True)
class ContactFilters:
    q: str = ""
    role: str = ""
    company: str = ""


def contact_list(*, user: User, filters: ContactFilters) -> QuerySet[Contact]:
    """The contacts `user` may see, searched by name, phone, mobile, email, WeChat or their
    company's name, and filtered by a role they play in a visible lead or by company."""
    contacts = visible_contacts(user).select_related("company")
    term = filters.q.strip()
    if term:
        contacts = contacts.filter(
            any_contains(term, "name", "mobile", "phone", "email")
            | Q(wechat__iexact=term)
            | text_contains("company__name", term)
        )
    if filters.role:
        roles = LeadContact.objects.filter(
            lead_scope(user, "lead__"), contact=OuterRef("pk"), role=filters.role
        )
        contacts = contacts.filter(Exists(roles))
    if filters.company.isascii() and filters.company.isdigit():  # not '²', which int() refuses
        contacts = contacts.filter(company_id=int(filters.company))
    return contacts.order_by("name", "id")


def lead_contacts(*, user: User, lead: Lead) -> list[LeadContact]:
    """The people on a lead with their role, and when anyone last spoke to each (on a lead
    `user` may see): decision makers first."""
    links = (
        LeadContact.objects.filter(lead=lead)
        .select_related("contact")
        .annotate(last_spoken=_last_spoken(user, "contact_id"))
    )
    order = {role: n for n, role in enumerate(("decision_maker", "user_department"))}
    return sorted(links, key=lambda link: (order.get(link.role, 9), link.contact.name))


def company_contacts_to_add(*, user: User, lead: Lead) -> QuerySet[Contact]:
    """Contacts `user` sees at the lead's company who are not on the lead yet."""
    if lead.account_id is None:
        return Contact.objects.none()
    return (
        visible_contacts(user)
        .filter(company_id=lead.account_id)
        .exclude(lead_roles__lead=lead)
        .order_by("name", "id")
    )


def company_duplicates(
    *, user: User, company: Company, limit: int = 5
) -> list[tuple[Company, int]]:
    """Companies `user` sees whose names look like this one's (rapidfuzz on the matching keys),
    best first with a 0–100 score: proposals for a person to confirm, never merged by
    themselves. Only names sharing the key's first characters are compared, so the page stays
    fast at 100k companies."""
    key = company.name_key or company_name_key(company.name)
    head = key[:2] if not key.isascii() else key[:3]
    pool = list(
        visible_companies(user).filter(name_key__startswith=head).exclude(pk=company.pk)[:2000]
    )
    if not pool:
        return []
    found = process.extract(
        key,
        [c.name_key for c in pool],
        scorer=fuzz.ratio,
        score_cutoff=DUPLICATE_SCORE,
        limit=limit,
    )
    return [(pool[index], round(score)) for _match, score, index in found]


def contact_last_spoken(*, user: User, contact: Contact) -> dt.datetime | None:
    """When anyone last spoke to `contact` on a lead `user` may see."""
    activities = Activity.objects.filter(lead_scope(user, "lead__"), contacts=contact)
    return activities.order_by("-happened_at").values_list("happened_at", flat=True).first()
