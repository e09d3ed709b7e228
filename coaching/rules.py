"""The coach's judgement, kept apart from the machinery that applies it.

Event rules are pure functions: the facts of one event in, nudge specs out. Scan rules are
queryset builders: one set-based query over all leads (or reps, or reports) that returns the
rows needing a nudge, so a scan's number of queries never depends on the number of leads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import (
    Case,
    CharField,
    Count,
    DateField,
    DateTimeField,
    Exists,
    F,
    Func,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, Greatest, Mod

from crm.models import (
    ContactRole,
    Lead,
    LeadContact,
    Outcome,
    Report,
    ReportKind,
    ReportState,
    Role,
    Team,
    User,
)
from crm.pipeline import OPEN_STAGES, Stage

# A scan's result: plain rows (dicts) of just the columns the nudge needs.
Rows = QuerySet[Any, Any]
# crm.reporting's weakness code for an ask that hands the work back to the manager.
HANDS_WORK_BACK = "hands_work_back"


@dataclass(frozen=True)
class NudgeSpec:
    """What the coach wants to say, to whom, about what; the key makes it idempotent."""

    rule_id: str
    recipient_id: int
    period: str = "once"
    lead_id: int | None = None
    report_id: int | None = None
    subject_user_id: int | None = None
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        if self.lead_id:
            subject = f"lead:{self.lead_id}"
        elif self.report_id:
            subject = f"report:{self.report_id}"
        elif self.subject_user_id:
            subject = f"user:{self.subject_user_id}"
        else:
            subject = "-"
        return f"{self.rule_id}|{subject}|{self.recipient_id}|{self.period}"


# --- Event rules: pure -------------------------------------------------------------------------


def add_working_days(start: dt.date, days: int) -> dt.date:
    """The date `days` working days (Monday to Friday) after `start`."""
    day = start
    left = max(days, 0)
    while left:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return day


def due_context(start: dt.date, working_days: int) -> dict[str, Any]:
    """A due date N working days on, for a nudge's context: shown (`date`) and comparable in
    SQL (`due`, the date's ordinal)."""
    due = add_working_days(start, working_days)
    return {"date": due.isoformat(), "due": due.toordinal()}


NOTE_CHARS = 140


def on_lead_handed_down(
    *,
    lead_id: int,
    company: str,
    to_user_id: int | None,
    event_id: int,
    chicken_rib: bool,
    note: str = "",
    handed_on: dt.date | None = None,
    working_days: int = 2,
) -> list[NudgeSpec]:
    """A lead handed to a rep: acknowledge and send a first plan by a date N working days on
    (the team's threshold), with the manager's note; a chicken-rib lead is a test."""
    if to_user_id is None:
        return []
    note = " ".join(note.split())
    if len(note) > NOTE_CHARS:
        note = note[: NOTE_CHARS - 1] + "…"
    context: dict[str, Any] = {"company": company, "chicken_rib": chicken_rib, "note": note}
    if handed_on is not None:
        context |= due_context(handed_on, working_days)
    return [
        NudgeSpec(
            "handoff_first_plan",
            to_user_id,
            period=f"e{event_id}",
            lead_id=lead_id,
            context=context,
        )
    ]


def on_chicken_rib_flagged(
    *,
    lead_id: int,
    company: str,
    owner_id: int | None,
    event_id: int,
    flagged_on: dt.date,
    working_days: int,
) -> list[NudgeSpec]:
    """A lead just flagged chicken-rib: its owner is asked for a plan within N working days."""
    if owner_id is None:
        return []
    return [
        NudgeSpec(
            "chicken_rib_plan",
            owner_id,
            period=f"e{event_id}",
            lead_id=lead_id,
            context={"company": company, "chicken_rib": True}
            | due_context(flagged_on, working_days),
        )
    ]


def answer_code(event_name: str, payload: dict[str, Any]) -> str:
    """What the manager's answer was, as the key of report_answered's text variants."""
    if event_name == "report_acknowledged":
        return "acknowledged"
    if event_name == "report_replied":
        return "replied"
    if event_name == "ask_answered":
        return f"ask_{payload.get('state', '')}"
    return str(payload.get("decision", "decided"))


def on_report_answered(
    *,
    event_id: int,
    report_id: int,
    author_id: int | None,
    actor_id: int | None,
    manager: str,
    company: str,
    answer: str,
    until: str | None = None,
) -> list[NudgeSpec]:
    """The manager (or a +2) answered a report: the author hears it at once, one update per
    answer, until they open the report."""
    if author_id is None or actor_id == author_id:
        return []
    context: dict[str, Any] = {"manager": manager, "company": company, "answer": answer}
    if until:
        context["until"] = until
    return [
        NudgeSpec(
            "report_answered",
            author_id,
            period=f"e{event_id}",
            report_id=report_id,
            context=context,
        )
    ]


def on_handed_lead_closed(
    *,
    lead_id: int,
    company: str,
    owner_id: int | None,
    owner_name: str,
    handed_by_id: int | None,
    outcome: str,
) -> list[NudgeSpec]:
    """A lead a manager handed down was won or lost: the manager hears how it ended."""
    if handed_by_id is None or owner_id is None or handed_by_id == owner_id:
        return []
    return [
        NudgeSpec(
            "handed_lead_closed",
            handed_by_id,
            period=outcome,
            lead_id=lead_id,
            context={"company": company, "rep": owner_name, "outcome": outcome},
        )
    ]


def on_first_plan(
    *,
    report_id: int,
    company: str,
    author_id: int,
    author_name: str,
    handed_by_id: int | None,
    first_plan: bool,
) -> list[NudgeSpec]:
    """The first plan on a lead a manager handed down reaches that manager."""
    if not first_plan or handed_by_id is None or handed_by_id == author_id:
        return []
    return [
        NudgeSpec(
            "handed_lead_first_plan",
            handed_by_id,
            report_id=report_id,
            context={"company": company, "rep": author_name},
        )
    ]


def on_activity_logged(
    *, lead_id: int, company: str, owner_id: int | None, activity_id: int, outcome: str
) -> list[NudgeSpec]:
    """Unreachable or refused: don't bounce it back; go and find out why, then plan."""
    if owner_id is None or outcome not in (Outcome.UNREACHABLE, Outcome.REFUSED):
        return []
    return [
        NudgeSpec(
            "bounce_back",
            owner_id,
            period=f"a{activity_id}",
            lead_id=lead_id,
            context={"company": company, "activity_id": activity_id},
        )
    ]


def on_lead_won(
    *, lead_id: int, company: str, owner_id: int | None, handed_by_id: int | None
) -> list[NudgeSpec]:
    """After a win, thank and credit the manager who handed the lead down."""
    if owner_id is None or handed_by_id is None or handed_by_id == owner_id:
        return []
    return [
        NudgeSpec(
            "lead_won_thanks",
            owner_id,
            lead_id=lead_id,
            context={"company": company, "manager_id": handed_by_id},
        )
    ]


def on_lead_lost(*, lead_id: int, company: str, owner_id: int | None) -> list[NudgeSpec]:
    """A lost lead deserves an honest, timely loss review."""
    if owner_id is None:
        return []
    return [NudgeSpec("loss_review", owner_id, lead_id=lead_id, context={"company": company})]


def on_report_submitted(
    *,
    report_id: int,
    kind: str,
    lead_id: int | None,
    company: str,
    author_name: str,
    manager_id: int | None,
) -> list[NudgeSpec]:
    """An escalation plan waits for the manager's decision."""
    if kind != ReportKind.ESCALATION or manager_id is None or lead_id is None:
        return []
    return [
        NudgeSpec(
            "plan_decision_due",
            manager_id,
            report_id=report_id,
            context={"company": company, "rep": author_name},
        )
    ]


# --- Scan rules: queryset builders --------------------------------------------------------------


class Unindexed(Func):
    """A column as SQLite's planner may not search or group by it through an index
    (`+column`, SQLite's documented way to keep a term off the indexes); the column itself
    on other databases."""

    template = "%(expressions)s"

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="+%(expressions)s")


def open_owned_leads(team_ids: list[int] | None, exclude_team_ids: list[int]) -> QuerySet[Lead]:
    """The open leads with an active owner, in the given teams or all but the excluded.

    Most scans keep two thirds of the leads (68k of 100k on the bench data): on SQLite a
    search by stage (lead_stage_activity) or by owner (lead_owner_due, from a join on the
    owner) then fetches each row by its id, 2-3× slower than reading the table through, so
    both conditions are written to keep SQLite off those indexes: the stage as +stage, the
    active owner as +owner_id IN (the active users) rather than a join. A scan that wants
    few leads names its own searchable conditions (_big_deals). PostgreSQL gets the plain
    columns (and hashes the active users as it hashed the join)."""
    # No ORDER BY: the scans never need the model's default ordering, and it costs a sort.
    leads = (
        Lead.objects.alias(
            open_stage=Unindexed("stage", output_field=CharField()),
            owned_by=Unindexed("owner_id", output_field=IntegerField()),
        )
        .filter(
            open_stage__in=OPEN_STAGES,
            owned_by__in=User.objects.filter(is_active=True).order_by().values("pk"),
        )
        .order_by()
    )
    if team_ids is not None:
        leads = leads.filter(team_id__in=team_ids)
    if exclude_team_ids:
        leads = leads.exclude(team_id__in=exclude_team_ids)
    return leads


# New work doesn't arrive as a flood: the scans count from the latest of the last report (or
# activity), the hand-off and the lead's creation, so a lead just handed down or imported is not
# overdue on day one; and when more than BATCH_SIZE leads reach one person at once, their first
# finding is spread over SPREAD_DAYS working days (deterministic: lead id modulo the spread).
BATCH_SIZE = 10
SPREAD_DAYS = 5


def latest_of(first: Any, prefix: str = "") -> Greatest:
    """The latest of `first` (a field or expression, maybe empty), the hand-off and creation;
    `prefix` reaches the lead from a related model (e.g. "lead__" from a nudge)."""
    created = f"{prefix}created_at"
    return Greatest(
        Coalesce(first, created),
        Coalesce(f"{prefix}handed_at", created),
        F(created),
        output_field=DateTimeField(),
    )


# A large recent hand-off: one owner's leads handed down at one moment (one transaction), more
# than BATCH_SIZE of them; `n` all of them, `n_<team>` those in each of a few named teams.
Batch = dict[str, Any]


def recent_batches(leads: QuerySet[Lead], now: dt.datetime, teams: Collection[int]) -> list[Batch]:
    """The large recent hand-offs among `leads`, with how many of each one's leads are in each
    of `teams`: one small query, which the scan runs once for report_due and stalled, each
    then telling its own threshold groups' batches apart (_batch_offsets)."""
    recent = now - dt.timedelta(days=SPREAD_DAYS * 2 + 31)
    per_team = {f"n_{team}": Count("pk", filter=Q(team_id=team)) for team in sorted(teams)}
    rows: Any = (  # plain rows: the type checker knows no `n_<team>`
        leads.filter(handed_at__gte=recent)
        # Grouped by +owner_id: by the plain column SQLite walks lead_owner_due and fetches
        # every row; so it reads lead_team_cube through, which holds every column used here.
        .values("handed_at", by=Unindexed("owner_id", output_field=IntegerField()))
        .annotate(n=Count("pk"), **per_team)
        .filter(n__gt=BATCH_SIZE)
    )
    return list(rows)


def _batch_offsets(
    leads: QuerySet[Lead],
    now: dt.datetime,
    teams: Collection[int] = (),
    *,
    batches: list[Batch] | None = None,
    left_out: Collection[int] = (),
) -> dict[int | None, dict[tuple[int, ...], list[Any]]]:
    """Large recent hand-offs, grouped by their spread: for each list of calendar-day offsets
    (what 0..SPREAD_DAYS-1 working days after the hand-off come to, which depends only on the
    weekday), the hand-off moments that have it.

    A batch is told apart by its moment alone: one hand-off of many leads shares one timestamp
    (one transaction), so no owner is needed and the scan's CASE stays a handful of branches
    however many batches there are.

    Keyed by threshold group: each of `teams` (the teams with their own thresholds) counts its
    own batches, as its own query did before the groups were folded into one statement, and
    None holds the other teams'. `batches`: recent_batches over all open owned leads, when the
    scan has read them already (counted per team for `teams` and `left_out`, the teams that
    switched the rule off, which are not among `leads`); otherwise one query over `leads`."""
    if batches is None:
        batches, left_out = recent_batches(leads, now, teams), ()
    groups: dict[int | None, dict[tuple[int, ...], list[Any]]] = {}
    seen: set[tuple[int | None, Any]] = set()
    for batch in batches:
        handed_at = batch["handed_at"]
        if handed_at is None:
            continue
        counts: dict[int | None, int] = {team: batch[f"n_{team}"] for team in teams}
        counts[None] = batch["n"] - sum(batch[f"n_{team}"] for team in {*teams, *left_out})
        for team, n in counts.items():
            if n <= BATCH_SIZE or (team, handed_at) in seen:
                continue
            seen.add((team, handed_at))
            start = handed_at.date()
            pattern = tuple((add_working_days(start, d) - start).days for d in range(SPREAD_DAYS))
            groups.setdefault(team, {}).setdefault(pattern, []).append(handed_at)
    return groups


def _spread(
    leads: QuerySet[Lead],
    offsets: dict[int | None, dict[tuple[int, ...], list[Any]]],
    reference: str,
    teams: Collection[int] = (),
) -> tuple[QuerySet[Any, Any], set[int]]:
    """`leads` with `spread`: the days a lead's first finding waits because it came in a large
    batch of its threshold group (`offsets`, from _batch_offsets; 0 for the rest, and for a
    lead worked on since its hand-off); and the values used. `teams` are the teams with their
    own thresholds: their batches apply to them only, the others' (None) to the rest."""
    if not offsets:
        return leads.annotate(spread=Value(0, output_field=IntegerField())), {0}

    def in_group(team: int | None) -> Q:
        if team is not None:
            return Q(team_id=team)
        return ~Q(team_id__in=list(teams)) if teams else Q()

    whens = [
        When(
            in_group(team)
            & Q(handed_at__in=moments, spread_slot=slot)
            & Q(**{reference: F("handed_at")}),
            then=Value(days),
        )
        for team, patterns in offsets.items()
        for pattern, moments in patterns.items()
        for slot, days in enumerate(pattern)
        if days
    ]
    used = {0} | {days for patterns in offsets.values() for pattern in patterns for days in pattern}
    if not whens:
        return leads.annotate(spread=Value(0, output_field=IntegerField())), used
    annotated = leads.annotate(spread_slot=Mod("pk", Value(SPREAD_DAYS))).annotate(
        spread=Case(*whens, default=Value(0), output_field=IntegerField())
    )
    return annotated, used


def _groups(
    t: dict[str, int], team_t: Mapping[int, dict[str, int]] | None
) -> list[tuple[Q, dict[str, int]]]:
    """A folded scan's threshold groups, for CASE branches: each team with its own thresholds
    (its branches first, on its team id), then everyone else's (the rule's or the default
    group's thresholds) with no condition, as the CASE's later branches."""
    return [(Q(team_id=team), own) for team, own in (team_t or {}).items()] + [(Q(), t)]


def report_due(
    leads: QuerySet[Lead],
    *,
    now: dt.datetime,
    today: dt.date,
    t: dict[str, int],
    team_t: Mapping[int, dict[str, int]] | None = None,
    batches: list[Batch] | None = None,
    left_out: Collection[int] = (),
) -> Rows:
    """Open leads without a progress report for `days` (fewer when a deadline is near),
    counted from the latest of the last report, the hand-off and creation; a large batch's
    first finding spread over working days. `team_t`: teams with their own thresholds, judged
    in the same statement (a CASE on the team) rather than one read of the leads per group."""
    teams = list(team_t or {})
    offsets = _batch_offsets(leads, now, teams, batches=batches, left_out=left_out)
    leads, used = _spread(
        leads.annotate(reference=latest_of("last_reported_at")), offsets, "reference", teams
    )
    # Late: the reference before the lead's cut, which is the near-deadline one or the usual
    # one, moved back by the lead's spread. One CASE, so the reference is compared once per
    # lead rather than once per spread and branch. The last report is the lead's own column
    # (crm keeps it as reports are sent), not a look into each lead's reports.
    cuts: list[When] = []
    for team, g in _groups(t, team_t):
        window_end = today + dt.timedelta(days=g.get("deadline_window_days", 14))
        near = Q(tender_date__range=(today, window_end)) | Q(
            expected_close__range=(today, window_end)
        )
        cut_near = now - dt.timedelta(days=g.get("days_near_deadline", 3))
        cut = now - dt.timedelta(days=g.get("days", 7))
        cuts += [
            When(team & Q(spread=d) & near, then=Value(cut_near - dt.timedelta(days=d)))
            for d in sorted(used)
        ] + [When(team & Q(spread=d), then=Value(cut - dt.timedelta(days=d))) for d in sorted(used)]
    annotated: Any = leads  # annotated rows: the type checker knows no `reference`
    found = annotated.annotate(
        cut=Case(*cuts, default=Value(None), output_field=DateTimeField())
    ).filter(reference__lt=F("cut"))
    return found.values("pk", "owner_id", "company", "reference")


def stalled(
    leads: QuerySet[Lead],
    *,
    now: dt.datetime,
    today: dt.date,
    t: dict[str, int],
    team_t: Mapping[int, dict[str, int]] | None = None,
    batches: list[Batch] | None = None,
    left_out: Collection[int] = (),
) -> Rows:
    """Open leads idle past their stage's threshold (a chicken-rib lead sooner), unless a
    next step is planned for today or later. Idle counts from the latest of the last
    activity, the hand-off and creation; a large batch's first finding is spread out.
    `team_t`: teams with their own thresholds, judged in the same statement."""

    def before(n: int, extra: int) -> Value:
        return Value(now - dt.timedelta(days=n + extra))

    def idle_cut(extra: int) -> Case:
        branches: list[When] = []
        for team, g in _groups(t, team_t):
            days = g.get("days", 14)
            branches += [
                When(team & Q(stage=Stage.NEW), then=before(g.get("days_new", days), extra)),
                When(
                    team & Q(stage=Stage.NEGOTIATION),
                    then=before(g.get("days_negotiation", days), extra),
                ),
                When(team & Q(is_chicken_rib=True), then=before(g.get("days_new", days), extra)),
            ]
            if team:  # a team's own: its other leads; the rest fall to the CASE's default
                branches.append(When(team, then=before(days, extra)))
        return Case(
            *branches, default=before(t.get("days", 14), extra), output_field=DateTimeField()
        )

    teams = list(team_t or {})
    offsets = _batch_offsets(leads, now, teams, batches=batches, left_out=left_out)
    leads, used = _spread(
        leads.annotate(idle_since=latest_of("last_activity_at")), offsets, "idle_since", teams
    )
    idle = Q()
    for d in sorted(used):
        idle |= Q(spread=d) & Q(idle_since__lt=idle_cut(d))
    found: Any = leads.filter(idle)  # annotated rows: the type checker knows no `idle_since`
    return found.exclude(next_step_due__gte=today).values(
        "pk", "owner_id", "company", "idle_since", "is_chicken_rib"
    )


def deadline_near(
    leads: QuerySet[Lead], *, now: dt.datetime, today: dt.date, t: dict[str, int]
) -> Rows:
    """Open leads whose tender or expected close falls within `days`, unless the owner has
    reported on the lead within those last `days` (the coach reads before it speaks)."""
    days = t.get("days", 7)
    end = today + dt.timedelta(days=days)
    tender_near = Q(tender_date__range=(today, end))
    reported = Report.objects.filter(
        lead=OuterRef("pk"),
        author=OuterRef("owner_id"),
        state=ReportState.SUBMITTED,
        submitted_at__gte=now - dt.timedelta(days=days),
    )
    return (
        leads.filter(tender_near | Q(expected_close__range=(today, end)))
        .exclude(Exists(reported))
        .annotate(
            deadline=Case(
                When(tender_near, then=F("tender_date")),
                default=F("expected_close"),
                output_field=DateField(),
            )
        )
        .values("pk", "owner_id", "company", "deadline")
    )


def _big_deals(leads: QuerySet[Lead], value: int) -> QuerySet[Lead]:
    """`leads` worth at least `value`, written so that SQLite reads only those: each team's
    open stages walked from the top of lead_team_stage_value (team, stage, -value, -id), ~2k
    entries for the 2 % of leads that are big, where open_owned_leads' own conditions read
    the whole table. Every lead has a team (a required key), so the team list drops none."""
    return leads.filter(
        team_id__in=Team.objects.order_by().values("pk"),
        stage__in=OPEN_STAGES,
        value__gte=value,
    )


def big_deal(leads: QuerySet[Lead], *, now: dt.datetime, today: dt.date, t: dict[str, int]) -> Rows:
    """Open leads worth at least `value` with no report shared with the +2 yet."""
    shared = Report.objects.filter(
        lead=OuterRef("pk"), state=ReportState.SUBMITTED, share_with_director=True
    )
    return (
        _big_deals(leads, t.get("value", 1_000_000))
        .filter(team__director__isnull=False)
        .exclude(Exists(shared))
        .values("pk", "owner_id", "company")
    )


def no_decision_maker(
    leads: QuerySet[Lead], *, now: dt.datetime, today: dt.date, t: dict[str, int]
) -> Rows:
    """Open leads worth at least `value`, worked for `days` since they were handed down (or
    made), on which nobody is named as the decision maker (crm.models.LeadContact)."""
    decider = LeadContact.objects.filter(lead=OuterRef("pk"), role=ContactRole.DECISION_MAKER)
    since = now - dt.timedelta(days=t.get("days", 14))
    return (
        _big_deals(leads, t.get("value", 1_000_000))
        .filter(Q(handed_at__lt=since) | Q(handed_at__isnull=True, created_at__lt=since))
        .exclude(Exists(decider))
        .values("pk", "owner_id", "company")
    )


def active_reps(team_ids: list[int] | None, exclude_team_ids: list[int]) -> QuerySet[User]:
    reps = User.objects.filter(role=Role.REP, is_active=True, team__isnull=False).order_by()
    if team_ids is not None:
        reps = reps.filter(team_id__in=team_ids)
    if exclude_team_ids:
        reps = reps.exclude(team_id__in=exclude_team_ids)
    return reps


def low_contact(
    reps: QuerySet[User], *, now: dt.datetime, today: dt.date, t: dict[str, int]
) -> Rows:
    """Reps with no report or question to their manager for `days`."""
    return (
        reps.annotate(
            last_report=Max(
                "reports__submitted_at", filter=Q(reports__state=ReportState.SUBMITTED)
            ),
            reference=Coalesce("last_report", "date_joined"),
        )
        .filter(reference__lt=now - dt.timedelta(days=t.get("days", 10)))
        .values("pk", "team__manager_id", "reference", "last_report")
    )


def only_help(
    reps: QuerySet[User], *, now: dt.datetime, today: dt.date, t: dict[str, int]
) -> list[dict[str, int]]:
    """Reps whose last `last` messages to the manager were all asks for help or problems,
    never a plan: {"pk": the rep, "latest": their newest report}. Reps with fewer reports have
    none. Each rep's last `last` submitted reports are read through report_author (author,
    state, newest first) and stop there: a LATERAL per rep on PostgreSQL, a list per rep on
    SQLite (its correlated IN); the whole table's submitted reports numbered in one window cost
    a scan of crm_report whatever the number of reps."""
    last_n = max(t.get("last", 3), 1)
    # A plan that hands the work back ("can you call them?") is an ask for help, not a plan.
    planned = (
        ~Q(next_step="")
        & ~Q(kind=ReportKind.QUESTION)
        & ~Q(quality_issues__icontains=f'"{HANDS_WORK_BACK}"')
    )
    newest_first = ["-submitted_at", "-id"]
    # Each rep's last `last_n` ids, the rep being "rep"."pk" of the query around it.
    last_ids = (
        Report.objects.filter(author_id=RawSQL('"rep"."pk"', []), state=ReportState.SUBMITTED)
        .order_by(*newest_first)
        .values("id")[:last_n]
    )
    ids_sql, ids_params = last_ids.query.sql_with_params()
    reps_sql, reps_params = reps.order_by().values("pk").query.sql_with_params()
    if connection.vendor == "postgresql":
        mine = f'SELECT "last"."id" FROM ({reps_sql}) "rep" CROSS JOIN LATERAL ({ids_sql}) "last"'
    else:
        mine = (
            f'SELECT "last"."id" FROM ({reps_sql}) "rep"'
            f' JOIN crm_report "last" ON "last"."id" IN ({ids_sql})'
        )
    rows = (
        Report.objects.filter(id__in=RawSQL(mine, (*reps_params, *ids_params)))
        .order_by("author_id", *newest_first)
        .values_list("author_id", "id", Case(When(planned, then=1), default=0))
    )
    found: dict[int, list[int]] = {}  # rep -> [latest, reports read, plans]
    for author, report, plan in rows:
        if author in found:
            found[author][1] += 1
            found[author][2] += plan
        else:
            found[author] = [report, 1, plan]
    return [
        {"pk": author, "latest": latest}
        for author, (latest, count, plans) in found.items()
        if count == last_n and not plans
    ]


def unacknowledged(
    reports: QuerySet[Report], *, now: dt.datetime, today: dt.date, t: dict[str, int]
) -> Rows:
    """Submitted reports the manager has not acknowledged for `days`."""
    return reports.filter(
        state=ReportState.SUBMITTED,
        acknowledged_at__isnull=True,
        submitted_at__lt=now - dt.timedelta(days=t.get("days", 3)),
    ).values("pk", "team__manager_id", "author__display_name", "author__username", "submitted_at")


def reliable_rep(
    reps: QuerySet[User], *, now: dt.datetime, today: dt.date, t: dict[str, int]
) -> Rows:
    """Reps who report on time on chicken-rib leads: candidates for a better lead.

    Each rep's two counts are subqueries on their recent sent reports (the report_author
    index), each report's lead looked up by its key: a Count over the reps' reports joined
    every report and every lead before filtering (on PostgreSQL, 100 ms of the scan at 100k
    leads). A rep without such reports counts 0, as the outer join's Count did."""
    since = now - dt.timedelta(days=t.get("days", 30))
    on_rib = Report.objects.filter(
        author=OuterRef("pk"),
        state=ReportState.SUBMITTED,
        submitted_at__gte=since,
        lead__is_chicken_rib=True,
    ).order_by()

    def count(reports: QuerySet[Report]) -> Coalesce:
        counted = reports.values("author").annotate(n=Count("pk")).values("n")
        return Coalesce(Subquery(counted, output_field=IntegerField()), 0)

    share = t.get("on_time_share_percent", 80)
    return (
        reps.annotate(rib_reports=count(on_rib), rib_on_time=count(on_rib.filter(on_time=True)))
        .filter(rib_reports__gte=t.get("min_reports", 3))
        .filter(rib_on_time__gte=F("rib_reports") * share / 100.0)
        .values("pk", "team__manager_id", "display_name", "username", "rib_on_time")
    )


def year_end_due(*, today: dt.date, t: dict[str, int]) -> bool:
    """From the configured day (20 December by default) to the end of the year."""
    start = dt.date(today.year, t.get("month", 12), t.get("day", 20))
    return start <= today <= dt.date(today.year, 12, 31)


def uneven(counts: dict[int, int], *, t: dict[str, int]) -> list[tuple[int, int, float]]:
    """Reps whose open leads are far from the team median: (rep id, leads, median)."""
    values = sorted(counts.values())
    if not values:
        return []
    mid = len(values) // 2
    median = values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2
    if median < t.get("min_leads", 5):
        return []
    ratio = t.get("ratio_percent", 200) / 100
    return [
        (rep, n, median) for rep, n in counts.items() if n > median * ratio or n < median / ratio
    ]


# --- The +2's signals and the late first plan ---------------------------------------------------


def waiting_for_manager(
    reports: QuerySet[Report], *, now: dt.datetime, today: dt.date, t: dict[str, int]
) -> Rows:
    """Per team with a director: how many reports wait past `days` for the manager (not
    acknowledged, or an escalation plan with no decision), the oldest and the biggest lead."""
    plan_open = Q(kind=ReportKind.ESCALATION, lead__isnull=False, decision="")
    return (
        reports.filter(
            Q(acknowledged_at__isnull=True) | plan_open,
            state=ReportState.SUBMITTED,
            submitted_at__lt=now - dt.timedelta(days=t.get("days", 3)),
            team__manager__isnull=False,
            team__director__isnull=False,
        )
        .values("team_id", "team__manager_id", "team__director_id")
        .annotate(count=Count("pk"), oldest=Min("submitted_at"), biggest=Max("lead__value"))
        .order_by()
    )


def big_deals_stalled(
    leads: QuerySet[Lead], *, now: dt.datetime, today: dt.date, t: dict[str, int]
) -> Rows:
    """Open leads worth at least `value`, idle for `days` with no next step planned and not
    parked, in teams with a director: one row per lead (there are few)."""
    return (
        _big_deals(leads, t.get("value", 1_000_000))
        .filter(team__director__isnull=False)
        .annotate(idle_since=Coalesce("last_activity_at", "handed_at", "created_at"))
        .filter(idle_since__lt=now - dt.timedelta(days=t.get("days", 14)))
        .exclude(next_step_due__gte=today)
        .exclude(parked_until__gte=today)
        .values(
            "pk",
            "company",
            "value",
            "currency",
            "idle_since",
            "team_id",
            "team__manager_id",
            "team__director_id",
        )
    )


def silent_reps(
    reps: QuerySet[User], *, now: dt.datetime, today: dt.date, t: dict[str, int]
) -> Rows:
    """Reps in teams with a director who sent no report for `days`: one row per rep."""
    return (
        reps.filter(team__director__isnull=False, team__manager__isnull=False)
        .annotate(
            last_report=Max(
                "reports__submitted_at", filter=Q(reports__state=ReportState.SUBMITTED)
            ),
            reference=Coalesce("last_report", "date_joined"),
        )
        .filter(reference__lt=now - dt.timedelta(days=t.get("days", 14)))
        .values(
            "pk",
            "display_name",
            "username",
            "reference",
            "team_id",
            "team__manager_id",
            "team__director_id",
        )
    )
