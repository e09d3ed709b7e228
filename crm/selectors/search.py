"""Search from anywhere (the header's box): the leads, companies, contacts and reports a person
may see, found by any part of a name (宏达 finds 宏达物流集团), a phone or an email.

Each kind is one query, at most `limit` rows, ranked: the name itself first, then names that
start with the words, then names that contain them, then matches on other fields; newest
first within a rank.

`text_contains` is the one "contains, any case" of the searches. On PostgreSQL a term of three
characters or more is a LIKE (a term without case: Chinese, digits) or an ILIKE, both served by
the trigram GIN indexes of migration 0009_search_trigram (Django's icontains compares
UPPER(column), which they do not serve, and folds case on every row it scans); a shorter term
has no trigram to look up, so it is a strpos, the cheapest scan, which `chars_contain` narrows
first with the character GIN indexes of migration 0012_search_bigram (the rows holding both 宏
and 达) where one exists on exactly those fields. SQLite uses icontains.

Visibility is crm.permissions' (visible_leads, visible_companies, visible_contacts,
visible_reports), with one change of form for a manager or a +2: their teams are read once
(`Scope`) and each kind asks `team_id IN (those ids)`, an indexed column PostgreSQL combines
with the search's own index, where the join on the team made it read every lead of the teams
(50,000 for a +2) for the companies and contacts. The sets are the same
(tests/crm/test_search.py compares them with crm.permissions' for each role).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from functools import reduce
from typing import cast

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Exists,
    F,
    Func,
    IntegerField,
    Model,
    OuterRef,
    Q,
    QuerySet,
    TextField,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Lower, StrIndex
from django.db.models.lookups import GreaterThan, IsNull

from crm.models import Company, Contact, Lead, LeadContact, Report, ReportState, Role, User
from crm.models.companies import company_name_key
from crm.permissions import (
    visible_companies,
    visible_contacts,
    visible_leads,
    visible_reports,
    visible_teams,
)

LIMIT = 8
MAX_TERM = 100
TRIGRAM = 3  # pg_trgm finds nothing to look up in a shorter term
# The fields each kind searches, in the order of migration 0012's character indexes
LEAD_FIELDS = ("company", "contact_name", "phone", "email")
CONTACT_FIELDS = ("name", "mobile", "phone", "email")


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


class _Joined(Func):
    """`(a || b || ...)`."""

    arg_joiner = " || "
    template = "(%(expressions)s)"
    output_field = TextField()


class _CharsOf(Func):
    """`string_to_array(lower(text), NULL)`: what kaopu_chars(text) is (migration 0012)."""

    template = "string_to_array(lower(%(expressions)s), NULL)"
    output_field = TextField()


class _HasAll(Func):
    """`array @> array` (PostgreSQL)."""

    arg_joiner = " @> "
    template = "%(expressions)s"
    output_field = BooleanField()


def chars_contain(term: str, *fields: str) -> Q:
    """One of `fields` contains `term` (any_contains). On PostgreSQL a term of one or two
    characters first asks the character index of migration 0012 on exactly these fields, in
    this order (the rows holding all its characters), then checks the term on those."""
    found = any_contains(term, *fields)
    if connection.vendor != "postgresql" or len(term) >= TRIGRAM:
        return found
    indexed = Func(_Joined(*(F(f) for f in fields)), function="kaopu_chars")
    return Q(_HasAll(indexed, _CharsOf(Value(term)))) & found


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


def _per_row[M: Model](rows: QuerySet[M]) -> QuerySet[M]:
    """`rows` (an EXISTS on the outer row's pk) asked per outer row. PostgreSQL may instead
    hash the whole subquery (ANY over every lead of the +2's teams: 50,000 rows, 12 ms) where
    the search reads a few companies before it has its rows; a condition on the outer row that
    is no equality (its pk is not null: always true) keeps it per row."""
    return rows.filter(IsNull(OuterRef("pk"), False))


@dataclass(frozen=True)
class Scope:
    """What `user` may see, for the searches: crm.permissions' rules, with a manager's or a
    +2's teams read once (`team_ids`; None for a rep or an admin, whose rules need no team)."""

    user: User
    team_ids: tuple[int, ...] | None = None

    @classmethod
    def of(cls, user: User) -> Scope:
        """One query for a manager or a +2 (their teams), none for anyone else."""
        leads_a_team = user.role in (Role.MANAGER, Role.DIRECTOR) and not user.is_admin_role
        if not (user.is_authenticated and user.is_active and leads_a_team):
            return cls(user)
        return cls(user, tuple(visible_teams(user).values_list("pk", flat=True)))

    def leads(self) -> QuerySet[Lead]:
        if self.team_ids is None:
            return visible_leads(self.user)
        return Lead.objects.filter(team_id__in=self.team_ids)

    def companies(self) -> QuerySet[Company]:
        if self.team_ids is None:
            return visible_companies(self.user)
        # EXISTS per matching company (the lead's account index), not IN over every lead of the
        # teams: the +2's phone-digit search read 50,000 leads for 8 companies (bench/README.md).
        leads = Lead.objects.filter(account_id=OuterRef("pk"), team_id__in=self.team_ids)
        return Company.objects.filter(Exists(_per_row(leads)) | Q(created_by=self.user))

    def contacts(self) -> QuerySet[Contact]:
        if self.team_ids is None:
            return visible_contacts(self.user)
        # EXISTS per matching contact: IN built the teams' 75,000 lead-contact rows first
        # (the +2's "0001": 110 ms for the contacts alone, 7 ms this way).
        roles = LeadContact.objects.filter(
            contact_id=OuterRef("pk"), lead__team_id__in=self.team_ids
        )
        return Contact.objects.filter(Exists(_per_row(roles)) | Q(created_by=self.user))

    def reports(self) -> QuerySet[Report]:
        if self.team_ids is None:
            return visible_reports(self.user)
        teams = Q(state=ReportState.SUBMITTED, team_id__in=self.team_ids)
        if self.user.role == Role.DIRECTOR:
            teams &= Q(share_with_director=True)
        return Report.objects.filter(teams | Q(author=self.user))


RANKS = 4  # _rank's: the name itself, starts with the term, contains it, elsewhere


def _rank(name: str, term: str) -> Case:
    """0 the name itself, 1 starts with the term, 2 contains it, 3 matched elsewhere."""
    return Case(
        When(**{f"{name}__iexact": term}, then=Value(0)),
        When(**{f"{name}__istartswith": term}, then=Value(1)),
        When(**{f"{name}__icontains": term}, then=Value(2)),
        default=Value(3),
        output_field=IntegerField(),
    )


def _tiers[M: Model](
    found: QuerySet[M],
    term: str,
    name: str,
    name_found: Q,
    matches: Q,
    *,
    order: tuple[str, ...],
    apart: int,
) -> list[QuerySet[M]]:
    """`found`'s matches in the rank order of _rank, none sharing a row, each in `order`:
    the name itself, names starting with the term, names containing it (`name_found`: an
    index's form of text_contains(name)), then the rest of `matches` (every match, the
    name's included). `apart`: 4, each rank its own query; or 2, the name itself and names
    starting with it, then the other two as one query, ranked. Their union is `found`
    filtered by `matches`."""
    assert apart in (2, RANKS), apart
    contains = text_contains(name, term)
    exact = Q(**{f"{name}__iexact": term})
    prefix = Q(**{f"{name}__istartswith": term})
    tiers = [
        found.filter(exact & contains),
        found.filter(prefix & contains).exclude(exact),
        found.filter(name_found).exclude(prefix),
        found.filter(matches).exclude(contains),
    ]
    tiers = [tier.order_by(*order) for tier in tiers[:apart]]
    if apart == 2:
        rest = found.filter(matches).exclude(prefix)
        ranked = rest.alias(rank=_rank(name, term)).order_by("rank", *order)
        tiers.append(cast("QuerySet[M]", ranked))
    return tiers


def _first_of[M: Model](
    tiers: list[QuerySet[M]], order: tuple[str, ...], name: str, term: str, limit: int
) -> QuerySet[M]:
    """The best `limit` rows of `tiers` (each a rank, best first), ranked, newest first in a
    rank (`order`), read rank by rank and stopping once `limit` are found.

    One query: each rank is a WITH part keeping its first `limit` rows in `order`, and a rank
    is read only while the ranks before it hold fewer than `limit` rows (a condition on no
    row, which PostgreSQL tests once before reading anything: its "One-Time Filter"). So where
    many names start with 宏达 the later ranks are never read, and a rank walks the index of
    its order (lead_updated, the primary key) until it has its rows: the +2's 宏达 read every
    one of the 2,900 matching leads and companies to rank them before (bench/README.md). The
    result does not depend on the order the database reads the parts in; the few rows found
    are ranked again as one."""
    parts: list[str] = []
    params: list[object] = []
    for tier in tiers:
        query = tier
        if parts:
            held = " + ".join(f"(SELECT COUNT(*) FROM kaopu_rank{i})" for i in range(len(parts)))
            query = query.filter(RawSQL(f"({held}) < %s", (limit,), output_field=BooleanField()))
        try:
            sql, tier_params = query.values("pk")[:limit].query.sql_with_params()
        except EmptyResultSet:  # a rank that can hold no row (visible_*() gave none())
            continue
        parts.append(f"kaopu_rank{len(parts)} AS ({sql})")
        params.extend(tier_params)
    if not parts:
        return tiers[0].none()
    ranks = " UNION ALL ".join(f"SELECT * FROM kaopu_rank{i}" for i in range(len(parts)))
    first = RawSQL(f"WITH {', '.join(parts)} {ranks}", params)
    rows = tiers[0].model._default_manager.filter(pk__in=first)
    ranked = rows.alias(rank=_rank(name, term)).order_by("rank", *order)[:limit]
    return cast("QuerySet[M]", ranked)  # django-stubs reads the model of a type parameter as Model


def _best[M: Model](
    found: QuerySet[M],
    *,
    term: str,
    name: str,
    name_found: Q,
    matches: Q,
    order: tuple[str, ...],
    limit: int,
    apart: int = RANKS,
) -> QuerySet[M]:
    """The best `limit` rows of `found` that `matches` (`name_found`: those whose name holds
    the term, for the ranks), by rank (_rank on `name`), then `order`.

    PostgreSQL reads the ranks best first and stops once it has them (_first_of; `apart`: how
    many ranks are read as their own part, see _tiers). SQLite reads the matches once and
    ranks them: no index of its serves LIKE '%…%', and with no statistics (nothing runs
    ANALYZE on it) its planner reads every rank by the team index, the +2's 50,000 leads once
    per rank: 390–670 ms for the leads against ~150 ms in one read (bench/README.md)."""
    if connection.vendor != "postgresql":
        ranked = found.filter(matches).alias(rank=_rank(name, term))
        return cast("QuerySet[M]", ranked.order_by("rank", *order)[:limit])
    tiers = _tiers(found, term, name, name_found, matches, order=order, apart=apart)
    return _first_of(tiers, order, name, term, limit)


def search_leads(
    *, user: User, term: str, limit: int = LIMIT, scope: Scope | None = None
) -> QuerySet[Lead]:
    """By company name, then the contact's name, the phone or the email; newest first."""
    return _best(
        (scope or Scope.of(user)).leads(),
        term=term,
        name="company",
        name_found=chars_contain(term, "company"),
        matches=chars_contain(term, *LEAD_FIELDS),
        order=("-updated_at", "-id"),
        limit=limit,
    ).select_related("owner")


def search_companies(
    *, user: User, term: str, limit: int = LIMIT, scope: Scope | None = None
) -> QuerySet[Company]:
    """By name, then the credit code or any spelling of the name (有限公司 or not, full-width
    letters); newest first."""
    named = chars_contain(term, "name")
    matches = named | Q(uscc=term.upper())
    key = company_name_key(term)
    if key:
        matches |= chars_contain(key, "name_key")
    return _best(
        (scope or Scope.of(user)).companies(),
        term=term,
        name="name",
        name_found=named,
        matches=matches,
        order=("-id",),
        limit=limit,
    )


def search_contacts(
    *, user: User, term: str, limit: int = LIMIT, scope: Scope | None = None
) -> QuerySet[Contact]:
    """By name, then mobile, phone or email; newest first."""
    # The character index is on the four fields together: it narrows the names too.
    anywhere = chars_contain(term, *CONTACT_FIELDS)
    return _best(
        (scope or Scope.of(user)).contacts(),
        term=term,
        name="name",
        name_found=anywhere & text_contains("name", term),
        matches=anywhere,
        order=("-id",),
        limit=limit,
    ).select_related("company")


def search_reports(
    *, user: User, term: str, limit: int = LIMIT, scope: Scope | None = None
) -> QuerySet[Report]:
    """Sent reports, by their lead's company, then what they say (status, what was done, the
    next step, the ask); newest first.

    A person reads a thousand reports at most, with no text index: after the name itself and
    the names starting with the term, the rest is one rank read once (its visible reports and
    their leads, ranked), not two that would each read them."""
    found = (scope or Scope.of(user)).reports().filter(state=ReportState.SUBMITTED)
    name = "lead__company"
    return _best(
        found,
        term=term,
        name=name,
        name_found=text_contains(name, term),
        matches=any_contains(term, name, "status_now", "what_i_did", "next_step", "ask"),
        order=("-submitted_at", "-id"),
        limit=limit,
        apart=2,
    ).select_related("author", "lead")


def site_search(*, user: User, q: str, limit: int = LIMIT) -> SearchResults:
    """What the header's search finds for `q` (blank: nothing, and no query)."""
    term = " ".join(q.split())[:MAX_TERM]
    if not term:
        return SearchResults(term="")
    scope = Scope.of(user)
    return SearchResults(
        term=term,
        leads=list(search_leads(user=user, term=term, limit=limit, scope=scope)),
        companies=list(search_companies(user=user, term=term, limit=limit, scope=scope)),
        contacts=list(search_contacts(user=user, term=term, limit=limit, scope=scope)),
        reports=list(search_reports(user=user, term=term, limit=limit, scope=scope)),
    )
