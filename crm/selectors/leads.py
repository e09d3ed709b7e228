"""Lead reads: the lead list with its allow-listed filters and sorting, a lead's timeline and the
hand-off candidates (the board and My day have modules of their own). Visibility always starts
from crm.permissions; "stalled" is defined once here (stalled_q) and reused by the coach.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import chain
from typing import Any

from django.conf import settings
from django.db.models import (
    F,
    Q,
    QuerySet,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from crm.models import (
    Activity,
    Contact,
    Lead,
    LeadEvent,
    Report,
    ReportState,
    User,
)
from crm.models.people import person_name
from crm.permissions import visible_leads, visible_reports
from crm.pipeline import OPEN_STAGES, Stage
from crm.selectors.walks import BOARD_WALKS, biggest, id_among

# Sorting is allow-listed: the query string picks a key, never a column name.
SORTS: dict[str, str] = {
    "updated": "-updated_at",
    "company": "company",
    "-company": "-company",
    "value": "value",
    "-value": "-value",
    "due": "next_step_due",
    "-due": "-next_step_due",
    "close": "expected_close",
    "-close": "-expected_close",
    "stage": "stage",
    "activity": "-last_activity_at",
}
DEFAULT_SORT = "updated"
NULLABLE_SORTS = frozenset({"next_step_due", "expected_close", "last_activity_at"})


def stalled_since(now: dt.datetime | None = None) -> dt.datetime:
    return (now or timezone.now()) - dt.timedelta(days=settings.KAOPU_STALLED_DAYS)


def stalled_q(now: dt.datetime | None = None, *, on_idle_since: bool = False) -> Q:
    """Open leads with no activity for the stalled threshold, no future next step, and not
    parked by the manager (a lead parked until a date leaves the stalled lists until then).
    `on_idle_since`: the idleness said on with_idle_since's annotation (the lead_*_idle
    indexes' expression) rather than spelled out on the columns."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    since = stalled_since(now)
    # The same rule as `idle_since < since`, spelled out so that it can use the indexes.
    idle = (
        Q(idle_since__lt=since)
        if on_idle_since
        else Q(last_activity_at__lt=since)
        | Q(last_activity_at__isnull=True, handed_at__lt=since)
        | Q(last_activity_at__isnull=True, handed_at__isnull=True, created_at__lt=since)
    )
    return (
        Q(stage__in=OPEN_STAGES) & idle & ~Q(next_step_due__gte=today) & ~Q(parked_until__gt=today)
    )


def with_idle_since(leads: QuerySet[Lead]) -> QuerySet[Lead]:
    """Annotate when the lead last saw life: an activity, else the hand-off, else creation."""
    return leads.annotate(idle_since=Coalesce("last_activity_at", "handed_at", "created_at"))


@dataclass(frozen=True)
class LeadFilters:
    q: str = ""
    stage: str = ""
    owner: str = ""
    source: str = ""
    chicken_rib: str = ""
    view: str = ""
    sort: str = DEFAULT_SORT

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> LeadFilters:
        """Filters from checked query values (a form's `cleaned_data`, a dict): a missing or
        empty value means "any", and a sort outside the allow-list falls back to the default."""
        values = {name: str(params.get(name) or "") for name in cls.__dataclass_fields__}
        if values["sort"] not in SORTS:
            values["sort"] = DEFAULT_SORT
        return cls(**values)

    @property
    def narrows(self) -> bool:
        """Whether a filter leaves some of the visible leads out (the sort never does)."""
        return any((self.q, self.stage, self.owner, self.source, self.chicken_rib, self.view))


def lead_list(
    *,
    user: User,
    filters: LeadFilters,
    team_ids: list[int] | None = None,
    walking: bool = True,
    depth: int | None = None,
) -> QuerySet[Lead]:
    """The leads `user` may see, searched, filtered and sorted as asked (`team_ids`: a manager's
    or +2's teams read already, crm.permissions.scope_team_ids; `walking`: see below). `depth`:
    how many rows the page shown needs (its last row's place), for a list of whole teams sorted
    biggest first, read by walking each (team, stage) that deep (crm.selectors.walks)."""
    # A manager's or +2's teams named by id: through the join to crm_team PostgreSQL walked
    # (updated_at) over every team's leads and SQLite sorted all of a +2's 50,000; by id, each
    # walks an ordered index and stops at the page (bench/README.md, issue 22). `walking=False`
    # (crm.permissions.lead_scope) for a query that starts from each team's index range instead:
    # a count of the attention views (the view's own).
    visible = visible_leads(user, teams_by_id=True, walking=walking, team_ids=team_ids)
    leads = with_idle_since(visible).select_related("owner", "team")
    if filters.q:
        term = filters.q.strip()
        leads = leads.filter(
            Q(company__icontains=term)
            | Q(contact_name__icontains=term)
            | Q(phone__icontains=term)
            | Q(email__icontains=term)
        )
    if filters.stage == "open":
        leads = leads.filter(stage__in=OPEN_STAGES)
    elif filters.stage:
        leads = leads.filter(stage=filters.stage)
    if filters.owner == "none":
        leads = leads.filter(owner__isnull=True)
    elif filters.owner:
        leads = leads.filter(owner_id=int(filters.owner))
    if filters.source:
        leads = leads.filter(source=filters.source)
    if filters.chicken_rib == "yes":
        leads = leads.filter(is_chicken_rib=True)
    elif filters.chicken_rib == "no":
        leads = leads.filter(is_chicken_rib=False)
    if filters.view == "due":
        leads = leads.filter(stage__in=OPEN_STAGES, next_step_due__lte=timezone.localdate())
    elif filters.view == "stalled":
        # As My day reads them: open leads as the partial lead_*_idle indexes see them
        # (closed_at IS NULL: the stage service clears it on every open stage) and idleness
        # on their expression, a range of each team's (or the rep's) index; spelled out on the
        # columns, a +2's stalled list read the company's from lead_stage_activity and sorted
        # them (SQLite 430 ms, issue 22).
        leads = leads.filter(stalled_q(on_idle_since=True), closed_at__isnull=True)
    order = SORTS.get(filters.sort, SORTS[DEFAULT_SORT])
    field = order.lstrip("-")
    if field in NULLABLE_SORTS:
        # Leads without the date go last either way.
        last = (
            F(field).desc(nulls_last=True)
            if order.startswith("-")
            else F(field).asc(nulls_last=True)
        )
        return leads.order_by(last, "-id")
    if (
        depth is not None
        and team_ids
        and order == "-value"
        and not filters.narrows
        and len(team_ids) * len(Stage.values) <= BOARD_WALKS
    ):
        # A manager's or +2's leads biggest first: each of their teams' stages read `depth` deep
        # by lead_team_stage_value, not every lead of the teams sorted (a +2's 50,000: PostgreSQL
        # 33 ms, SQLite 25 ms), as the board reads its columns.
        pairs = [(team_id, stage) for team_id in team_ids for stage in Stage.values]
        leads = leads.filter(id_among(*biggest(pairs, depth)))
    # A plain order on NOT NULL columns lets PostgreSQL walk the (owner|team, updated_at) index.
    return leads.order_by(order, "-id")


@dataclass(frozen=True)
class TimelineEntry:
    when: dt.datetime
    kind: str  # "activity", "event" or "report"
    item: Activity | LeadEvent | Report


def lead_timeline(*, lead: Lead, viewer: User, limit: int = 200) -> list[TimelineEntry]:
    """One timeline of activities, hand-offs, stage changes and the reports the viewer may
    read, newest first."""

    # Only what the entries show (crm.views.timeline_entries), and of a person their name
    # (User.__str__) read with the entry as `<person>_name` (None: a deleted account): the page
    # read a third of the columns, and made the 50 entries' people into users (1 of 2 ms each
    # for the activities and the history on PostgreSQL).
    activities = _named(
        Activity.objects.filter(lead=lead).only(
            "lead", "kind", "outcome", "happened_at", "note", "author"
        ),
        "author",
        limit=limit,
    )
    # Whom each activity was with (`with_whom`): name and title (Contact.__str__), in the
    # people's own order (name, id), in one query; a prefetch read each through a manager.
    with_whom: dict[int, list[Contact]] = {activity.pk: [] for activity in activities}
    links = Activity.contacts.through.objects.filter(activity_id__in=list(with_whom))
    for activity_id, pk, name, title in links.order_by("contact__name", "contact_id").values_list(
        "activity_id", "contact_id", "contact__name", "contact__title"
    ):
        with_whom[activity_id].append(Contact(pk=pk, name=name, title=title))
    for activity in activities:
        activity.with_whom = with_whom[activity.pk]  # type: ignore[attr-defined]
    history = _named(
        LeadEvent.objects.filter(lead=lead).only(
            *("lead", "kind", "from_stage", "to_stage", "note", "changes", "created_at"),
            *("actor", "from_user", "to_user"),
        ),
        "actor",
        "from_user",
        "to_user",
        limit=limit,
    )
    reports = _named(
        visible_reports(viewer)
        .filter(lead=lead, state=ReportState.SUBMITTED)
        .only(
            *("lead", "kind", "state", "status_now", "ask", "quality_score", "acknowledged_at"),
            *("submitted_at", "author"),
        )
        .order_by("-submitted_at"),
        "author",
        limit=limit,
    )
    entries = chain(
        (TimelineEntry(a.happened_at, "activity", a) for a in activities),
        (TimelineEntry(e.created_at, "event", e) for e in history),
        (TimelineEntry(r.submitted_at, "report", r) for r in reports if r.submitted_at),
    )
    return sorted(entries, key=lambda entry: entry.when, reverse=True)[:limit]


NAME_PARTS = ("display_name", "first_name", "last_name", "username")


def _named[M: Activity | LeadEvent | Report](
    rows: QuerySet[M], *people: str, limit: int
) -> list[M]:
    """The first `limit` of `rows`, each with `<person>_name` for each of its `people` (a
    foreign key to a user): the name User.__str__ gives, or None where the account was
    deleted."""
    parts = {
        f"{person}_n_{part}": F(f"{person}__{part}") for person in people for part in NAME_PARTS
    }
    named = list(rows.annotate(**parts)[:limit])
    for row in named:
        for person in people:
            shown, first, last, username = (getattr(row, f"{person}_n_{p}") for p in NAME_PARTS)
            name = None if username is None else person_name(shown, first, last, username)
            setattr(row, f"{person}_name", name)
    return named


def handoff_candidates(*, user: User, q: str = "", show: str = "pool") -> QuerySet[Lead]:
    """Open leads a manager may hand down: the team pool, or every open lead to reassign."""
    leads = visible_leads(user).filter(stage__in=OPEN_STAGES).select_related("owner", "team")
    if show != "all":
        leads = leads.filter(owner__isnull=True)
    if q:
        leads = leads.filter(Q(company__icontains=q) | Q(contact_name__icontains=q))
    return leads.order_by("-value", "-id")
