"""Search from anywhere (the header's box): the leads, companies, contacts and reports a person
may see, found by any part of a name (宏达 finds 宏达物流集团), a phone or an email.

Each kind is one query, at most `limit` rows, ranked: the name itself first, then names that
start with the words, then names that contain them, then matches on other fields; newest
first within a rank. Visibility is crm.permissions' own (one Q or queryset per kind).

`text_contains` is the one "contains, any case" of the searches. On PostgreSQL a term of three
characters or more is a LIKE (a term without case: Chinese, digits) or an ILIKE, both served by
the trigram GIN indexes of migration 0009_search_trigram (Django's icontains compares
UPPER(column), which they do not serve, and folds case on every row it scans); a shorter term
(宏达) has no trigram to look up, so it is a strpos, the cheapest scan. SQLite uses icontains.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from functools import reduce

from django.db import connection
from django.db.models import BooleanField, Case, F, Func, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import Lower, StrIndex
from django.db.models.lookups import GreaterThan

from crm.models import Company, Contact, Lead, Report, ReportState, User
from crm.models.companies import company_name_key
from crm.permissions import visible_companies, visible_contacts, visible_leads, visible_reports

LIMIT = 8
MAX_TERM = 100
TRIGRAM = 3  # pg_trgm finds nothing to look up in a shorter term


class _ILike(Func):
    """`column ILIKE pattern` (PostgreSQL)."""

    arg_joiner = " ILIKE "
    template = "%(expressions)s"
    output_field = BooleanField()


def _like_pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def text_contains(field: str, term: str) -> Q:
    """`field` contains `term`, in any case."""
    if connection.vendor != "postgresql":
        return Q(**{f"{field}__icontains": term})
    caseless = term.lower() == term.upper()  # 宏达物流, 138: LIKE, several times faster
    if len(term) >= TRIGRAM:
        if caseless:
            return Q(**{f"{field}__contains": term})
        return Q(_ILike(F(field), Value(_like_pattern(term))))
    if caseless:
        return Q(GreaterThan(StrIndex(F(field), Value(term)), 0))
    return Q(GreaterThan(StrIndex(Lower(F(field)), Value(term.lower())), 0))


def any_contains(term: str, *fields: str) -> Q:
    """One of `fields` contains `term`, in any case (text_contains on each)."""
    return reduce(operator.or_, (text_contains(field, term) for field in fields))


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
        any_contains(term, "company", "contact_name", "phone", "email")
    )
    return (
        found.annotate(rank=_rank("company", term))
        .select_related("owner")
        .order_by("rank", "-updated_at", "-id")[:limit]
    )


def search_companies(*, user: User, term: str, limit: int = LIMIT) -> QuerySet[Company]:
    match = text_contains("name", term) | Q(uscc=term.upper())
    key = company_name_key(term)
    if key:  # any spelling of the name (有限公司 or not, full-width letters)
        match |= text_contains("name_key", key)
    return (
        visible_companies(user)
        .filter(match)
        .annotate(rank=_rank("name", term))
        .order_by("rank", "name", "id")[:limit]
    )


def search_contacts(*, user: User, term: str, limit: int = LIMIT) -> QuerySet[Contact]:
    found = visible_contacts(user).filter(any_contains(term, "name", "mobile", "phone", "email"))
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
        .filter(any_contains(term, "lead__company", "status_now", "what_i_did", "next_step", "ask"))
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
