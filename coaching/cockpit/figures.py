"""The cockpit's figures: one row per rep of a team, or one per team for the +2 — open leads
and their value, chicken-rib share, stalled leads, reports (on time, quality), asks waiting,
conversion of the leads handed down and thanks after wins, over a period the page picks.

Every figure is a SQL aggregate grouped by rep or by team, so the number of queries depends on
neither the number of leads nor the number of reps. Python only arranges the handful of
aggregate rows (reps × currencies) into rows for the page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from coaching import playbook, rules
from coaching.cockpit.cube import LeadCube, lead_cube
from coaching.cockpit.reports import _report_figures, _sum_reports
from coaching.models import Nudge, NudgeState, RuleSetting
from crm.models import (
    Lead,
    LeadEvent,
    LeadEventKind,
    Report,
    Role,
    Team,
    User,
)
from crm.selectors import stalled_q, with_idle_since

# The period filter is allow-listed: the query string picks one of these, nothing else.
PERIODS: tuple[int, ...] = (7, 30, 90)
DEFAULT_PERIOD = 30
HANDED = (LeadEventKind.HANDED_DOWN, LeadEventKind.REASSIGNED)


def period_from(raw: object) -> int:
    """The period asked for in the query string, if it is one we offer; the default otherwise."""
    offered = {str(days): days for days in PERIODS}  # never int() on '²' or 5,000 digits
    return offered.get(str(raw or "").strip(), DEFAULT_PERIOD)


def _share(part: int, whole: int) -> int | None:
    """A whole percentage, or None when there is nothing to divide."""
    return round(100 * part / whole) if whole else None


def _days(now: dt.datetime, then: dt.datetime | None) -> int | None:
    return (now - then).days if then is not None else None


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
    team_id: int | None = None
    team_name: str = ""
    nudges: int = 0
    nudges_done: int = 0
    only_asks_help: bool = False
    next_lead_ask: Any = None  # the rep's open ask for the next lead, set by the team page

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
    def nudges_share(self) -> int | None:
        """The coach's nudges (made in the period) the rep acted on, in percent."""
        return _share(self.nudges_done, self.nudges)

    @property
    def handed_out_rib_share(self) -> int | None:
        """Chicken-rib leads among the leads handed to them in the period, in percent."""
        return _share(self.handed_out_rib, self.handed_out)


def _handed_out(
    team_ids: list[int], rep_ids: list[int], *, since: dt.datetime
) -> dict[int, dict[str, int]]:
    """Per rep, the leads handed down (or reassigned) to them in `team_ids` since `since`, and
    how many of them were chicken-rib when handed: the team's range of hand-offs in
    leadevent_handoff_team, which holds every column read (the team and chicken-rib flag as
    they were at the hand-off, kept on the event), not each hand-off joined to its lead (a team
    of 50,000: 2,039 hand-offs, 7 → 1 ms on PostgreSQL)."""
    rows = (
        LeadEvent.objects.filter(
            team_id__in=team_ids, created_at__gte=since, to_user_id__in=rep_ids
        )
        .order_by()
        .values("to_user")
        .annotate(
            handed_out=Count("lead", distinct=True),
            handed_out_rib=Count("lead", filter=Q(was_chicken_rib=True), distinct=True),
        )
    )
    return {
        row["to_user"]: {"handed_out": row["handed_out"], "handed_out_rib": row["handed_out_rib"]}
        for row in rows
    }


def _handed_into(team_ids: list[int], *, since: dt.datetime) -> dict[int, dict[str, int]]:
    """Per team, its leads handed down (or reassigned) since `since`, and how many of them are
    chicken-rib: the leads whose latest hand-off (`handed_at`, set with each hand-off's event by
    crm.services.handoffs) is in the period — the same leads as `_handed_out` over the teams'
    events, counted from a range of lead_team_handed instead of joining every hand-off of the
    company in the period to its lead (a +2's nine teams of 5,000 leads: 20 → 3 ms on
    PostgreSQL, 13 → 0.4 ms on SQLite)."""
    rows = (
        Lead.objects.filter(team_id__in=team_ids, handed_at__gte=since)
        .order_by()
        .values("team")
        .annotate(
            # Counted by team, not id: lead_team_handed holds every column read, and PostgreSQL
            # counts from it alone (1,664 leads: 2.1 -> 0.3 ms; by id it visited each lead).
            handed_out=Count("team"),
            handed_out_rib=Count("team", filter=Q(is_chicken_rib=True)),
        )
    )
    return {
        row["team"]: {"handed_out": row["handed_out"], "handed_out_rib": row["handed_out_rib"]}
        for row in rows
    }


def _oldest_stalled(outer: str, now: dt.datetime) -> dict[str, Subquery]:
    """The open lead idle the longest among the stalled ones of the outer rep or team, its id
    and its company: a few entries of the index on (team or owner, idle since, id) over open
    leads (lead_team_idle, lead_owner_idle), read in order until the first stalled one, whatever
    the team's size. The filter is built once for both columns (the ORM's cost, not the SQL's)."""
    leads = (
        with_idle_since(Lead.objects.filter(**{outer: OuterRef("pk")}))
        .filter(stalled_q(now), closed_at__isnull=True)  # lead_*_idle's condition
        .order_by(F("idle_since").asc(), F("pk").asc())
    )
    return {
        "oldest_stalled_id": Subquery(leads.values("pk")[:1]),
        "oldest_stalled_company": Subquery(leads.values("company")[:1]),
    }


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


def _nudge_figures(rep_ids: list[int], *, since: dt.datetime) -> dict[int, dict[str, int]]:
    """The coach's nudges to each rep made since `since`, and how many they acted on."""
    rows = (
        # Every state spelled out, so that each rep's period is a range of nudge_inbox per
        # (recipient, state) rather than all the nudges the reps ever had; counted by recipient
        # (never NULL), not id, so that the index alone answers: a +2's 90 reps, 6,300 entries
        # of 19,000, 19 → 4 ms on PostgreSQL (which read the table), 10 → 1 ms on SQLite.
        Nudge.objects.filter(
            recipient_id__in=rep_ids, state__in=NudgeState.values, created_at__gte=since
        )
        .order_by()
        .values("recipient")
        .annotate(
            nudges=Count("recipient"),
            nudges_done=Count("recipient", filter=Q(state=NudgeState.DONE)),
        )
    )
    return {
        row["recipient"]: {"nudges": row["nudges"], "nudges_done": row["nudges_done"]}
        for row in rows
    }


HELP_RULE = "only_asks_for_help"


def _help_only(reps: list[User], *, now: dt.datetime) -> set[int]:
    """The reps whose last messages to their manager were all asks for help or problems (the
    only_asks_for_help rule's pattern, with each team's own `last` threshold). One query per
    distinct threshold, plus one for the teams' settings. The rule's own query, so the page
    and the coach agree."""
    rule = playbook.rules().get(HELP_RULE)
    default = dict(rule.thresholds) if rule else {"last": 3}
    team_ids = {rep.team_id for rep in reps if rep.team_id}
    special = {
        setting.team_id: default | {k: int(v) for k, v in setting.thresholds.items()}
        for setting in RuleSetting.objects.filter(rule_id=HELP_RULE, team_id__in=team_ids)
    }
    by_threshold: dict[int, list[int]] = {}
    for rep in reps:
        last = (special.get(rep.team_id or 0) or default).get("last", 3)
        by_threshold.setdefault(int(last), []).append(rep.pk)
    found: set[int] = set()
    today = timezone.localdate(now)
    for last, ids in by_threshold.items():
        reps_here = User.objects.filter(pk__in=ids)
        rows = rules.only_help(reps_here, now=now, today=today, t={"last": last})
        found.update(row["pk"] for row in rows)
    return found


def _rep_figures(
    reps: list[User],
    team_ids: list[int],
    *,
    days: int,
    now: dt.datetime,
    cube: LeadCube | None = None,
    handed: bool = True,
    reports: list[dict[str, Any]] | None = None,
) -> list[Figures]:
    """The rows for `reps`, counting their leads in and reports to the teams `team_ids` (the
    lead counts from `cube` when the page counted those teams' leads already). `handed`: count
    the leads handed to each rep in the period too."""
    since = now - dt.timedelta(days=days)
    ids = [rep.pk for rep in reps]
    if cube is None:
        leads = Lead.objects.filter(team_id__in=team_ids)
        cube = lead_cube(leads, days=days, now=now, teams=team_ids)
    cube.check(days=days, now=now)
    lead_rows = cube.counts("owner", owners=ids)
    values = cube.open_values("owner", owners=ids)
    report_rows = (
        _sum_reports(reports, "author", keys=set(ids))
        if reports is not None
        else _report_figures(
            Report.objects.filter(team_id__in=team_ids, author_id__in=ids), "author", since=since
        )
    )
    handed_rows = _handed_out(team_ids, ids, since=since) if handed else {}
    nudges = _nudge_figures(ids, since=since)
    helpless = _help_only(reps, now=now) if reps else set()
    rows = []
    for rep in reps:
        row = Figures(
            key=rep.pk,
            name=str(rep),
            team_id=rep.team_id,
            team_name=rep.team.name if rep.team_id and rep.team else "",
            oldest_stalled_id=getattr(rep, "oldest_stalled_id", None),
            oldest_stalled_company=getattr(rep, "oldest_stalled_company", None) or "",
            only_asks_help=rep.pk in helpless,
        )
        for name, value in nudges.get(rep.pk, {}).items():
            setattr(row, name, value)
        rows.append(
            _fill(
                row,
                now=now,
                leads=lead_rows.get(rep.pk),
                values=values.get(rep.pk),
                reports=report_rows.get(rep.pk),
                handed=handed_rows.get(rep.pk),
            )
        )
    return rows


def _reps(reps: QuerySet[User], now: dt.datetime, *, oldest: bool = True) -> list[User]:
    """The reps in name order, each with their oldest stalled lead (`oldest`)."""
    if oldest:
        reps = reps.annotate(**_oldest_stalled("owner", now))
    return list(reps.select_related("team").order_by("display_name", "username", "pk"))


def rep_rows(
    *,
    team: Team,
    days: int,
    now: dt.datetime | None = None,
    cube: LeadCube | None = None,
    reports: list[dict[str, Any]] | None = None,
) -> list[Figures]:
    """One row per active rep of the team: their open leads in this team, their reports to
    this team's manager, and how the leads handed down to them ended (in the last `days`).
    `reports`: the team's `report_cells` when the page has read them already."""
    now = now or timezone.now()
    reps = _reps(User.objects.filter(role=Role.REP, team=team, is_active=True), now)
    return _rep_figures(reps, [team.pk], days=days, now=now, cube=cube, reports=reports)


def reps_across(
    *,
    teams: QuerySet[Team] | list[int],
    days: int,
    now: dt.datetime | None = None,
    cube: LeadCube | None = None,
    ranking: bool = False,
    reports: list[dict[str, Any]] | None = None,
) -> list[Figures]:
    """One row per active rep of any of `teams` (or of the teams of these ids, when the page
    has them already; the director's ranking): the same figures as a team page's rows, in a
    number of queries that grows with neither reps nor teams. `ranking`: only what the +2's
    ranking shows and sorts by — without each rep's oldest stalled lead and the leads handed
    to them (a correlated subquery per rep and a read of the period's hand-offs). `reports`:
    the teams' `report_cells` when the page has read them already."""
    now = now or timezone.now()
    if isinstance(teams, list):
        team_ids = teams
    else:
        team_ids = list(teams.order_by().values_list("pk", flat=True))
    reps = _reps(
        User.objects.filter(role=Role.REP, team_id__in=team_ids, is_active=True),
        now,
        oldest=not ranking,
    )
    return _rep_figures(
        reps, team_ids, days=days, now=now, cube=cube, handed=not ranking, reports=reports
    )


def rep_figures(*, rep: User, days: int, now: dt.datetime | None = None) -> Figures:
    """One rep's row, as their manager sees it on the team page (the rep's own team)."""
    now = now or timezone.now()
    reps = _reps(User.objects.filter(pk=rep.pk), now)
    return _rep_figures(reps, [rep.team_id or 0], days=days, now=now)[0]


def team_rows(
    *,
    teams: QuerySet[Team],
    days: int,
    now: dt.datetime | None = None,
    cube: LeadCube | None = None,
    reports: list[dict[str, Any]] | None = None,
) -> list[Figures]:
    """One row per team: the same figures as the rep rows, for the whole team (its pool of
    unassigned leads included), plus how many reports its manager has not acknowledged.
    `reports`: the teams' `report_cells` when the page has read them already."""
    now = now or timezone.now()
    since = now - dt.timedelta(days=days)
    listed = list(
        teams.select_related("manager")
        .annotate(
            n_reps=Count(
                "members", filter=Q(members__role=Role.REP, members__is_active=True), distinct=True
            ),
            **_oldest_stalled("team", now),
        )
        .order_by("name", "pk")
    )
    ids = [team.pk for team in listed]
    leads = Lead.objects.filter(team_id__in=ids)
    cube = (cube or lead_cube(leads, days=days, now=now, teams=ids)).check(days=days, now=now)
    lead_rows = cube.counts("team")
    values = cube.open_values("team")
    report_rows = (
        _sum_reports(reports, "team")
        if reports is not None
        else _report_figures(Report.objects.filter(team_id__in=ids), "team", since=since)
    )
    handed = _handed_into(ids, since=since)
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


def team_total(
    *,
    team: Team,
    days: int,
    now: dt.datetime,
    cube: LeadCube,
    oldest_stalled: Lead | None,
    reports: list[dict[str, Any]] | None = None,
) -> Figures:
    """The team page's whole-team row: the team's lead counts (from the page's `cube`), its
    reports and asks, and its oldest stalled lead (`oldest_stalled`: the first of the page's
    stalled list, which is read in the same order). As `team_rows`' row for the team, without
    what only the +2's team table shows — the reps counted, the manager's name and the leads
    handed down in the period — so one query instead of three, none when the page passes the
    team's `report_cells` (`reports`)."""
    cube.check(days=days, now=now)
    since = now - dt.timedelta(days=days)
    report_rows = (
        _sum_reports(reports, "team")
        if reports is not None
        else _report_figures(Report.objects.filter(team_id=team.pk), "team", since=since)
    )
    row = Figures(
        key=team.pk,
        name=team.name,
        oldest_stalled_id=oldest_stalled.pk if oldest_stalled else None,
        oldest_stalled_company=oldest_stalled.company if oldest_stalled else "",
    )
    return _fill(
        row,
        now=now,
        leads=cube.counts("team").get(team.pk),
        values=cube.open_values("team").get(team.pk),
        reports=report_rows.get(team.pk),
        handed=None,
    )
