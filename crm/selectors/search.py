"""Search from anywhere (the header's box): the leads, companies, contacts and reports a person
may see, found by any part of a name (宏达 finds 宏达物流集团), a phone or an email.

Each kind is one query, at most `limit` rows, ranked: the name itself first, then names that
start with the words, then names that contain them, then matches on other fields; newest
first within a rank. Visibility is crm.permissions' own (one Q or queryset per kind).

On PostgreSQL the name columns carry trigram GIN indexes on UPPER(column) (migration
0008_search_trigram), which is what Django's icontains compares; on SQLite the same lookups
scan, which suits a demo's or a test's rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When

from crm.models import Company, Contact, Lead, Report, ReportState, User
from crm.models.companies import company_name_key
from crm.permissions import visible_companies, visible_contacts, visible_leads, visible_reports

LIMIT = 8
MAX_TERM = 100


@dataclass(frozen=True)
class SearchResults:
    term: str
    leads: list[Lead] = field(default_factory=list)
    companies: list[Company] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)
    reports: list[Report] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.leads) + len(self.companies) + len(self.contacts) + len(self.reports)


def _rank(name: str, term: str) -> Case:
    """0 the name itself, 1 starts with the term, 2 contains it, 3 matched elsewhere."""
    return Case(
        When(**{f"{name}__iexact": term}, then=Value(0)),
        When(**{f"{name}__istartswith": term}, then=Value(1)),
        When(**{f"{name}__icontains": term}, then=Value(2)),
        default=Value(3),
        output_field=IntegerField(),
    )


def search_leads(*, user: User, term: str, limit: int = LIMIT) -> QuerySet[Lead]:
    found = visible_leads(user).filter(
        Q(company__icontains=term)
        | Q(contact_name__icontains=term)
        | Q(phone__icontains=term)
        | Q(email__icontains=term)
    )
    return (
        found.annotate(rank=_rank("company", term))
        .select_related("owner")
        .order_by("rank", "-updated_at", "-id")[:limit]
    )


def search_companies(*, user: User, term: str, limit: int = LIMIT) -> QuerySet[Company]:
    match = Q(name__icontains=term) | Q(uscc=term.upper())
    key = company_name_key(term)
    if key:  # any spelling of the name (有限公司 or not, full-width letters)
        match |= Q(name_key__contains=key)
    return (
        visible_companies(user)
        .filter(match)
        .annotate(rank=_rank("name", term))
        .order_by("rank", "name", "id")[:limit]
    )


def search_contacts(*, user: User, term: str, limit: int = LIMIT) -> QuerySet[Contact]:
    found = visible_contacts(user).filter(
        Q(name__icontains=term)
        | Q(mobile__contains=term)
        | Q(phone__contains=term)
        | Q(email__icontains=term)
    )
    return (
        found.annotate(rank=_rank("name", term))
        .select_related("company")
        .order_by("rank", "name", "id")[:limit]
    )


def search_reports(*, user: User, term: str, limit: int = LIMIT) -> QuerySet[Report]:
    """Sent reports, by their lead's company or what they say (status, what was done, the
    next step, the ask)."""
    found = (
        visible_reports(user)
        .filter(state=ReportState.SUBMITTED)
        .filter(
            Q(lead__company__icontains=term)
            | Q(status_now__icontains=term)
            | Q(what_i_did__icontains=term)
            | Q(next_step__icontains=term)
            | Q(ask__icontains=term)
        )
    )
    return (
        found.annotate(rank=_rank("lead__company", term))
        .select_related("author", "lead")
        .order_by("rank", "-submitted_at", "-id")[:limit]
    )


def site_search(*, user: User, q: str, limit: int = LIMIT) -> SearchResults:
    """What the header's search finds for `q` (blank: nothing, and no query)."""
    term = " ".join(q.split())[:MAX_TERM]
    if not term:
        return SearchResults(term="")
    return SearchResults(
        term=term,
        leads=list(search_leads(user=user, term=term, limit=limit)),
        companies=list(search_companies(user=user, term=term, limit=limit)),
        contacts=list(search_contacts(user=user, term=term, limit=limit)),
        reports=list(search_reports(user=user, term=term, limit=limit)),
    )
