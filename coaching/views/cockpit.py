"""The manager's cockpit pages: a team's figures, the +2's view of their teams, the per-rep
table as CSV, and the hand-off suggestion the hand-out page loads as a fragment.

Visibility comes from crm.permissions: a rep gets 404 everywhere; a manager sees their own
team; a director their teams; an admin all. A team outside that is a 404, never a 403.
"""

from __future__ import annotations

import csv
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.utils.translation import gettext as _

from coaching import charts, cockpit, next_lead
from coaching.cockpit import ranking
from coaching.views import cockpit_rows
from crm import exports
from crm.models import Lead, Team, User
from crm.permissions import (
    can_hand_off,
    can_manage_team,
    can_view_cockpit,
    can_view_director_page,
    cockpit_starts_at_director_page,
    hand_off_targets,
    visible_teams,
)
from crm.web import HtmxHttpRequest, current_user, id_param, parse_int, render_region


def neutralise(value: object) -> str:
    """A CSV cell that a spreadsheet shows as text, never runs as a formula (crm.exports' guard,
    for cells that are numbers or empty too)."""
    return exports.neutralise("" if value is None else str(value))


def _cockpit_user(request: HttpRequest) -> User:
    """Managers, directors and admins; a rep is answered 404, as for any page not theirs."""
    user = current_user(request)
    if not can_view_cockpit(user):
        raise Http404
    return user


def _team_for(user: User, raw: object) -> Team | None:
    """The team asked for, among the teams `user` may see (404 otherwise). Without one: a
    manager's own team, an admin's first team, and None for a director (who starts from the
    director page)."""
    teams = visible_teams(user).select_related("manager", "director")
    text = str(raw or "")
    if text:
        return get_object_or_404(teams, pk=parse_int(text) or 0)
    if cockpit_starts_at_director_page(user):
        return None
    team = teams.order_by("name", "pk").first()
    if team is None:
        raise Http404
    return team


@login_required
def team_page(request: HtmxHttpRequest, team_id: int | None = None) -> HttpResponse:
    """A team's cockpit: its pipeline, its stalled leads, one row per rep, and what the
    viewer still owes the team."""
    user = _cockpit_user(request)
    from_path = team_id is not None
    team = _team_for(user, team_id if from_path else request.GET.get("team"))
    if team is None:
        return redirect("coach-director")
    days = cockpit.period_from(request.GET.get("days"))
    now = timezone.now()
    leads = Lead.objects.filter(team=team)
    # The team's leads counted from the lead tally and index ranges (coaching.cockpit.cube).
    cube = cockpit.lead_cube(leads, days=days, now=now, teams=[team.pk])
    # The team's reports read once, by author: the rep rows, the team row and the debt's counts.
    reports = cockpit.report_cells([team.pk], days=days, now=now)
    rows = cockpit.rep_rows(team=team, days=days, now=now, cube=cube, reports=reports)
    asking = {ask.rep_id: ask for ask in next_lead.open_asks([team.pk])}
    for row in rows:
        row.next_lead_ask = asking.get(row.key)
    stalled = cockpit.stalled_leads(team=team, now=now)
    # The whole team's row: its oldest stalled lead is the stalled list's first.
    oldest = stalled[0] if stalled else None
    total = cockpit.team_total(
        team=team, days=days, now=now, cube=cube, oldest_stalled=oldest, reports=reports
    )
    pipes = cockpit.pipelines(leads=leads, key="team", now=now, cube=cube)
    pipeline = pipes.get(team.pk) or cockpit.empty_pipeline()
    keep = {} if from_path or "team" not in request.GET else {"team": team.pk}
    sees_all_reports = can_manage_team(user, team)
    debt = cockpit.my_debt(user=user, team=team, now=now, reports=reports)
    context: dict[str, Any] = {
        "team": team,
        "sees_all_reports": sees_all_reports,
        "days": days,
        "periods": [(n, urlencode(keep | {"days": n})) for n in cockpit.PERIODS],
        "rows": rows,
        "total": total,
        "rep_table": cockpit_rows.rep_table(rows, total, days=days),
        "pipeline": pipeline,
        "stalled": stalled,
        "stalled_rows": cockpit_rows.stalled_rows(stalled, sees_all_reports=sees_all_reports),
        "debt": debt,
        "debt_rows": cockpit_rows.debt_rows(debt),
        "pipeline_rows": cockpit_rows.pipeline_rows(pipeline),
        "charts": [
            charts.funnel(pipeline),
            charts.freshness(rows),
            charts.rib_share(rows, days=days),
        ],
        "csv_query": urlencode({"team": team.pk, "days": days}),
        "teams": (
            list(visible_teams(user).order_by("name")) if can_view_director_page(user) else []
        ),
        "change_days": cockpit.CHANGE_DAYS,
    }
    return render_region(request, "coaching/team.html", context, "cockpit")


# The ranking's columns, in the table's order: (column of ranking.SORTS, is a number).
RANKING_COLUMNS: tuple[tuple[str, bool], ...] = (
    ("name", False),
    ("team", False),
    ("on_time", True),
    ("quality", True),
    ("nudges", True),
    ("conversion", True),
    ("thanks", True),
    ("open_leads", True),
    ("stalled", True),
    ("last_report", True),
    ("help", False),
)


def sort_headers(sort: ranking.Sort, days: int) -> list[dict[str, Any]]:
    """Each column's heading: its label, and the link that sorts by it (the period kept, the
    direction flipped on the column sorted now). Plain links, so sorting works without JS."""
    labels = cockpit_rows.ranking_labels()
    return [
        {
            "column": column,
            "label": labels[column],
            "num": num,
            "current": column == sort.column,
            "query": urlencode({"days": days, "sort": sort.toggled(column)}),
        }
        for column, num in RANKING_COLUMNS
    ]


@login_required
def director_page(request: HtmxHttpRequest) -> HttpResponse:
    """The +2's view: one row per team, each leading to its team page, and every rep of those
    teams ranked by the reliability measures (sortable by any column), each rep's own figures
    one click away."""
    user = _cockpit_user(request)
    if not can_view_director_page(user):
        raise Http404
    days = cockpit.period_from(request.GET.get("days"))
    sort = ranking.sort_from(request.GET.get("sort"))
    now = timezone.now()
    # The teams as literal ids: given the teams' subquery, PostgreSQL hashed every lead to
    # match the week's few thousand stage moves (80-320 ms; 10-60 ms probing by id).
    team_ids = list(visible_teams(user).order_by().values_list("pk", flat=True))
    teams = Team.objects.filter(pk__in=team_ids)
    leads = Lead.objects.filter(team_id__in=team_ids)
    cube = cockpit.lead_cube(leads, days=days, now=now, teams=team_ids)  # tally + index ranges
    reports = cockpit.report_cells(team_ids, days=days, now=now)  # by team and by rep
    rows = cockpit.team_rows(teams=teams, days=days, now=now, cube=cube, reports=reports)
    reps = ranking.ranked(
        cockpit.reps_across(
            teams=team_ids, days=days, now=now, cube=cube, ranking=True, reports=reports
        ),
        sort,
    )
    pipes = cockpit.pipelines(leads=leads, key="team", now=now, cube=cube)
    combined = cockpit.combined_pipeline(pipes.values())
    context: dict[str, Any] = {
        "days": days,
        "periods": [(n, urlencode({"days": n, "sort": sort.param})) for n in cockpit.PERIODS],
        "rows": rows,
        "reps": reps,
        "team_table": cockpit_rows.team_table(rows, days=days),
        "ranking_rows": cockpit_rows.ranking_rows(reps, days=days),
        "sort": sort,
        "sort_headers": sort_headers(sort, days),
        "stages": cockpit.empty_pipeline(),
        "team_pipelines": cockpit_rows.team_pipelines(
            [(row, pipes.get(row.key) or cockpit.empty_pipeline()) for row in rows], days=days
        ),
        "pipeline": combined,
        "charts": [
            charts.funnel(combined),
            charts.freshness(rows, per_team=True),
            charts.rib_share(rows, days=days, per_team=True),
        ],
        "change_days": cockpit.CHANGE_DAYS,
    }
    return render_region(request, "coaching/director.html", context, "cockpit")


def csv_table(rows: list[cockpit.Figures], days: int) -> list[list[str]]:
    """The per-rep table as CSV rows (headers first), every cell neutralised."""
    headers = [
        _("Rep"),
        _("Open leads"),
        _("Open value"),
        _("Chicken-rib share of open leads (%)"),
        _("Stalled leads"),
        _("Idle the longest"),
        _("Last report"),
        _("Days since the last report"),
        _("Reports in the last %(days)d days") % {"days": days},
        _("On time"),
        _("On-time share (%)"),
        _("Average quality"),
        _("Handed down and won"),
        _("Handed down and lost"),
        _("Conversion (%)"),
        _("Wins thanked"),
        _("Thanks after wins (%)"),
        _("Open asks"),
        _("Oldest open ask (days)"),
        _("Leads handed down in the last %(days)d days") % {"days": days},
        _("Of which chicken-rib"),
    ]
    out = [[neutralise(h) for h in headers]]
    for row in rows:
        last = timezone.localdate(row.last_report_at) if row.last_report_at else None
        cells: list[object] = [
            row.name,
            row.open_leads,
            "; ".join(f"{currency} {total:.2f}" for currency, total in row.open_values),
            row.rib_share,
            row.stalled,
            row.oldest_stalled_company,
            last.isoformat() if last else "",
            row.days_since_report,
            row.reports,
            row.on_time,
            row.on_time_share,
            round(row.quality) if row.quality is not None else None,
            row.handed_won,
            row.handed_lost,
            row.conversion,
            row.wins_thanked,
            row.thanks_share,
            row.open_asks,
            row.oldest_ask_days,
            row.handed_out,
            row.handed_out_rib,
        ]
        out.append([neutralise(cell) for cell in cells])
    return out


@login_required
def team_csv(request: HttpRequest) -> HttpResponse:
    """The per-rep table of a team page, as a CSV file (UTF-8 with a BOM, for Excel)."""
    user = _cockpit_user(request)
    team = _team_for(user, request.GET.get("team"))
    if team is None:
        raise Http404
    days = cockpit.period_from(request.GET.get("days"))
    rows = cockpit.rep_rows(team=team, days=days)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = (
        f'attachment; filename="kaopu-team-{team.pk}-{days}d-{stamp}.csv"'
    )
    response.write("\ufeff")
    csv.writer(response).writerows(csv_table(rows, days))
    return response


def _asking_teams(user: User, team: Team | None) -> QuerySet[Team]:
    """The teams whose reps' asks for the next lead the hand-off page shows: the team chosen
    (an admin), or the teams `user` hands leads down in."""
    if team is not None:
        return Team.objects.filter(pk=team.pk)
    return Team.objects.filter(members__in=hand_off_targets(user)).distinct()


@login_required
def handoff_suggest(request: HtmxHttpRequest) -> HttpResponse:
    """Who could get the next lead, best first, with a one-line reason each. Loaded by the
    hand-out page; the manager still chooses."""
    user = current_user(request)
    if not can_hand_off(user):
        raise Http404
    team = None
    asked = id_param(request, "team")
    if user.is_admin_role and asked is not None:
        team = get_object_or_404(Team, pk=asked)
    suggestions = cockpit.handoff_suggestions(user=user, team=team)
    asks = list(next_lead.open_asks(_asking_teams(user, team)))
    asking = {ask.rep_id: ask for ask in asks}
    for suggestion in suggestions:
        suggestion.ask = asking.get(suggestion.rep.pk)
    context = {"suggestions": suggestions, "asks": asks}
    return render_region(request, "coaching/handoff_suggest.html", context, "suggestion")
