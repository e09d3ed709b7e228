"""Lead reads: the lead list with its allow-listed filters and sorting, the day's to-do list,
the pipeline board, a lead's timeline and the hand-off candidates. Visibility always starts
from crm.permissions; "stalled" is defined once here (stalled_q) and reused by the coach.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import chain
from typing import Any

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    F,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, RowNumber
from django.utils import timezone

from crm.models import (
    Activity,
    Contact,
    Lead,
    LeadEvent,
    LeadEventKind,
    LeadTally,
    Report,
    ReportState,
    Role,
    User,
)
from crm.permissions import lead_scope, visible_leads, visible_reports, visible_teams
from crm.pipeline import OPEN_STAGES, Stage, idle_level

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


def lead_list(*, user: User, filters: LeadFilters) -> QuerySet[Lead]:
    """The leads `user` may see, searched, filtered and sorted as asked."""
    # A manager's or +2's teams named by id: through the join to crm_team PostgreSQL walked
    # (updated_at) over every team's leads and SQLite sorted all of a +2's 50,000; by id, each
    # walks an ordered index and stops at the page (bench/README.md, issue 22).
    visible = visible_leads(user, teams_by_id=True, walking=True)
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
        leads = leads.filter(stalled_q())
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
    # A plain order on NOT NULL columns lets PostgreSQL walk the (owner|team, updated_at) index.
    return leads.order_by(order, "-id")


def my_day(*, user: User, limit: int = 15) -> dict[str, Any]:
    """What needs the user today: next steps due, stalled leads, new hand-offs."""
    now = timezone.now()
    today = timezone.localdate(now)
    # Open leads as the partial indexes over them see them (closed_at IS NULL: the stage
    # service clears it on every open stage): a team's due leads are then a range of
    # lead_team_due, its stalled ones a range of lead_team_idle (a rep's: lead_owner_due,
    # lead_owner_idle), not all of its open leads read three times (issue 22).
    mine = with_idle_since(visible_leads(user)).filter(
        stage__in=OPEN_STAGES, closed_at__isnull=True
    )
    due = mine.filter(next_step_due__lte=today)
    # Idleness said on the indexes' expression only: with stalled_q's spelled-out OR beside
    # it PostgreSQL ANDed the range with a bitmap of 26,770 leads from lead_stage_activity.
    stalled = mine.filter(stalled_q(now, on_idle_since=True))
    # The week's hand-offs read from the history's (kind, created_at), their leads' teams
    # checked on the way: not the history of each of a team's 5,000 leads (issue 22).
    handoffs = (
        LeadEvent.objects.filter(
            lead_scope(user, "lead__", teams_by_id=True, walking=True)
            if user.is_active
            else Q(pk__in=[]),
            kind__in=[LeadEventKind.HANDED_DOWN, LeadEventKind.REASSIGNED],
            created_at__gte=now - dt.timedelta(days=7),
        )
        .select_related("lead", "actor", "to_user")
        .order_by("-created_at")
    )
    # The counts in one statement: the due and the stalled leads each over their own index
    # range (not with the lists, which would join and carry every stalled lead's whole row to
    # count them, where the list stops at 15), the open and the unassigned ones from the lead
    # tally (crm.models.tally), not read.
    tally = _tally(user).filter(stage__in=OPEN_STAGES).values("n")
    counts = _scalars(
        due=("COUNT(*)", due.values("pk")),
        stalled=("COUNT(*)", stalled.values("pk")),
        open=("SUM(n)", tally),
        unassigned=("SUM(n)", tally.filter(owner_key=0)),
    )
    return {
        # Ties (a date and a value) by the newest lead first, as on the board: before, in
        # whatever order the plan read them, so a +2's list changed with the index read.
        "due": list(due.select_related("owner").order_by("next_step_due", "-value", "-id")[:limit]),
        "stalled": list(
            stalled.select_related("owner").order_by(F("idle_since").asc(), "pk")[:limit]
        ),
        "handoffs": list(handoffs[:limit]),
        "counts": counts,
        "today": today,
    }


def _scalars(**parts: tuple[str, QuerySet[Any]]) -> dict[str, int]:
    """Each part's aggregate ("COUNT(*)", "SUM(n)") over its query's rows, in one statement,
    each query reading its own index range; 0 for none."""
    columns: list[str] = []
    params: list[Any] = []
    for name, (aggregate, rows) in parts.items():
        try:
            sql, own = rows.order_by().query.sql_with_params()
        except EmptyResultSet:  # nobody's rows (an inactive user)
            columns.append("0")
            continue
        columns.append(f"(SELECT COALESCE({aggregate}, 0) FROM ({sql}) AS {name}_rows)")
        params.extend(own)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)}", params)
        row = cursor.fetchone()
    return {name: int(value) for name, value in zip(parts, row, strict=True)}


@dataclass
class BoardColumn:
    stage: str
    label: str
    count: int
    totals: list[tuple[str, Decimal]]
    leads: Sequence[Lead]


def _sees_whole_teams(user: User) -> bool:
    """A manager, a +2 or an admin: whose visible leads are whole teams' (crm.permissions)."""
    return user.is_active and (user.is_admin_role or user.role in (Role.MANAGER, Role.DIRECTOR))


def _tally(user: User) -> QuerySet[LeadTally]:
    """The lead tally's groups (crm.models.tally) of the leads `user` may see
    (crm.permissions.visible_leads): their teams' (all for an admin; the teams a subquery), a
    rep's own leads in any team, none for an inactive user. Read here grouped as each page
    needs it, not through crm.tally.lead_tally's rows per owner: a +2's 2,200 rows made into
    objects were a third of their board's time on SQLite (issue 22)."""
    if not user.is_authenticated or not user.is_active:
        return LeadTally.objects.none()
    groups = LeadTally.objects.filter(n__gt=0)
    if user.is_admin_role:
        return groups
    if _sees_whole_teams(user):
        return groups.filter(team__in=visible_teams(user).values("pk"))
    return groups.filter(owner_key=user.pk)


# A manager's or +2's board reads each column's biggest leads by the (team, stage, -value, -id)
# index, one (team, stage) at a time in one statement; past this many (team, stage) pairs (an
# admin of many teams; SQLite allows 500 arms in a compound SELECT) it numbers every visible lead.
BOARD_WALKS = 200


def pipeline_board(*, user: User, per_column: int = 20) -> list[BoardColumn]:
    """The visible leads by stage: count and value per currency, and the biggest leads, each
    marked `rotting` when it is stalled (stalled_q: a parked lead is not)."""
    leads = visible_leads(user)
    rotting = Case(When(stalled_q(), then=Value(True)), default=Value(False))
    # Counts and totals from the lead tally (crm.tally), not from the leads; for whole teams
    # (a manager, a +2, an admin) each (team, stage) that has leads is walked for its cards.
    by_team = _sees_whole_teams(user)
    counts: dict[str, int] = {}
    sums: dict[str, dict[str, Decimal]] = {}
    pairs: set[tuple[int, str]] = set()
    groups = _tally(user).values_list("team_id", "stage", "currency")
    for team_id, stage, currency, n, value in groups.annotate(Sum("n"), Sum("value")).order_by():
        counts[stage] = counts.get(stage, 0) + n
        by_currency = sums.setdefault(stage, {})
        by_currency[currency] = by_currency.get(currency, Decimal(0)) + value
        pairs.add((team_id, stage))
    totals = {stage: sorted(by_currency.items()) for stage, by_currency in sums.items()}
    if by_team and len(pairs) <= BOARD_WALKS:
        top = _biggest_walked(sorted(pairs), per_column)
    else:
        # The visible leads numbered within their stage by value (narrow rows: stage, value,
        # id), the first `per_column` of each kept: a rep's few hundred leads.
        biggest = Window(
            RowNumber(), partition_by=[F("stage")], order_by=[F("value").desc(), F("id").desc()]
        )
        numbered = leads.annotate(nth=biggest).filter(nth__lte=per_column).order_by()
        sql, params = numbered.values("pk").query.sql_with_params()
        top = sql, list(params)
    cards: dict[str, list[Lead]] = {}
    for card in (
        with_idle_since(Lead.objects.filter(_id_among(*top)))
        .select_related("owner")
        .annotate(rotting=rotting)
        .order_by("-value", "-id")
    ):
        cards.setdefault(card.stage, []).append(card)
    columns = []
    now = timezone.now()
    for stage, label in Stage.choices:
        shown = cards.get(stage, [])
        for lead in shown:  # days idle and their colour (crm.pipeline.IDLE_DAYS)
            lead.idle_days = (now - lead.idle_since).days  # type: ignore[attr-defined]
            lead.idle_level = idle_level(stage, lead.idle_days)  # type: ignore[attr-defined]
        columns.append(
            BoardColumn(
                stage=stage,
                label=str(label),
                count=counts.get(stage, 0),
                totals=totals.get(stage, []),
                leads=shown,
            )
        )
    return columns


def _id_among(ids_sql: str, params: Sequence[Any]) -> RawSQL:
    """The lead's id is one of those the query `ids_sql` selects. On PostgreSQL as `= ANY
    (ARRAY(…))`: the ids read first, once, then each lead by its key; as `IN (…)` PostgreSQL
    guessed the subquery's rows from before its numbering was cut (1,400 for a +2's 140 cards)
    and hashed a scan of every lead against them."""
    among = "= ANY(ARRAY({}))" if connection.vendor == "postgresql" else "IN ({})"
    return RawSQL(f'"crm_lead"."id" {among.format(ids_sql)}', params, BooleanField())


# One (team, stage)'s biggest leads, walked in lead_team_stage_value's order. Written out, not
# built with the ORM per arm: 70 querysets compiled were a fifth of a +2's board on SQLite.
_WALK = (
    'SELECT "crm_lead"."id", "crm_lead"."stage", "crm_lead"."value" FROM "crm_lead"'
    ' WHERE "crm_lead"."team_id" = {team} AND "crm_lead"."stage" = {stage}'
    ' ORDER BY "crm_lead"."value" DESC, "crm_lead"."id" DESC LIMIT %s'
)


def _biggest_walked(pairs: Sequence[tuple[int, str]], per_column: int) -> tuple[str, list[Any]]:
    """The query (SQL, parameters) of the ids of each stage's `per_column` biggest leads (by
    value, then the newest id) among the given teams' leads: each (team, stage) read by
    lead_team_stage_value and stopped at `per_column` entries (issue 22: not a numbering of a
    team's 5,000 leads or a +2's 50,000), then the few hundred rows so read numbered per stage.

    PostgreSQL walks the pairs with one LATERAL subquery, planned once (a UNION ALL of a +2's
    70 arms took 45 ms to plan); SQLite, which has no LATERAL and plans quickly, reads a UNION
    ALL with each ordered and limited arm inside a subselect, as it wants them."""
    params: list[Any] = []
    if connection.vendor == "postgresql":
        pairs_sql = ", ".join("(%s, %s)" for _pair in pairs) or "(NULL::bigint, NULL::text)"
        for team_id, stage in pairs:
            params += [team_id, stage]
        params.append(per_column)
        arm = _WALK.format(team="pair.team_id", stage="pair.stage")
        walked = (
            f"(VALUES {pairs_sql}) AS pair (team_id, stage) CROSS JOIN LATERAL ({arm}) AS walked"
        )
    else:
        arms = []
        for n, (team_id, stage) in enumerate(pairs):
            arms.append(f"SELECT * FROM ({_WALK.format(team='%s', stage='%s')}) AS arm{n}")
            params += [team_id, stage, per_column]
        union = " UNION ALL ".join(arms) or "SELECT NULL AS id, NULL AS stage, NULL AS value"
        walked = f"({union}) AS walked"
    numbered = (
        "SELECT walked.id, ROW_NUMBER() OVER (PARTITION BY walked.stage"
        f" ORDER BY walked.value DESC, walked.id DESC) AS nth FROM {walked}"
    )
    return f"SELECT id FROM ({numbered}) AS top WHERE top.nth <= %s", [*params, per_column]


@dataclass(frozen=True)
class TimelineEntry:
    when: dt.datetime
    kind: str  # "activity", "event" or "report"
    item: Activity | LeadEvent | Report


def lead_timeline(*, lead: Lead, viewer: User, limit: int = 200) -> list[TimelineEntry]:
    """One timeline of activities, hand-offs, stage changes and the reports the viewer may
    read, newest first."""

    # Only what the entries show (crm.views.timeline_entries), and of a person their name
    # (User.__str__): the page reads, and makes into objects, a third of the columns.
    def names(*persons: str) -> list[str]:
        shown = ("display_name", "first_name", "last_name", "username")
        return [f"{person}__{name}" for person in persons for name in shown]

    activities = list(
        Activity.objects.filter(lead=lead)
        .select_related("author")
        .only("lead", "kind", "outcome", "happened_at", "note", "author", *names("author"))[:limit]
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
    history = list(
        LeadEvent.objects.filter(lead=lead)
        .select_related("actor", "from_user", "to_user")
        .only(
            *("lead", "kind", "from_stage", "to_stage", "note", "changes", "created_at"),
            *("actor", "from_user", "to_user", *names("actor", "from_user", "to_user")),
        )[:limit]
    )
    reports = (
        visible_reports(viewer)
        .filter(lead=lead, state=ReportState.SUBMITTED)
        .select_related("author")
        .only(
            *("lead", "kind", "state", "status_now", "ask", "quality_score", "acknowledged_at"),
            *("submitted_at", "author", *names("author")),
        )
        .order_by("-submitted_at")[:limit]
    )
    entries = chain(
        (TimelineEntry(a.happened_at, "activity", a) for a in activities),
        (TimelineEntry(e.created_at, "event", e) for e in history),
        (TimelineEntry(r.submitted_at, "report", r) for r in reports if r.submitted_at),
    )
    return sorted(entries, key=lambda entry: entry.when, reverse=True)[:limit]


def handoff_candidates(*, user: User, q: str = "", show: str = "pool") -> QuerySet[Lead]:
    """Open leads a manager may hand down: the team pool, or every open lead to reassign."""
    leads = visible_leads(user).filter(stage__in=OPEN_STAGES).select_related("owner", "team")
    if show != "all":
        leads = leads.filter(owner__isnull=True)
    if q:
        leads = leads.filter(Q(company__icontains=q) | Q(contact_name__icontains=q))
    return leads.order_by("-value", "-id")
