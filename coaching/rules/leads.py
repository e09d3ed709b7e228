"""The lead rules: queryset builders over the open owned leads, one set-based query each."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from typing import Any

from django.db.models import (
    Case,
    CharField,
    DateField,
    DateTimeField,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from coaching.rules.batches import Batch, _batch_offsets, _spread, latest_of
from coaching.rules.queries import Rows, Unindexed
from crm.models import ContactRole, Lead, LeadContact, Report, ReportState, Team, User
from crm.pipeline import OPEN_STAGES, Stage


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
        # Kept off SQLite's indexes: it would answer the OR by two searches of every open
        # lead's stage (lead_stage_activity) instead of the big deals by team (crm 0030's
        # indexes tipped its choice).
        .alias(
            handed=Unindexed("handed_at", output_field=DateTimeField()),
            made=Unindexed("created_at", output_field=DateTimeField()),
        )
        .filter(Q(handed__lt=since) | Q(handed__isnull=True, made__lt=since))
        .exclude(Exists(decider))
        .values("pk", "owner_id", "company")
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
