"""The coach's scans: one function per scan, registered under the name the playbook's rules
give in `trigger: {scan: …}` with `@scan(...)`.

A scan takes one ScanInput (the rule, its thresholds for a group of teams, the group's open
owned leads and active reps as lazy querysets, and the clock) and returns the NudgeSpecs its
rule calls for. The judgement itself lives in coaching.rules as set-based queries, so a scan's
number of queries never depends on the number of leads. SCANS is the set of scan names the
playbook may use; the start-up check (coaching.receivers.connect) refuses any other.

`run_scans` applies every scan rule to every group of teams sharing its thresholds and makes
the nudges in one batch, so the daily push budget goes to the most important advice.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import connection
from django.db.models import (
    CharField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    Lookup,
    Min,
    Model,
    OuterRef,
    QuerySet,
    Value,
)
from django.db.models.functions import Cast
from django.utils import timezone

from coaching import playbook, rules
from coaching.models import Nudge, NudgeState, RuleSetting
from coaching.nudges import create_nudges_counted, wake_snoozed
from coaching.preferences import threshold_groups
from coaching.rules import NudgeSpec
from crm.models import Lead, Report, User

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class ScanInput:
    """What one scan of one rule over one group of teams works on."""

    rule: playbook.Rule
    t: dict[str, int]
    leads: QuerySet[Lead]
    reps: QuerySet[User]
    now: dt.datetime
    today: dt.date
    team_ids: list[int] | None = None
    exclude: list[int] | None = None
    # A folded rule's (FOLDED) teams with their own thresholds; `t` holds the other teams'.
    team_t: dict[int, dict[str, int]] | None = None
    # A FOLDED rule's large recent hand-offs, read once for all of them (rules.recent_batches),
    # and the teams that switched the rule off (counted there, but not among `leads`).
    batches: list[rules.Batch] | None = None
    left_out: list[int] | None = None

    @property
    def clock(self) -> dict[str, Any]:
        """The keyword arguments of coaching.rules' scan queries."""
        return {"now": self.now, "today": self.today, "t": self.t}

    @property
    def folded(self) -> dict[str, Any]:
        """The keyword arguments of a FOLDED rule's query besides the clock."""
        return {"team_t": self.team_t, "batches": self.batches, "left_out": self.left_out or ()}

    def in_teams(self, queryset: QuerySet[M], team_field: str) -> QuerySet[M]:
        """`queryset` narrowed to this group's teams, through `team_field`."""
        if self.team_ids is not None:
            queryset = queryset.filter(**{f"{team_field}__in": self.team_ids})
        if self.exclude:
            queryset = queryset.exclude(**{f"{team_field}__in": self.exclude})
        return queryset


Scan = Callable[[ScanInput], list[NudgeSpec]]
SCANS: dict[str, Scan] = {}


def scan(name: str) -> Callable[[Scan], Scan]:
    """Register the decorated function as the scan called `name` in the playbook."""

    def register(function: Scan) -> Scan:
        if name in SCANS:
            raise ValueError(f"scan '{name}' is registered twice")
        SCANS[name] = function
        return function

    return register


def _person(row: Mapping[str, Any], prefix: str = "") -> str:
    return row.get(f"{prefix}display_name") or row.get(f"{prefix}username") or ""


class _UtcDay(Func):
    """A moment's UTC date as ISO text, as `moment.date().isoformat()` writes it in Python: on
    SQLite the first ten characters of the stored UTC text (TruncDate would call a Python
    function per row), on PostgreSQL to_char at UTC."""

    output_field = CharField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="substr(%(expressions)s, 1, 10)")

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
        return self.as_sql(compiler, connection, template=template)


def _utc_day(field: str) -> Func:
    return _UtcDay(field)


class _Unmade(Lookup):
    """On SQLite: the row's nudge key, written in SQL as NudgeSpec.key writes it
    (rule|lead:id|recipient|period), NOT IN the nudges' keys, which SQLite answers from the
    key's unique index alone. NOT EXISTS by columns probed the nudge table through each
    found lead's index and read all that lead's nudges (a steady scan's report_due: 450 ->
    ~200 ms on the bench); a NOT IN of (lead, recipient, period) rows made SQLite scan the
    whole list for NULLs at every row not found (9.7 s for a first scan's report_due), as
    lead_id may be NULL; the key never is. A Lookup, so that it stands bare in the WHERE
    clause (Django compares a plain boolean expression with 1 on SQLite)."""

    lookup_name = "unmade"
    prepare_rhs = False

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        key, params = compiler.compile(self.lhs)
        table, column = (connection.ops.quote_name(n) for n in (Nudge._meta.db_table, "key"))
        return f"{key} NOT IN (SELECT {column} FROM {table})", params


def _sql_key(prefix: str, recipient: str, period: Any) -> Func:
    """NudgeSpec.key of a row in SQL: `prefix` ("rule|lead:" or "rule|report:"), the row's
    `pk`, the `recipient` field and the `period` expression."""
    parts = [Value(prefix), F("pk"), Value("|"), F(recipient), Value("|"), period]
    return Func(*parts, template="(%(expressions)s)", arg_joiner=" || ", output_field=CharField())


def _not_yet(rows: rules.Rows, s: ScanInput, period: Any) -> rules.Rows:
    """The rows of a lead rule (`pk` the lead, `owner_id` the one told) whose nudge does not
    exist yet: NOT EXISTS a nudge of this rule on the lead, to the owner, for `period` (an
    expression over the row, as text). A nudge's columns are the parts of its unique key
    (NudgeSpec.key: rule|lead:id|recipient|period) and never change after it is made, so this
    finds exactly the keys that exist; it probes the nudge's (lead, state) index, or hashes
    this rule's nudges, instead of writing and hashing a key string per lead and per nudge. A
    steady scan then reads back only what is new, not every finding (55k report_due rows at
    100k leads) for create_nudges to skip. On SQLite the row's key NOT IN the nudges' keys
    (_Unmade), which the key's unique index answers alone."""
    if connection.vendor == "sqlite":
        return rows.alias(nudge_period=period).filter(
            _Unmade(_sql_key(f"{s.rule.id}|lead:", "owner_id", F("nudge_period")), True)
        )
    # The recipient as `recipient_id + 0`, which no index serves: SQLite otherwise probes the
    # recipient's index and reads all of that person's nudges (hundreds) for every lead,
    # instead of the lead's few through (lead, state).
    made = Nudge.objects.alias(
        to=ExpressionWrapper(F("recipient_id") + 0, output_field=IntegerField())
    ).filter(
        lead_id=OuterRef("pk"),
        rule_id=s.rule.id,
        to=OuterRef("owner_id"),
        period=OuterRef("nudge_period"),
    )
    return rows.alias(nudge_period=period).exclude(Exists(made))


# --- Leads -------------------------------------------------------------------------------------


@scan("report_due")
def report_due(s: ScanInput) -> list[NudgeSpec]:
    return [
        NudgeSpec(
            s.rule.id,
            r["owner_id"],
            period=r["reference"].date().isoformat(),
            lead_id=r["pk"],
            context={"company": r["company"], "days": (s.now - r["reference"]).days},
        )
        for r in _not_yet(
            rules.report_due(s.leads, **s.clock, **s.folded), s, _utc_day("reference")
        )
    ]


@scan("stalled")
def stalled(s: ScanInput) -> list[NudgeSpec]:
    return [
        NudgeSpec(
            s.rule.id,
            r["owner_id"],
            period=r["idle_since"].date().isoformat(),
            lead_id=r["pk"],
            context={
                "company": r["company"],
                "days": (s.now - r["idle_since"]).days,
                "chicken_rib": r["is_chicken_rib"],
            },
        )
        for r in _not_yet(rules.stalled(s.leads, **s.clock, **s.folded), s, _utc_day("idle_since"))
    ]


@scan("stalled_ignored")
def stalled_ignored(s: ScanInput) -> list[NudgeSpec]:
    """The manager hears of a stalled-lead nudge the rep has left open for `days_ignored`."""
    ignored = s.in_teams(
        Nudge.objects.active().filter(
            rule_id="stalled_lead",
            created_at__lt=s.now - dt.timedelta(days=s.t.get("days_ignored", 3)),
            lead__stage__in=rules.OPEN_STAGES,
        ),
        "lead__team_id",
    )
    # Idle counted as the rep's stalled nudge counts it (rules.stalled), so both say the same days.
    rows = ignored.annotate(
        idle_since=rules.latest_of("lead__last_activity_at", prefix="lead__")
    ).values(
        "lead_id",
        "lead__team__manager_id",
        "lead__company",
        "period",
        "context",
        "recipient__display_name",
        "recipient__username",
        "idle_since",
    )
    return [
        NudgeSpec(
            s.rule.id,
            r["lead__team__manager_id"],
            period=r["period"],
            lead_id=r["lead_id"],
            context={
                "company": r["lead__company"],
                "rep": _person(r, "recipient__"),
                "days": (s.now - r["idle_since"]).days,
            },
        )
        for r in rows
    ]


@scan("deadline_near")
def deadline_near(s: ScanInput) -> list[NudgeSpec]:
    return [
        NudgeSpec(
            s.rule.id,
            r["owner_id"],
            period=r["deadline"].isoformat(),
            lead_id=r["pk"],
            context={
                "company": r["company"],
                "days": (r["deadline"] - s.today).days,
                "date": r["deadline"].isoformat(),
            },
        )
        for r in _not_yet(rules.deadline_near(s.leads, **s.clock), s, Cast("deadline", CharField()))
    ]


@scan("big_deal")
def big_deal(s: ScanInput) -> list[NudgeSpec]:
    return [
        NudgeSpec(s.rule.id, r["owner_id"], lead_id=r["pk"], context={"company": r["company"]})
        for r in _not_yet(rules.big_deal(s.leads, **s.clock), s, Value("once"))
    ]


@scan("no_decision_maker")
def no_decision_maker(s: ScanInput) -> list[NudgeSpec]:
    """A big deal worked past the team's days with no decision maker among its people; the
    nudge settles itself (cleared) once someone is named, as the scan no longer finds it."""
    found = rules.no_decision_maker(s.leads, **s.clock)
    stale = s.in_teams(Nudge.objects.active().filter(rule_id=s.rule.id), "lead__team_id")
    stale.exclude(lead_id__in=found.values("pk")).update(
        state=NudgeState.DONE, acted_at=s.now, resolved_by="cleared"
    )
    rows = list(_not_yet(found, s, Value("once")))  # the settling above needs them all
    return [
        NudgeSpec(s.rule.id, r["owner_id"], lead_id=r["pk"], context={"company": r["company"]})
        for r in rows
    ]


# --- Reps and reports --------------------------------------------------------------------------


@scan("low_contact")
def low_contact(s: ScanInput) -> list[NudgeSpec]:
    return [
        NudgeSpec(
            s.rule.id,
            r["pk"],
            period=r["reference"].date().isoformat(),
            context={"days": (s.now - r["reference"]).days},
        )
        for r in rules.low_contact(s.reps, **s.clock)
    ]


@scan("only_help")
def only_help(s: ScanInput) -> list[NudgeSpec]:
    return [
        NudgeSpec(
            s.rule.id, r["pk"], period=f"r{r['latest']}", context={"count": s.t.get("last", 3)}
        )
        for r in rules.only_help(s.reps, **s.clock)
    ]


@scan("unacknowledged")
def unacknowledged(s: ScanInput) -> list[NudgeSpec]:
    """Reports waiting for the manager's acknowledgement whose nudge the manager has not had
    yet: like the lead rules (_not_yet), the nudges made are left out in SQL, not read back
    (6,330 reports at 100k leads) for create_nudges to look their keys up."""
    reports = s.in_teams(Report.objects.order_by(), "team_id")
    rows = rules.unacknowledged(reports, **s.clock)
    if connection.vendor == "sqlite":
        key = _sql_key(f"{s.rule.id}|report:", "team__manager_id", Value("once"))
        rows = rows.filter(_Unmade(key, True))
    else:
        made = Nudge.objects.filter(
            report_id=OuterRef("pk"),
            rule_id=s.rule.id,
            recipient_id=OuterRef("team__manager_id"),
            period="once",
        )
        rows = rows.exclude(Exists(made))
    return [
        NudgeSpec(
            s.rule.id,
            r["team__manager_id"],
            report_id=r["pk"],
            context={"rep": _person(r, "author__"), "days": (s.now - r["submitted_at"]).days},
        )
        for r in rows
    ]


@scan("reliable_rep")
def reliable_rep(s: ScanInput) -> list[NudgeSpec]:
    return [
        NudgeSpec(
            s.rule.id,
            r["team__manager_id"],
            period=s.today.strftime("%Y-%m"),
            subject_user_id=r["pk"],
            context={"rep": _person(r), "count": r["rib_on_time"]},
        )
        for r in rules.reliable_rep(s.reps, **s.clock)
    ]


@scan("year_end")
def year_end(s: ScanInput) -> list[NudgeSpec]:
    """From the configured day, every rep is asked for a note; the count is their wins this
    year on leads someone handed down."""
    if not rules.year_end_due(today=s.today, t=s.t):
        return []
    year_start = dt.datetime(s.today.year, 1, 1, tzinfo=dt.UTC)
    wins = dict(
        Lead.objects.filter(stage="won", closed_at__gte=year_start, handed_by__isnull=False)
        .values_list("owner_id")
        .annotate(n=Count("pk"))
    )
    return [
        NudgeSpec(s.rule.id, pk, period=str(s.today.year), context={"count": wins.get(pk, 0)})
        for pk in s.reps.values_list("pk", flat=True)
    ]


@scan("uneven_distribution")
def uneven_distribution(s: ScanInput) -> list[NudgeSpec]:
    """Each team's reps whose open leads are far from the team's median, for its manager."""
    counts: dict[int, dict[int, int]] = defaultdict(dict)
    managers: dict[int, int] = {}
    names: dict[int, str] = {}
    team_of: dict[int, int] = {}
    for person in s.reps.values("pk", "team_id", "team__manager_id", "display_name", "username"):
        counts[person["team_id"]][person["pk"]] = 0
        managers[person["team_id"]] = person["team__manager_id"]
        names[person["pk"]] = _person(person)
        team_of[person["pk"]] = person["team_id"]
    # Each rep's open leads, grouped by the owner alone (a rep has one team: the one above) and
    # as +owner_id (rules.Unindexed): by the plain column SQLite walks lead_owner_due and
    # fetches every lead, where it can read lead_team_cube through.
    loads = s.leads.values(rep=rules.Unindexed("owner_id", output_field=IntegerField()))
    for load in loads.annotate(n=Count("pk")):
        if load["rep"] in team_of:
            counts[team_of[load["rep"]]][load["rep"]] = load["n"]
    week = f"{s.today.isocalendar().year}-W{s.today.isocalendar().week:02d}"
    return [
        NudgeSpec(
            s.rule.id,
            managers[team],
            period=week,
            subject_user_id=rep,
            context={"rep": names[rep], "count": n},
        )
        for team, per_rep in counts.items()
        for rep, n, _median in rules.uneven(per_rep, t=s.t)
    ]


# --- The late first plan and the +2's signals ---------------------------------------------------


@scan("first_plan_overdue")
def first_plan_overdue(s: ScanInput) -> list[NudgeSpec]:
    """The manager hears of a hand-off whose first plan is past its due date: the rep's
    handoff_first_plan nudge (its date set from the team's working_days) is still open."""
    late = s.in_teams(
        Nudge.objects.active().filter(
            rule_id="handoff_first_plan",
            context__due__lt=s.today.toordinal(),
            lead__stage__in=rules.OPEN_STAGES,
            lead__owner_id=F("recipient_id"),
            lead__team__manager__isnull=False,
        ),
        "lead__team_id",
    ).values(
        "lead_id",
        "lead__company",
        "lead__team__manager_id",
        "period",
        "context",
        "recipient__display_name",
        "recipient__username",
    )
    return [
        NudgeSpec(
            s.rule.id,
            r["lead__team__manager_id"],
            period=r["period"],
            lead_id=r["lead_id"],
            context={
                "company": r["lead__company"],
                "rep": _person(r, "recipient__"),
                "date": r["context"].get("date", ""),
            },
        )
        for r in late
    ]


@scan("report_due_ignored")
def report_due_ignored(s: ScanInput) -> list[NudgeSpec]:
    """The manager hears, once a week per rep, of a rep who has left report-due nudges open for
    `days_ignored`: how many leads, and the longest silence. Settled by the scan once the rep
    has none left open that long."""
    ignored = s.in_teams(
        Nudge.objects.active().filter(
            rule_id="report_due",
            created_at__lt=s.now - dt.timedelta(days=s.t.get("days_ignored", 2)),
            lead__stage__in=rules.OPEN_STAGES,
            lead__owner_id=F("recipient_id"),
            recipient__team__manager__isnull=False,
        ),
        "lead__team_id",
    )
    rows = (
        ignored.values("recipient_id", "recipient__team__manager_id")
        .annotate(count=Count("pk"), since=Min("created_at"))
        .order_by()
    )
    found = {r["recipient_id"]: r for r in rows}
    stale = s.in_teams(
        Nudge.objects.active().filter(rule_id=s.rule.id), "subject_user__team_id"
    ).exclude(subject_user_id__in=list(found))
    stale.update(state=NudgeState.DONE, acted_at=s.now, resolved_by="cleared")
    names = _names(set(found))
    return [
        NudgeSpec(
            s.rule.id,
            r["recipient__team__manager_id"],
            period=_week(s.today),
            subject_user_id=rep_id,
            context={
                "rep": names.get(rep_id, ""),
                "count": r["count"],
                "days": (s.now - r["since"]).days,
            },
        )
        for rep_id, r in found.items()
    ]


def _week(today: dt.date) -> str:
    return f"{today.isocalendar().year}-W{today.isocalendar().week:02d}"


def _amount(value: Any, currency: str = "") -> str:
    return f"{value:,.0f} {currency}".strip() if value is not None else "—"


def _names(user_ids: set[int]) -> dict[int, str]:
    people = User.objects.filter(pk__in=user_ids).values("pk", "display_name", "username")
    return {p["pk"]: _person(p) for p in people}


def _per_manager(
    s: ScanInput, groups: dict[int, dict[str, Any]], directors: dict[int, int]
) -> list[NudgeSpec]:
    """One nudge per manager for their director (subject: the manager), this ISO week; the
    director's open nudges of this rule about managers no longer found are settled."""
    names = _names(set(groups))
    _settle_cleared(s, found=set(groups))
    return [
        NudgeSpec(
            s.rule.id,
            directors[manager_id],
            period=_week(s.today),
            subject_user_id=manager_id,
            context=context | {"manager": names.get(manager_id, "")},
        )
        for manager_id, context in groups.items()
    ]


def _settle_cleared(s: ScanInput, *, found: set[int]) -> None:
    """Close this rule's active nudges about managers (of this group's teams) it no longer
    finds: the backlog was answered, the deal moved, the reps reported."""
    stale = s.in_teams(
        Nudge.objects.active().filter(rule_id=s.rule.id), "subject_user__managed_team__id"
    ).exclude(subject_user_id__in=found)
    stale.update(state=NudgeState.DONE, acted_at=s.now, resolved_by="cleared")


@scan("director_answers_waiting")
def director_answers_waiting(s: ScanInput) -> list[NudgeSpec]:
    """A manager with reports or plan decisions waiting past the team's threshold, for the +2:
    the count, the oldest (days) and the biggest lead waiting."""
    reports = s.in_teams(Report.objects.order_by(), "team_id")
    groups: dict[int, dict[str, Any]] = {}
    directors: dict[int, int] = {}
    for r in rules.waiting_for_manager(reports, **s.clock):
        manager_id = r["team__manager_id"]
        directors[manager_id] = r["team__director_id"]
        groups[manager_id] = {
            "count": r["count"],
            "days": (s.now - r["oldest"]).days,
            "value": _amount(r["biggest"]),
            "team_id": r["team_id"],
        }
    return _per_manager(s, groups, directors)


@scan("director_big_deal_stalled")
def director_big_deal_stalled(s: ScanInput) -> list[NudgeSpec]:
    """Big deals stalled in a manager's team, for the +2: the count and the biggest."""
    groups: dict[int, dict[str, Any]] = {}
    directors: dict[int, int] = {}
    biggest: dict[int, tuple[Any, float, int]] = {}
    for r in rules.big_deals_stalled(s.leads, **s.clock):
        manager_id = r["team__manager_id"]
        if manager_id is None:
            continue
        directors[manager_id] = r["team__director_id"]
        group = groups.setdefault(manager_id, {"count": 0, "team_id": r["team_id"]})
        group["count"] += 1
        # The biggest; of equal values the one idle longest, then the first made: the rows
        # come in no fixed order (the first seen won a tie before, so SQLite and PostgreSQL
        # named different leads).
        rank = (r["value"], -r["idle_since"].timestamp(), -r["pk"])
        if manager_id not in biggest or rank > biggest[manager_id]:
            biggest[manager_id] = rank
            group |= {
                "company": r["company"],
                "value": _amount(r["value"], r["currency"]),
                "days": (s.now - r["idle_since"]).days,
            }
    return _per_manager(s, groups, directors)


@scan("director_silent_reps")
def director_silent_reps(s: ScanInput) -> list[NudgeSpec]:
    """Reps who have gone silent in a manager's team, for the +2: the count and the longest."""
    groups: dict[int, dict[str, Any]] = {}
    directors: dict[int, int] = {}
    for r in rules.silent_reps(s.reps, **s.clock):
        manager_id = r["team__manager_id"]
        directors[manager_id] = r["team__director_id"]
        days = (s.now - r["reference"]).days
        group = groups.setdefault(manager_id, {"count": 0, "days": -1, "team_id": r["team_id"]})
        group["count"] += 1
        if days > group["days"]:
            group |= {"days": days, "rep": _person(r)}
    return _per_manager(s, groups, directors)


# --- Running them ------------------------------------------------------------------------------


# Scans that judge every team in one statement, each team with its thresholds (a CASE on the
# team), instead of one statement per group of teams sharing them: each statement reads all
# the open leads, so a team's own thresholds would otherwise cost a second read of them.
FOLDED = {"report_due", "stalled"}


def _inputs(
    rule: playbook.Rule,
    *,
    now: dt.datetime,
    today: dt.date,
    settings: list[RuleSetting] | None = None,
    batches: list[rules.Batch] | None = None,
) -> list[ScanInput]:
    """One input per group of teams sharing the rule's thresholds; one in all for a FOLDED
    scan, leaving out only the teams that switched the rule off. `settings`: the rule's team
    settings, when read already (run_scans reads every rule's in one query); `batches`: the
    FOLDED rules' large recent hand-offs, when read already (rules.recent_batches, counted
    for every team that has a setting of one of them)."""
    groups = threshold_groups(rule, settings)
    if rule.scan in FOLDED and len(groups) > 1:
        _everyone, special, t = groups[0]
        team_t = {team_ids[0]: own for team_ids, _exclude, own in groups[1:] if team_ids}
        off = [team for team in special if team not in team_t]
        groups = [(None, off, t)]
    else:
        team_t = None
    if rule.scan not in FOLDED:
        batches = None
    return [
        ScanInput(
            rule=rule,
            t=t,
            leads=rules.open_owned_leads(team_ids, exclude),
            reps=rules.active_reps(team_ids, exclude),
            now=now,
            today=today,
            team_ids=team_ids,
            exclude=exclude,
            team_t=team_t,
            batches=batches,
            left_out=exclude if batches is not None else None,
        )
        for team_ids, exclude, t in groups
    ]


def run_scans(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Apply every scan rule to all leads, reps and reports with set-based queries, and make
    the nudges they call for. Returns how many new nudges each rule made."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    wake_snoozed(now=now)
    specs: list[NudgeSpec] = []
    made: dict[str, int] = {}
    settings: dict[str, list[RuleSetting]] = defaultdict(list)
    for setting in RuleSetting.objects.all():  # every rule's team settings, one query
        settings[setting.rule_id].append(setting)
    # report_due and stalled both spread large hand-offs: one read of them for both, counted
    # for each team that has its own setting of either.
    folded = [rule.id for rule in playbook.rules().values() if rule.scan in FOLDED]
    named = {setting.team_id for rule_id in folded for setting in settings.get(rule_id, [])}
    batches = rules.recent_batches(rules.open_owned_leads(None, []), now, named) if folded else None
    for rule in playbook.rules().values():
        if not rule.scan:
            continue
        made[rule.id] = 0
        inputs = _inputs(
            rule, now=now, today=today, settings=settings.get(rule.id, []), batches=batches
        )
        for found in inputs:
            specs.extend(SCANS[rule.scan](found))
    # One batch, so the daily push budget goes to the most important nudges across all rules.
    for rule_id, count in create_nudges_counted(specs, now=now).items():
        made[rule_id] += count
    return made
