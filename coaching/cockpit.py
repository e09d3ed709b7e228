"""The manager's cockpit: the team's pipeline, its stalled leads, one row of figures per rep
(or per team for the +2), the manager's own debt, and the hand-off suggestion.

Every figure is a SQL aggregate grouped by rep or by team, so the number of queries depends on
neither the number of leads nor the number of reps. Python only arranges the handful of
aggregate rows (reps × currencies, teams × stages) into rows for the page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import (
    Avg,
    Count,
    DateTimeField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from coaching.models import Thanks, ThanksKind
from crm.models import (
    AskState,
    Lead,
    LeadEvent,
    LeadEventKind,
    Report,
    ReportKind,
    ReportState,
    Role,
    Team,
    User,
)
from crm.permissions import hand_off_targets
from crm.pipeline import OPEN_STAGES, Stage
from crm.selectors import stalled_q, with_idle_since

# The period filter is allow-listed: the query string picks one of these, nothing else.
PERIODS: tuple[int, ...] = (7, 30, 90)
DEFAULT_PERIOD = 30
# "Change since last week" compares today's pipeline with the one this many days ago.
CHANGE_DAYS = 7
# The hand-off suggestion judges reliability over this many days.
SUGGESTION_DAYS = 30
STALLED_LIMIT = 25
DEBT_LIMIT = 10
# The pipeline funnel: the open stages in order, then the wins.
FUNNEL_STAGES: tuple[str, ...] = (*OPEN_STAGES, Stage.WON)
HANDED = (LeadEventKind.HANDED_DOWN, LeadEventKind.REASSIGNED)


def period_from(raw: object) -> int:
    """The period asked for in the query string, if it is one we offer; the default otherwise."""
    text = str(raw or "")
    return int(text) if text.isdigit() and int(text) in PERIODS else DEFAULT_PERIOD


def _share(part: int, whole: int) -> int | None:
    """A whole percentage, or None when there is nothing to divide."""
    return round(100 * part / whole) if whole else None


def _days(now: dt.datetime, then: dt.datetime | None) -> int | None:
    return (now - then).days if then is not None else None


def _age(now: dt.datetime, column: str) -> ExpressionWrapper:
    """How long ago `column` was, computed by the database."""
    return ExpressionWrapper(
        Value(now, output_field=DateTimeField()) - F(column), output_field=DurationField()
    )


# --- The figures: one row per rep or per team ---------------------------------------------------


@dataclass
class Figures:
    """The cockpit's numbers for one rep (key = user id) or one team (key = team id)."""

    key: int
    name: str
    open_leads: int = 0
    open_values: list[tuple[str, Decimal]] = field(default_factory=list)
    rib_open: int = 0
    stalled: int = 0
    oldest_stalled_id: int | None = None
    oldest_stalled_company: str = ""
    last_report_at: dt.datetime | None = None
    days_since_report: int | None = None
    reports: int = 0
    on_time: int = 0
    quality: float | None = None
    handed_won: int = 0
    handed_lost: int = 0
    wins_thanked: int = 0
    open_asks: int = 0
    oldest_ask_days: int | None = None
    unacknowledged: int = 0
    handed_out: int = 0
    handed_out_rib: int = 0
    reps: int = 0
    manager: str = ""

    @property
    def rib_share(self) -> int | None:
        """Chicken-rib leads among the open leads, in percent."""
        return _share(self.rib_open, self.open_leads)

    @property
    def on_time_share(self) -> int | None:
        return _share(self.on_time, self.reports)

    @property
    def conversion(self) -> int | None:
        """Won / (won + lost) of the leads handed down that closed in the period, in percent."""
        return _share(self.handed_won, self.handed_won + self.handed_lost)

    @property
    def thanks_share(self) -> int | None:
        """Wins (of handed-down leads) followed by a thank-you note, in percent."""
        return _share(self.wins_thanked, self.handed_won)

    @property
    def handed_out_rib_share(self) -> int | None:
        """Chicken-rib leads among the leads handed to them in the period, in percent."""
        return _share(self.handed_out_rib, self.handed_out)


def _lead_figures(
    leads: QuerySet[Lead], key: str, *, since: dt.datetime, now: dt.datetime
) -> dict[int, dict[str, Any]]:
    """Lead counts grouped by `key` ("owner" or "team")."""
    thanked = Exists(
        Thanks.objects.filter(lead=OuterRef("pk"), kind=ThanksKind.WIN, author=OuterRef("owner"))
    )
    closed = Q(handed_by__isnull=False, closed_at__gte=since)
    rows = (
        leads.order_by()
        .values(key)
        .annotate(
            open_leads=Count("pk", filter=Q(stage__in=OPEN_STAGES)),
            rib_open=Count("pk", filter=Q(stage__in=OPEN_STAGES, is_chicken_rib=True)),
            stalled=Count("pk", filter=stalled_q(now)),
            handed_won=Count("pk", filter=closed & Q(stage=Stage.WON)),
            handed_lost=Count("pk", filter=closed & Q(stage=Stage.LOST)),
            wins_thanked=Count("pk", filter=closed & Q(stage=Stage.WON) & Q(thanked)),
        )
    )
    return {row.pop(key): row for row in rows}


def _open_values(leads: QuerySet[Lead], key: str) -> dict[int, list[tuple[str, Decimal]]]:
    """The open leads' value per currency, grouped by `key`."""
    rows = (
        leads.filter(stage__in=OPEN_STAGES)
        .order_by()
        .values(key, "currency")
        .annotate(total=Sum("value"))
        .order_by(key, "currency")
    )
    out: dict[int, list[tuple[str, Decimal]]] = {}
    for row in rows:
        out.setdefault(row[key], []).append((row["currency"], row["total"]))
    return out


def _report_figures(
    reports: QuerySet[Report], key: str, *, since: dt.datetime
) -> dict[int, dict[str, Any]]:
    """Report figures grouped by `key` ("author" or "team")."""
    recent = Q(submitted_at__gte=since)
    open_ask = Q(ask_state=AskState.OPEN)
    rows = (
        reports.filter(state=ReportState.SUBMITTED)
        .order_by()
        .values(key)
        .annotate(
            last_report_at=Max("submitted_at"),
            reports=Count("pk", filter=recent),
            on_time=Count("pk", filter=recent & Q(on_time=True)),
            quality=Avg("quality_score", filter=recent),
            open_asks=Count("pk", filter=open_ask),
            oldest_ask_at=Min("submitted_at", filter=open_ask),
            unacknowledged=Count("pk", filter=Q(acknowledged_at__isnull=True)),
        )
    )
    return {row.pop(key): row for row in rows}


def _handed_out(events: QuerySet[LeadEvent], key: str) -> dict[int, dict[str, int]]:
    """Leads handed down (or reassigned) in the events, and how many were chicken-rib."""
    rows = (
        events.filter(kind__in=HANDED)
        .order_by()
        .values(key)
        .annotate(
            handed_out=Count("lead", distinct=True),
            handed_out_rib=Count("lead", filter=Q(lead__is_chicken_rib=True), distinct=True),
        )
    )
    return {row.pop(key): row for row in rows}


def _oldest_stalled(outer: str, now: dt.datetime, column: str) -> Subquery:
    """The open lead idle the longest among the stalled ones of the outer rep or team."""
    leads = (
        with_idle_since(Lead.objects.filter(**{outer: OuterRef("pk")}))
        .filter(stalled_q(now))
        .order_by(F("idle_since").asc(), "pk")
        .values(column)[:1]
    )
    return Subquery(leads)


def _fill(
    row: Figures,
    *,
    now: dt.datetime,
    leads: dict[str, Any] | None,
    values: list[tuple[str, Decimal]] | None,
    reports: dict[str, Any] | None,
    handed: dict[str, int] | None,
) -> Figures:
    for source in (leads, reports, handed):
        for name, value in (source or {}).items():
            if hasattr(row, name):
                setattr(row, name, value)
    if reports:
        row.quality = float(reports["quality"]) if reports["quality"] is not None else None
        row.oldest_ask_days = _days(now, reports["oldest_ask_at"])
    row.days_since_report = _days(now, row.last_report_at)
    row.open_values = values or []
    return row


def rep_rows(*, team: Team, days: int, now: dt.datetime | None = None) -> list[Figures]:
    """One row per active rep of the team: their open leads in this team, their reports to
    this team's manager, and how the leads handed down to them ended (in the last `days`)."""
    now = now or timezone.now()
    since = now - dt.timedelta(days=days)
    reps = list(
        User.objects.filter(role=Role.REP, team=team, is_active=True)
        .annotate(
            oldest_stalled_id=_oldest_stalled("owner", now, "pk"),
            oldest_stalled_company=_oldest_stalled("owner", now, "company"),
        )
        .order_by("display_name", "username", "pk")
    )
    ids = [rep.pk for rep in reps]
    leads = Lead.objects.filter(team=team, owner_id__in=ids)
    lead_rows = _lead_figures(leads, "owner", since=since, now=now)
    values = _open_values(leads, "owner")
    report_rows = _report_figures(
        Report.objects.filter(team=team, author_id__in=ids), "author", since=since
    )
    handed = _handed_out(
        LeadEvent.objects.filter(lead__team=team, to_user_id__in=ids, created_at__gte=since),
        "to_user",
    )
    rows = []
    for rep in reps:
        row = Figures(
            key=rep.pk,
            name=str(rep),
            oldest_stalled_id=rep.oldest_stalled_id,  # type: ignore[attr-defined]
            oldest_stalled_company=rep.oldest_stalled_company or "",  # type: ignore[attr-defined]
        )
        rows.append(
            _fill(
                row,
                now=now,
                leads=lead_rows.get(rep.pk),
                values=values.get(rep.pk),
                reports=report_rows.get(rep.pk),
                handed=handed.get(rep.pk),
            )
        )
    return rows


def team_rows(*, teams: QuerySet[Team], days: int, now: dt.datetime | None = None) -> list[Figures]:
    """One row per team: the same figures as the rep rows, for the whole team (its pool of
    unassigned leads included), plus how many reports its manager has not acknowledged."""
    now = now or timezone.now()
    since = now - dt.timedelta(days=days)
    listed = list(
        teams.select_related("manager")
        .annotate(
            n_reps=Count(
                "members", filter=Q(members__role=Role.REP, members__is_active=True), distinct=True
            ),
            oldest_stalled_id=_oldest_stalled("team", now, "pk"),
            oldest_stalled_company=_oldest_stalled("team", now, "company"),
        )
        .order_by("name", "pk")
    )
    ids = [team.pk for team in listed]
    leads = Lead.objects.filter(team_id__in=ids)
    lead_rows = _lead_figures(leads, "team", since=since, now=now)
    values = _open_values(leads, "team")
    report_rows = _report_figures(Report.objects.filter(team_id__in=ids), "team", since=since)
    handed = _handed_out(
        LeadEvent.objects.filter(lead__team_id__in=ids, created_at__gte=since), "lead__team"
    )
    rows = []
    for team in listed:
        row = Figures(
            key=team.pk,
            name=team.name,
            reps=team.n_reps,  # type: ignore[attr-defined]
            manager=str(team.manager),
            oldest_stalled_id=team.oldest_stalled_id,  # type: ignore[attr-defined]
            oldest_stalled_company=team.oldest_stalled_company or "",  # type: ignore[attr-defined]
        )
        rows.append(
            _fill(
                row,
                now=now,
                leads=lead_rows.get(team.pk),
                values=values.get(team.pk),
                reports=report_rows.get(team.pk),
                handed=handed.get(team.pk),
            )
        )
    return rows


# --- The pipeline -------------------------------------------------------------------------------


@dataclass
class StageRow:
    stage: str
    label: str
    count: int = 0
    totals: list[tuple[str, Decimal]] = field(default_factory=list)
    count_before: int = 0

    @property
    def change(self) -> int:
        return self.count - self.count_before

    @property
    def change_text(self) -> str:
        """The change signed for reading: +3, −2 (a true minus sign), 0."""
        if self.change > 0:
            return f"+{self.change}"
        return f"−{-self.change}" if self.change < 0 else "0"


def _stage_then(cutoff: dt.datetime) -> Coalesce:
    """The stage a lead was in at `cutoff`, rebuilt from its stage history: the last move
    before the cutoff, else where the first later move started from, else its stage today."""
    moves = LeadEvent.objects.filter(lead=OuterRef("pk"), kind=LeadEventKind.STAGE_CHANGED)
    before = moves.filter(created_at__lte=cutoff).order_by("-created_at", "-pk")
    after = moves.filter(created_at__gt=cutoff).order_by("created_at", "pk")
    return Coalesce(
        Subquery(before.values("to_stage")[:1]),
        Subquery(after.values("from_stage")[:1]),
        F("stage"),
    )


def pipelines(
    *, leads: QuerySet[Lead], key: str, now: dt.datetime | None = None
) -> dict[int, list[StageRow]]:
    """Per `key` (a team id): each stage's count and value per currency today, and its count
    `CHANGE_DAYS` ago (leads created since then did not exist then)."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=CHANGE_DAYS)
    out: dict[int, dict[str, StageRow]] = {}

    def row(group: int, stage: str) -> StageRow:
        stages = out.setdefault(
            group, {value: StageRow(value, str(label)) for value, label in Stage.choices}
        )
        return stages[stage]

    today = (
        leads.order_by()
        .values(key, "stage", "currency")
        .annotate(n=Count("pk"), total=Sum("value"))
        .order_by(key, "stage", "currency")
    )
    for item in today:
        stage_row = row(item[key], item["stage"])
        stage_row.count += item["n"]
        stage_row.totals.append((item["currency"], item["total"]))
    earlier = (
        leads.filter(created_at__lte=cutoff)
        .annotate(stage_then=_stage_then(cutoff))
        .order_by()
        .values(key, "stage_then")
        .annotate(n=Count("pk"))
    )
    for item in earlier:
        row(item[key], item["stage_then"]).count_before += item["n"]
    return {group: list(stages.values()) for group, stages in out.items()}


def empty_pipeline() -> list[StageRow]:
    return [StageRow(value, str(label)) for value, label in Stage.choices]


def combined_pipeline(pipes: Iterable[list[StageRow]]) -> list[StageRow]:
    """Several teams' pipelines added up, stage by stage (currencies kept apart)."""
    total = {row.stage: row for row in empty_pipeline()}
    sums: dict[str, dict[str, Decimal]] = {}
    for pipe in pipes:
        for row in pipe:
            into = total[row.stage]
            into.count += row.count
            into.count_before += row.count_before
            for currency, value in row.totals:
                by_currency = sums.setdefault(row.stage, {})
                by_currency[currency] = by_currency.get(currency, Decimal(0)) + value
    for stage, by_currency in sums.items():
        total[stage].totals = sorted(by_currency.items())
    return list(total.values())


# --- Stalled leads and the manager's own debt ---------------------------------------------------


def stalled_leads(
    *, team: Team, now: dt.datetime | None = None, limit: int = STALLED_LIMIT
) -> list[Lead]:
    """The team's stalled leads, idle the longest first, each with its days idle and the
    escalation plan still waiting for a decision, if any."""
    now = now or timezone.now()
    plans = Report.objects.filter(
        lead=OuterRef("pk"), kind=ReportKind.ESCALATION, state=ReportState.SUBMITTED, decision=""
    ).order_by("-submitted_at", "-pk")
    return list(
        with_idle_since(Lead.objects.filter(team=team))
        .filter(stalled_q(now))
        .annotate(
            idle_for=_age(now, "idle_since"),
            open_plan_id=Subquery(plans.values("pk")[:1], output_field=IntegerField()),
            open_plan_at=Subquery(plans.values("submitted_at")[:1], output_field=DateTimeField()),
        )
        .select_related("owner")
        .order_by(F("idle_since").asc(), "pk")[:limit]
    )


def can_answer_for(user: User, team: Team) -> bool:
    """Who owes answers to this team's reports: its manager, or an admin."""
    return user.is_admin_role or (user.role == Role.MANAGER and team.manager_id == user.pk)


def my_debt(
    *, user: User, team: Team, now: dt.datetime | None = None, limit: int = DEBT_LIMIT
) -> dict[str, Any] | None:
    """What the viewer owes this team: reports not acknowledged and asks not answered, the
    oldest first. None for someone who does not answer this team's reports (a +2)."""
    if not can_answer_for(user, team):
        return None
    now = now or timezone.now()
    waiting = (
        Report.objects.filter(team=team, state=ReportState.SUBMITTED)
        .exclude(author=user)
        .select_related("author", "lead")
        .annotate(waited=_age(now, "submitted_at"))
        .order_by("submitted_at", "pk")
    )
    counts = waiting.aggregate(
        unacknowledged=Count("pk", filter=Q(acknowledged_at__isnull=True)),
        asks=Count("pk", filter=Q(ask_state=AskState.OPEN)),
    )
    return {
        "unacknowledged": list(waiting.filter(acknowledged_at__isnull=True)[:limit]),
        "asks": list(waiting.filter(ask_state=AskState.OPEN)[:limit]),
        "counts": counts,
    }


# --- The hand-off suggestion --------------------------------------------------------------------


@dataclass
class Suggestion:
    rep: User
    open_leads: int
    reports: int
    on_time: int
    quality: float | None
    rib_this_month: int
    score: float = 0.0
    reason: str = ""

    @property
    def reliability(self) -> float:
        """0 to 1: the mean of the on-time share and the average quality; 0 with no reports,
        since reliability is shown by reporting (I9)."""
        if not self.reports:
            return 0.0
        return (self.on_time / self.reports + (self.quality or 0) / 100) / 2


def _subquery_count(queryset: QuerySet[Any], group: str) -> Coalesce:
    counted = queryset.order_by().values(group).annotate(n=Count("lead", distinct=True))
    return Coalesce(Subquery(counted.values("n")[:1], output_field=IntegerField()), 0)


def month_start(now: dt.datetime) -> dt.datetime:
    """Midnight on the first of the current month, in the active time zone."""
    today = timezone.localdate(now)
    first = dt.datetime.combine(today.replace(day=1), dt.time.min)
    return timezone.make_aware(first, timezone.get_current_timezone())


def reason_for(suggestion: Suggestion) -> str:
    """One line, in the active language, saying why a rep ranks where they do."""
    parts = []
    if suggestion.reports:
        parts.append(
            ngettext(
                "reports on time %(on_time)d of %(total)d",
                "reports on time %(on_time)d of %(total)d",
                suggestion.reports,
            )
            % {"on_time": suggestion.on_time, "total": suggestion.reports}
        )
        if suggestion.quality is not None:
            parts.append(_("average quality %(score)d") % {"score": round(suggestion.quality)})
    else:
        parts.append(_("no reports in the last 30 days"))
    parts.append(
        ngettext("%(count)d open lead", "%(count)d open leads", suggestion.open_leads)
        % {"count": suggestion.open_leads}
    )
    parts.append(
        ngettext(
            "got %(count)d chicken-rib lead this month",
            "got %(count)d chicken-rib leads this month",
            suggestion.rib_this_month,
        )
        % {"count": suggestion.rib_this_month}
    )
    return pgettext("separator between the parts of a reason", "; ").join(parts)


def handoff_suggestions(
    *, user: User, team: Team | None = None, now: dt.datetime | None = None
) -> list[Suggestion]:
    """The reps `user` may hand a lead to, best candidate first.

    Score = 2 × reliability (on-time share and average quality, last 30 days)
            + fairness (chicken-rib leads handed to them this month, relative to the most any
              rep of the list got: who gnawed the 鸡肋 has earned a better lead, I5/I9/I15)
            − load (open leads, relative to the busiest rep).
    Ties go to the rep with fewer open leads, then by name. The manager still chooses.
    """
    now = now or timezone.now()
    since = now - dt.timedelta(days=SUGGESTION_DAYS)
    recent = Q(
        reports__state=ReportState.SUBMITTED,
        reports__submitted_at__gte=since,
        reports__team_id=F("team_id"),
    )
    open_leads = Lead.objects.filter(owner=OuterRef("pk"), stage__in=OPEN_STAGES)
    ribs = LeadEvent.objects.filter(
        to_user=OuterRef("pk"),
        kind__in=HANDED,
        created_at__gte=month_start(now),
        lead__is_chicken_rib=True,
    )
    reps = hand_off_targets(user, team).annotate(
        n_open=Coalesce(
            Subquery(
                open_leads.order_by().values("owner").annotate(n=Count("pk")).values("n")[:1],
                output_field=IntegerField(),
            ),
            0,
        ),
        n_rib=_subquery_count(ribs, "to_user"),
        n_reports=Count("reports", filter=recent),
        n_on_time=Count("reports", filter=recent & Q(reports__on_time=True)),
        avg_quality=Avg("reports__quality_score", filter=recent),
    )
    found = [
        Suggestion(
            rep=rep,
            open_leads=rep.n_open,  # type: ignore[attr-defined]
            reports=rep.n_reports,  # type: ignore[attr-defined]
            on_time=rep.n_on_time,  # type: ignore[attr-defined]
            quality=float(rep.avg_quality) if rep.avg_quality is not None else None,  # type: ignore[attr-defined]
            rib_this_month=rep.n_rib,  # type: ignore[attr-defined]
        )
        for rep in reps
    ]
    busiest = max((s.open_leads for s in found), default=0)
    most_ribs = max((s.rib_this_month for s in found), default=0)
    for s in found:
        load = s.open_leads / busiest if busiest else 0.0
        fairness = s.rib_this_month / most_ribs if most_ribs else 0.0
        s.score = round(2 * s.reliability + fairness - load, 4)
        s.reason = reason_for(s)
    return sorted(found, key=lambda s: (-s.score, s.open_leads, str(s.rep), s.rep.pk))
