"""The cockpit's table rows as HTML, written in Python (issue 22): the rep table, the pipeline,
the stalled leads and the manager's debt lists of the team page, and the team table, the reps'
ranking and the pipeline by team of the +2 page. As row templates they cost more than the
pages' other Python together (a `{% translate %}`, a filter and a lookup per cell: 90 reps × 11
cells on a +2 page).

The HTML is what templates/coaching/team.html, director.html and _figure_cells.html wrote row by
row until then, byte for byte (tests/coaching/test_cockpit_rows.py renders the old templates
beside these); the values go through the same escaping and the same filters (`floatformat`,
dates in the reader's zone as `Y-m-d`, `duration`). As in the templates, translated text and
values are escaped. A change to a row's look is made here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from html import escape
from typing import Any

from django.template.defaultfilters import date as date_filter
from django.template.defaultfilters import floatformat, truncatechars
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import get_format
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import ngettext as _ngettext

from coaching.cockpit import Figures, StageRow
from crm.labels import choice_labels
from crm.models import Lead, Report
from crm.pipeline import Stage
from crm.templatetags.kaopu_text import duration
from crm.web import url_around_id


def _(message: str) -> str:
    """Translated text, escaped as `{% translate %}` wrote it."""
    return escape(gettext(message))


def ngettext(singular: str, plural: str, number: int) -> str:
    """Translated text with a count, escaped as the template wrote it."""
    return escape(_ngettext(singular, plural, number))


_ONE = Decimal(1)


_link = url_around_id  # reversed once per page, each row's id put between the halves


def _whole(value: Decimal | int) -> str:
    """`floatformat(value, "0g")` for the amounts here: rounded half up to a whole number and
    grouped as the reader's language groups. A group of three (English, Chinese) is Python's own
    format, a tenth of floatformat's cost (300 amounts on a +2 page); any other goes through
    floatformat itself."""
    if not isinstance(value, (Decimal, int)) or get_format("NUMBER_GROUPING") != 3:
        return floatformat(value, "0g")
    whole = int(Decimal(value).quantize(_ONE, ROUND_HALF_UP))
    return f"{whole:,}".replace(",", get_format("THOUSAND_SEPARATOR"))


def _money(totals: Iterable[tuple[str, Decimal]], css: str) -> str:
    return "".join(
        f'<span class="{css}">{escape(str(currency))} {_whole(value)}</span>'
        for currency, value in totals
    )


def _day(when: dt.datetime, zone: dt.tzinfo) -> str:
    return timezone.localtime(when, zone).date().isoformat()


class _Cells:
    """templates/coaching/_figure_cells.html: the figures of a rep or team row, one `<td>` a
    line. Holds the page's translations and links, so each row costs only its values."""

    def __init__(self) -> None:
        self.lead_head, self.lead_tail = _link("lead-detail")
        self.today = _("today")
        self.never = f'<span class="overdue">{_("never")}</span>'
        self.zone = timezone.get_current_timezone()

    def __call__(self, row: Figures) -> str:
        values = _money(row.open_values, "money") or "—"
        rib = f"{row.rib_share}%" if row.rib_share is not None else "—"
        stalled = str(row.stalled)
        if row.oldest_stalled_id:
            stalled += (
                f' <a class="small" href="{self.lead_head}{row.oldest_stalled_id}'
                f'{self.lead_tail}">{escape(str(row.oldest_stalled_company))}</a>'
            )
        if row.last_report_at:
            since = row.days_since_report
            ago = (
                self.today
                if since == 0
                else ngettext("%(counter)s day ago", "%(counter)s days ago", since or 0)
                % {"counter": since}
            )
            last = (
                f'<span class="when">{_day(row.last_report_at, self.zone)}</span> '
                f'<span class="small muted when">{ago}</span>'
            )
        else:
            last = self.never
        on_time = f"{row.on_time}/{row.reports} · {row.on_time_share}%" if row.reports else "—"
        quality = floatformat(row.quality, 0) if row.quality is not None else "—"
        conversion, thanks = _conversion_and_thanks(row)
        asks = str(row.open_asks)
        if row.oldest_ask_days is not None:
            days = ngettext("%(counter)s day", "%(counter)s days", row.oldest_ask_days) % {
                "counter": row.oldest_ask_days
            }
            asks += f' <span class="small muted">({days})</span>'
        return (
            f'<td class="num" data-figure="open_leads">{row.open_leads}</td>\n'
            f'<td class="num" data-figure="open_value">{values}</td>\n'
            f'<td class="num" data-figure="rib_share">{rib}</td>\n'
            f'<td data-figure="stalled">{stalled}</td>\n'
            f'<td data-figure="last_report">{last}</td>\n'
            f'<td class="num" data-figure="on_time">{on_time}</td>\n'
            f'<td class="num" data-figure="quality">{quality}</td>\n'
            f'<td class="num" data-figure="conversion">{conversion}</td>\n'
            f'<td class="num" data-figure="thanks">{thanks}</td>\n'
            f'<td data-figure="asks">{asks}</td>\n'
        )


def rep_table(rows: Iterable[Figures], total: Figures, *, days: int) -> dict[str, SafeString]:
    """The team page's rep table: its rows ("rows", the `<tr>`s inside `<tbody>`) and the
    whole team's figure cells ("total", inside the `<tfoot>` row)."""
    cells = _Cells()
    rep_head, rep_tail = _link("coach-rep")
    leads = escape(reverse("lead-list"))
    asking = _("asks for the next lead")
    leads_label = _("leads")
    help_tag = f'<span class="tag warn">{_("only asks for help")}</span>'
    out = []
    for row in rows:
        ask = (
            f' <span class="tag ok ask-open" data-asks="{row.key}">{asking}</span>'
            if row.next_lead_ask
            else ""
        )
        nudges = f"{row.nudges_done}/{row.nudges} · {row.nudges_share}%" if row.nudges else "—"
        out.append(
            f'<tr data-rep="{row.key}">\n'
            f'      <th scope="row"><a href="{rep_head}{row.key}{rep_tail}?days={days}">'
            f"{escape(str(row.name))}</a>{ask}\n"
            f'        <a class="small muted" href="{leads}?owner={row.key}">{leads_label}</a>'
            f"</th>{cells(row)}\n"
            f'      <td class="num" data-figure="nudges">{nudges}</td>\n'
            f'      <td data-figure="help">{help_tag if row.only_asks_help else "—"}</td>\n'
            "    </tr>"
        )
    if not out:
        empty = _("This team has no reps yet.")
        out.append(f'<tr><td colspan="13" class="empty">{empty}</td></tr>')
    return {"rows": SafeString("".join(out)), "total": SafeString(cells(total))}


def team_table(rows: Iterable[Figures], *, days: int) -> SafeString:
    """The +2 page's team table: one `<tr>` per team (inside `<tbody>`)."""
    cells = _Cells()
    team_head, team_tail = _link("coach-team-detail")
    out = [
        f'<tr data-team="{row.key}">\n'
        f'      <th scope="row"><a href="{team_head}{row.key}{team_tail}?days={days}">'
        f"{escape(str(row.name))}</a></th>\n"
        f'      <td>{escape(str(row.manager))}</td><td class="num" data-figure="reps">'
        f"{row.reps}</td>\n"
        f"      {cells(row)}\n"
        f'      <td class="num" data-figure="unacknowledged">{row.unacknowledged}</td>\n'
        "    </tr>"
        for row in rows
    ]
    if not out:
        empty = _("No team reports to you yet.")
        out.append(f'<tr><td colspan="14" class="empty">{empty}</td></tr>')
    return SafeString("".join(out))


def _conversion_and_thanks(row: Figures) -> tuple[str, str]:
    """The conversion cell (share, then won/closed) and the thanks cell (thanked/won) that the
    team table and the ranking both show."""
    conversion = (
        f'{row.conversion}% <span class="small muted">'
        f"({row.handed_won}/{row.handed_won + row.handed_lost})</span>"
        if row.conversion is not None
        else "—"
    )
    thanks = f"{row.wins_thanked}/{row.handed_won}" if row.handed_won else "—"
    return conversion, thanks


def ranking_labels() -> dict[str, str]:
    """The +2 ranking's column names, by sort key: its sort headers and its cells' data-label."""
    return {
        "name": gettext("Rep"),
        "team": gettext("Team"),
        "on_time": gettext("Reports on time"),
        "quality": gettext("Average quality"),
        "nudges": gettext("Answers to nudges"),
        "conversion": gettext("Conversion"),
        "thanks": gettext("Thanks after wins"),
        "open_leads": gettext("Open leads"),
        "stalled": gettext("Stalled"),
        "last_report": gettext("Last report"),
        "help": gettext("Only asks for help"),
    }


def ranking_rows(reps: Iterable[Figures], *, days: int) -> SafeString:
    """The +2 page's ranking of reps: one `<tr>` per rep (inside `<tbody>`)."""
    rep_head, rep_tail = _link("coach-rep")
    team_head, team_tail = _link("coach-team-detail")
    label = {key: escape(name) for key, name in ranking_labels().items()}
    today = _("today")
    never = f'<span class="overdue">{_("never")}</span>'
    help_tag = f'<span class="tag warn">{_("only asks for help")}</span>'
    no_help = '<span class="muted">—</span>'
    out = []
    for row in reps:
        team = (
            f'<a href="{team_head}{row.team_id}{team_tail}?days={days}">'
            f"{escape(str(row.team_name))}</a>"
            if row.team_id
            else ""
        )
        on_time = (
            f'{row.on_time_share}% <span class="small muted">({row.on_time}/{row.reports})</span>'
            if row.reports
            else "—"
        )
        quality = floatformat(row.quality, 0) if row.quality is not None else "—"
        nudges = (
            f'{row.nudges_share}% <span class="small muted">({row.nudges_done}/{row.nudges})</span>'
            if row.nudges
            else "—"
        )
        conversion, thanks = _conversion_and_thanks(row)
        if row.last_report_at:
            if row.days_since_report == 0:
                last = today
            else:
                span = escape(duration(row.days_since_report))
                last = _("%(span)s ago") % {"span": span}
        else:
            last = never
        out.append(
            f'<tr data-rank-rep="{row.key}">\n'
            f'      <th scope="row" data-label="{label["name"]}"><a href="{rep_head}{row.key}'
            f'{rep_tail}?days={days}">{escape(str(row.name))}</a></th>\n'
            f'      <td data-label="{label["team"]}" data-figure="team">{team}</td>\n'
            f'      <td class="num" data-label="{label["on_time"]}" data-figure="on_time">'
            f"{on_time}</td>\n"
            f'      <td class="num" data-label="{label["quality"]}" data-figure="quality">'
            f"{quality}</td>\n"
            f'      <td class="num" data-label="{label["nudges"]}" data-figure="nudges">'
            f"{nudges}</td>\n"
            f'      <td class="num" data-label="{label["conversion"]}" '
            f'data-figure="conversion">{conversion}</td>\n'
            f'      <td class="num" data-label="{label["thanks"]}" data-figure="thanks">'
            f"{thanks}</td>\n"
            f'      <td class="num" data-label="{label["open_leads"]}" '
            f'data-figure="open_leads">{row.open_leads}</td>\n'
            f'      <td class="num" data-label="{label["stalled"]}" data-figure="stalled">'
            f"{row.stalled}</td>\n"
            f'      <td class="num" data-label="{label["last_report"]}" '
            f'data-figure="last_report">{last}</td>\n'
            f'      <td data-label="{label["help"]}" data-figure="help">'
            f"{help_tag if row.only_asks_help else no_help}</td>\n"
            "    </tr>"
        )
    if not out:
        empty = _("Your teams have no reps yet.")
        out.append(f'<tr><td colspan="11" class="empty">{empty}</td></tr>')
    return SafeString("".join(out))


def _change_css(stage: StageRow) -> str:
    return "up" if stage.change > 0 else "down" if stage.change < 0 else ""


def team_pipelines(
    team_pipes: Iterable[tuple[Figures, list[StageRow]]], *, days: int
) -> SafeString:
    """The +2 page's pipeline by team: one `<tr>` per team, a cell per stage (inside
    `<tbody>`)."""
    team_head, team_tail = _link("coach-team-detail")
    out = []
    for row, pipe in team_pipes:
        cells = "".join(
            f'<td class="num" data-stage="{escape(str(stage.stage))}">{stage.count} '
            f'<span class="small change {_change_css(stage)}">({stage.change_text})</span>\n'
            f"        {_money(stage.totals, 'money small muted')}</td>"
            for stage in pipe
        )
        out.append(
            f'<tr data-team="{row.key}">\n'
            f'      <th scope="row"><a href="{team_head}{row.key}{team_tail}?days={days}">'
            f"{escape(str(row.name))}</a></th>\n"
            f"      {cells}\n"
            "    </tr>"
        )
    return SafeString("".join(out))


def stalled_rows(leads: Iterable[Lead], *, sees_all_reports: bool) -> SafeString:
    """The team page's stalled leads (coaching.cockpit.stalled_leads, with their owner): one
    `<tr>` per lead (inside `<tbody>`), its escalation plan linked when the viewer may read it."""
    lead_head, lead_tail = _link("lead-detail")
    plan_head, plan_tail = _link("report-detail")
    stages = choice_labels(Stage.choices)
    rib = f' <span class="tag rib">{_("Chicken rib")}</span>'
    unassigned = _("Unassigned")
    hidden = f' <span class="small muted">{_("(not shared with you)")}</span>'
    zone = timezone.get_current_timezone()
    out = []
    for lead in leads:
        plan_id = getattr(lead, "open_plan_id", None)
        if plan_id:
            when = _day(lead.open_plan_at, zone) if lead.open_plan_at else ""  # type: ignore[attr-defined]
            sent = _("plan sent %(when)s, waiting for a decision") % {"when": when}
            if sees_all_reports or lead.open_plan_shared:  # type: ignore[attr-defined]
                plan = f'<a href="{plan_head}{plan_id}{plan_tail}">{sent}</a>'
            else:
                plan = sent + hidden
        else:
            plan = '<span class="muted">—</span>'
        idle = lead.idle_for  # type: ignore[attr-defined]
        days = idle.days if idle is not None else ""
        out.append(
            f'<tr data-lead="{lead.pk}">\n'
            f'      <th scope="row"><a href="{lead_head}{lead.pk}{lead_tail}">'
            f"{escape(str(lead.company))}</a>{rib if lead.is_chicken_rib else ''}</th>\n"
            f"      <td>{escape(str(lead.owner)) if lead.owner else unassigned}</td>\n"
            f'      <td><span class="stage stage-{escape(str(lead.stage))}">'
            f"{escape(stages.get(lead.stage, str(lead.stage)))}</span></td>\n"
            f'      <td class="num" data-figure="idle">{days}</td>\n'
            f'      <td data-figure="plan">{plan}</td>\n'
            "    </tr>"
        )
    return SafeString("".join(out))


def pipeline_rows(pipeline: Iterable[StageRow]) -> SafeString:
    """The team page's pipeline by stage: one `<tr>` per stage (inside `<tbody>`)."""
    return SafeString(
        "".join(
            f'<tr data-stage="{escape(str(stage.stage))}">\n'
            f'        <th scope="row"><span class="stage stage-{escape(str(stage.stage))}">'
            f"{escape(str(stage.label))}</span></th>\n"
            f'        <td class="num" data-figure="count">{stage.count}</td>\n'
            f'        <td class="num" data-figure="value">{_money(stage.totals, "money") or "—"}'
            "</td>\n"
            f'        <td class="num change {_change_css(stage)}" data-figure="change">'
            f"{escape(stage.change_text)}</td>\n"
            "      </tr>"
            for stage in pipeline
        )
    )


def _waiting(report: Report) -> str:
    days = report.waited.days  # type: ignore[attr-defined]
    return ngettext("waiting %(counter)s day", "waiting %(counter)s days", days) % {"counter": days}


def debt_rows(debt: dict[str, Any] | None) -> dict[str, SafeString]:
    """The team page's debt lists (coaching.cockpit.my_debt): the reports not acknowledged
    ("unacknowledged") and the asks not answered ("asks"), one `<li>` each (inside their
    `<ul>`)."""
    if not debt:
        return {}
    head, tail = _link("report-detail")
    unacknowledged = []
    for report in debt["unacknowledged"]:
        lead = f" · {escape(str(report.lead.company))}" if report.lead else ""
        unacknowledged.append(
            f'<li><a href="{head}{report.pk}{tail}">{escape(str(report.author))} · '
            f"{escape(str(report.get_kind_display()))}{lead}</a>\n"
            f'          <div class="small muted">{_waiting(report)}</div></li>'
        )
    asks = []
    for report in debt["asks"]:
        due = (
            " · " + _("needed by %(due)s") % {"due": escape(date_filter(report.ask_due, "Y-m-d"))}
            if report.ask_due
            else ""
        )
        asks.append(
            f'<li><a href="{head}{report.pk}{tail}">{escape(str(report.author))}: '
            f"{escape(truncatechars(report.ask, 90))}</a>\n"
            f'          <div class="small muted">{_waiting(report)}{due}</div></li>'
        )
    return {
        "unacknowledged": SafeString("".join(unacknowledged)),
        "asks": SafeString("".join(asks)),
    }
