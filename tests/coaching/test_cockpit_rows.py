"""The cockpit's table rows written in Python (coaching/views/cockpit_rows.py) are the row
templates they replaced, byte for byte, for the values that trip a rewrite: markup and quotes in
names, no report yet and one today, one day and many (singular, plural, months), no figure to
divide, half-way quality, several currencies and large values, a report late in the day that is
the next day in Shanghai, an open ask, a rep who only asks for help, pipelines up, down and
flat, and no rows at all; in both languages and three zones. The pages themselves were compared
whole on the bench data (bench/README.md, "Issue 22: team, +2 and board pages")."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.template import Context, Template
from django.template.defaultfilters import floatformat
from django.utils import timezone, translation

from coaching.cockpit import Figures, StageRow, empty_pipeline
from coaching.views import cockpit_rows
from crm.models import Lead, Report, ReportKind, User
from crm.pipeline import Stage

# The templates the rows were written with until cockpit_rows.py (commit ff0bcdd), each with
# templates/coaching/_figure_cells.html in place of its include.
OLD_REP_TABLE = """{% load i18n %}    <tbody>{% for row in rows %}<tr data-rep="{{ row.key }}">
      <th scope="row"><a href="{% url 'coach-rep' row.key %}?days={{ days }}">{{ row.name }}</a>{% if row.next_lead_ask %} <span class="tag ok ask-open" data-asks="{{ row.key }}">{% translate "asks for the next lead" %}</span>{% endif %}
        <a class="small muted" href="{% url 'lead-list' %}?owner={{ row.key }}">{% translate "leads" %}</a></th><td class="num" data-figure="open_leads">{{ row.open_leads }}</td>
<td class="num" data-figure="open_value">{% for currency, total in row.open_values %}<span class="money">{{ currency }} {{ total|floatformat:"0g" }}</span>{% empty %}—{% endfor %}</td>
<td class="num" data-figure="rib_share">{% if row.rib_share is not None %}{{ row.rib_share }}%{% else %}—{% endif %}</td>
<td data-figure="stalled">{{ row.stalled }}{% if row.oldest_stalled_id %} <a class="small" href="{% url 'lead-detail' row.oldest_stalled_id %}">{{ row.oldest_stalled_company }}</a>{% endif %}</td>
<td data-figure="last_report">{% if row.last_report_at %}<span class="when">{{ row.last_report_at|date:"Y-m-d" }}</span> <span class="small muted when">{% if row.days_since_report == 0 %}{% translate "today" %}{% else %}{% blocktranslate count counter=row.days_since_report %}{{ counter }} day ago{% plural %}{{ counter }} days ago{% endblocktranslate %}{% endif %}</span>{% else %}<span class="overdue">{% translate "never" %}</span>{% endif %}</td>
<td class="num" data-figure="on_time">{% if row.reports %}{{ row.on_time }}/{{ row.reports }} · {{ row.on_time_share }}%{% else %}—{% endif %}</td>
<td class="num" data-figure="quality">{% if row.quality is not None %}{{ row.quality|floatformat:0 }}{% else %}—{% endif %}</td>
<td class="num" data-figure="conversion">{% if row.conversion is not None %}{{ row.conversion }}% <span class="small muted">({{ row.handed_won }}/{{ row.handed_won|add:row.handed_lost }})</span>{% else %}—{% endif %}</td>
<td class="num" data-figure="thanks">{% if row.handed_won %}{{ row.wins_thanked }}/{{ row.handed_won }}{% else %}—{% endif %}</td>
<td data-figure="asks">{{ row.open_asks }}{% if row.oldest_ask_days is not None %} <span class="small muted">({% blocktranslate count counter=row.oldest_ask_days %}{{ counter }} day{% plural %}{{ counter }} days{% endblocktranslate %})</span>{% endif %}</td>

      <td class="num" data-figure="nudges">{% if row.nudges %}{{ row.nudges_done }}/{{ row.nudges }} · {{ row.nudges_share }}%{% else %}—{% endif %}</td>
      <td data-figure="help">{% if row.only_asks_help %}<span class="tag warn">{% translate "only asks for help" %}</span>{% else %}—{% endif %}</td>
    </tr>{% empty %}<tr><td colspan="13" class="empty">{% translate "This team has no reps yet." %}</td></tr>{% endfor %}</tbody>
    <tfoot><tr data-team="{{ total.key }}"><th scope="row">{% translate "Whole team (with the unassigned pool)" %}</th>{% with row=total %}<td class="num" data-figure="open_leads">{{ row.open_leads }}</td>
<td class="num" data-figure="open_value">{% for currency, total in row.open_values %}<span class="money">{{ currency }} {{ total|floatformat:"0g" }}</span>{% empty %}—{% endfor %}</td>
<td class="num" data-figure="rib_share">{% if row.rib_share is not None %}{{ row.rib_share }}%{% else %}—{% endif %}</td>
<td data-figure="stalled">{{ row.stalled }}{% if row.oldest_stalled_id %} <a class="small" href="{% url 'lead-detail' row.oldest_stalled_id %}">{{ row.oldest_stalled_company }}</a>{% endif %}</td>
<td data-figure="last_report">{% if row.last_report_at %}<span class="when">{{ row.last_report_at|date:"Y-m-d" }}</span> <span class="small muted when">{% if row.days_since_report == 0 %}{% translate "today" %}{% else %}{% blocktranslate count counter=row.days_since_report %}{{ counter }} day ago{% plural %}{{ counter }} days ago{% endblocktranslate %}{% endif %}</span>{% else %}<span class="overdue">{% translate "never" %}</span>{% endif %}</td>
<td class="num" data-figure="on_time">{% if row.reports %}{{ row.on_time }}/{{ row.reports }} · {{ row.on_time_share }}%{% else %}—{% endif %}</td>
<td class="num" data-figure="quality">{% if row.quality is not None %}{{ row.quality|floatformat:0 }}{% else %}—{% endif %}</td>
<td class="num" data-figure="conversion">{% if row.conversion is not None %}{{ row.conversion }}% <span class="small muted">({{ row.handed_won }}/{{ row.handed_won|add:row.handed_lost }})</span>{% else %}—{% endif %}</td>
<td class="num" data-figure="thanks">{% if row.handed_won %}{{ row.wins_thanked }}/{{ row.handed_won }}{% else %}—{% endif %}</td>
<td data-figure="asks">{{ row.open_asks }}{% if row.oldest_ask_days is not None %} <span class="small muted">({% blocktranslate count counter=row.oldest_ask_days %}{{ counter }} day{% plural %}{{ counter }} days{% endblocktranslate %})</span>{% endif %}</td>
{% endwith %}<td></td><td></td></tr></tfoot>
"""  # noqa: E501
OLD_TEAM_TABLE = """{% load i18n %}    <tbody>{% for row in rows %}<tr data-team="{{ row.key }}">
      <th scope="row"><a href="{% url 'coach-team-detail' row.key %}?days={{ days }}">{{ row.name }}</a></th>
      <td>{{ row.manager }}</td><td class="num" data-figure="reps">{{ row.reps }}</td>
      <td class="num" data-figure="open_leads">{{ row.open_leads }}</td>
<td class="num" data-figure="open_value">{% for currency, total in row.open_values %}<span class="money">{{ currency }} {{ total|floatformat:"0g" }}</span>{% empty %}—{% endfor %}</td>
<td class="num" data-figure="rib_share">{% if row.rib_share is not None %}{{ row.rib_share }}%{% else %}—{% endif %}</td>
<td data-figure="stalled">{{ row.stalled }}{% if row.oldest_stalled_id %} <a class="small" href="{% url 'lead-detail' row.oldest_stalled_id %}">{{ row.oldest_stalled_company }}</a>{% endif %}</td>
<td data-figure="last_report">{% if row.last_report_at %}<span class="when">{{ row.last_report_at|date:"Y-m-d" }}</span> <span class="small muted when">{% if row.days_since_report == 0 %}{% translate "today" %}{% else %}{% blocktranslate count counter=row.days_since_report %}{{ counter }} day ago{% plural %}{{ counter }} days ago{% endblocktranslate %}{% endif %}</span>{% else %}<span class="overdue">{% translate "never" %}</span>{% endif %}</td>
<td class="num" data-figure="on_time">{% if row.reports %}{{ row.on_time }}/{{ row.reports }} · {{ row.on_time_share }}%{% else %}—{% endif %}</td>
<td class="num" data-figure="quality">{% if row.quality is not None %}{{ row.quality|floatformat:0 }}{% else %}—{% endif %}</td>
<td class="num" data-figure="conversion">{% if row.conversion is not None %}{{ row.conversion }}% <span class="small muted">({{ row.handed_won }}/{{ row.handed_won|add:row.handed_lost }})</span>{% else %}—{% endif %}</td>
<td class="num" data-figure="thanks">{% if row.handed_won %}{{ row.wins_thanked }}/{{ row.handed_won }}{% else %}—{% endif %}</td>
<td data-figure="asks">{{ row.open_asks }}{% if row.oldest_ask_days is not None %} <span class="small muted">({% blocktranslate count counter=row.oldest_ask_days %}{{ counter }} day{% plural %}{{ counter }} days{% endblocktranslate %})</span>{% endif %}</td>

      <td class="num" data-figure="unacknowledged">{{ row.unacknowledged }}</td>
    </tr>{% empty %}<tr><td colspan="14" class="empty">{% translate "No team reports to you yet." %}</td></tr>{% endfor %}</tbody>
"""  # noqa: E501
OLD_RANKING = """{% load i18n kaopu_text %}    <tbody>{% for row in reps %}<tr data-rank-rep="{{ row.key }}">
      <th scope="row" data-label="{% translate 'Rep' %}"><a href="{% url 'coach-rep' row.key %}?days={{ days }}">{{ row.name }}</a></th>
      <td data-label="{% translate 'Team' %}" data-figure="team">{% if row.team_id %}<a href="{% url 'coach-team-detail' row.team_id %}?days={{ days }}">{{ row.team_name }}</a>{% endif %}</td>
      <td class="num" data-label="{% translate 'Reports on time' %}" data-figure="on_time">{% if row.reports %}{{ row.on_time_share }}% <span class="small muted">({{ row.on_time }}/{{ row.reports }})</span>{% else %}—{% endif %}</td>
      <td class="num" data-label="{% translate 'Average quality' %}" data-figure="quality">{% if row.quality is not None %}{{ row.quality|floatformat:0 }}{% else %}—{% endif %}</td>
      <td class="num" data-label="{% translate 'Answers to nudges' %}" data-figure="nudges">{% if row.nudges %}{{ row.nudges_share }}% <span class="small muted">({{ row.nudges_done }}/{{ row.nudges }})</span>{% else %}—{% endif %}</td>
      <td class="num" data-label="{% translate 'Conversion' %}" data-figure="conversion">{% if row.conversion is not None %}{{ row.conversion }}% <span class="small muted">({{ row.handed_won }}/{{ row.handed_won|add:row.handed_lost }})</span>{% else %}—{% endif %}</td>
      <td class="num" data-label="{% translate 'Thanks after wins' %}" data-figure="thanks">{% if row.handed_won %}{{ row.wins_thanked }}/{{ row.handed_won }}{% else %}—{% endif %}</td>
      <td class="num" data-label="{% translate 'Open leads' %}" data-figure="open_leads">{{ row.open_leads }}</td>
      <td class="num" data-label="{% translate 'Stalled' %}" data-figure="stalled">{{ row.stalled }}</td>
      <td class="num" data-label="{% translate 'Last report' %}" data-figure="last_report">{% if row.last_report_at %}{% if row.days_since_report == 0 %}{% translate "today" %}{% else %}{% blocktranslate with span=row.days_since_report|duration %}{{ span }} ago{% endblocktranslate %}{% endif %}{% else %}<span class="overdue">{% translate "never" %}</span>{% endif %}</td>
      <td data-label="{% translate 'Only asks for help' %}" data-figure="help">{% if row.only_asks_help %}<span class="tag warn">{% translate "only asks for help" %}</span>{% else %}<span class="muted">—</span>{% endif %}</td>
    </tr>{% empty %}<tr><td colspan="11" class="empty">{% translate "Your teams have no reps yet." %}</td></tr>{% endfor %}</tbody>
"""  # noqa: E501
OLD_PIPELINES = """{% load i18n %}    <tbody>{% for row, pipe in team_pipes %}<tr data-team="{{ row.key }}">
      <th scope="row"><a href="{% url 'coach-team-detail' row.key %}?days={{ days }}">{{ row.name }}</a></th>
      {% for stage in pipe %}<td class="num" data-stage="{{ stage.stage }}">{{ stage.count }} <span class="small change {% if stage.change > 0 %}up{% elif stage.change < 0 %}down{% endif %}">({{ stage.change_text }})</span>
        {% for currency, value in stage.totals %}<span class="money small muted">{{ currency }} {{ value|floatformat:"0g" }}</span>{% endfor %}</td>{% endfor %}
    </tr>{% endfor %}</tbody>
"""  # noqa: E501
OLD_STALLED = """{% load i18n %}    <tbody>{% for lead in stalled %}<tr data-lead="{{ lead.pk }}">
      <th scope="row"><a href="{% url 'lead-detail' lead.pk %}">{{ lead.company }}</a>{% if lead.is_chicken_rib %} <span class="tag rib">{% translate "Chicken rib" %}</span>{% endif %}</th>
      <td>{{ lead.owner|default_if_none:_("Unassigned") }}</td>
      <td><span class="stage stage-{{ lead.stage }}">{{ lead.get_stage_display }}</span></td>
      <td class="num" data-figure="idle">{{ lead.idle_for.days }}</td>
      <td data-figure="plan">{% if lead.open_plan_id %}{% if sees_all_reports or lead.open_plan_shared %}<a href="{% url 'report-detail' lead.open_plan_id %}">{% blocktranslate with when=lead.open_plan_at|date:"Y-m-d" %}plan sent {{ when }}, waiting for a decision{% endblocktranslate %}</a>{% else %}{% blocktranslate with when=lead.open_plan_at|date:"Y-m-d" %}plan sent {{ when }}, waiting for a decision{% endblocktranslate %} <span class="small muted">{% translate "(not shared with you)" %}</span>{% endif %}{% else %}<span class="muted">—</span>{% endif %}</td>
    </tr>{% endfor %}</tbody>
"""  # noqa: E501

# The same fragments as templates/coaching/team.html and director.html write them now.
NEW_REP_TABLE = """{% load i18n %}    <tbody>{{ rep_table.rows }}</tbody>
    <tfoot><tr data-team="{{ total.key }}"><th scope="row">{% translate "Whole team (with the unassigned pool)" %}</th>{{ rep_table.total }}<td></td><td></td></tr></tfoot>
"""  # noqa: E501
NEW_STALLED = "    <tbody>{{ stalled_rows }}</tbody>\n"
NEW_TEAM_TABLE = "    <tbody>{{ team_table }}</tbody>\n"
NEW_RANKING = "    <tbody>{{ ranking_rows }}</tbody>\n"
NEW_PIPELINES = "    <tbody>{{ team_pipelines }}</tbody>\n"

TOM = '<Tom & "Jerry">'
# 16:30 UTC on 1 March: already 2 March in Shanghai, still 1 March in Berlin and Los Angeles.
LATE = dt.datetime(2026, 3, 1, 16, 30, tzinfo=dt.UTC)


def figures() -> list[Figures]:
    """Rows with every branch of every cell: a full row, an empty one, singulars, long spans."""
    full = Figures(
        key=7,
        name=TOM,
        open_leads=50000,
        open_values=[("CNY", Decimal("1234567.89")), ("USD", Decimal("0.50"))],
        rib_open=12,
        stalled=3,
        oldest_stalled_id=42,
        oldest_stalled_company="O'Brien & <Sons>",
        last_report_at=LATE,
        days_since_report=1,
        reports=4,
        on_time=3,
        quality=72.5,
        handed_won=2,
        handed_lost=1,
        wins_thanked=1,
        open_asks=2,
        oldest_ask_days=1,
        unacknowledged=5,
        reps=10,
        manager="Wang <Wei>",
        team_id=3,
        team_name="Team & <b>East</b>",
        nudges=9,
        nudges_done=4,
        only_asks_help=True,
        next_lead_ask=object(),
    )
    empty = Figures(key=8, name="无人", manager="李经理")
    today = Figures(
        key=9,
        name="Zoë",
        last_report_at=LATE,
        days_since_report=0,
        reports=1,
        quality=0.4999,
        handed_lost=2,
        open_asks=1,
        oldest_ask_days=0,
        team_id=4,
        team_name="华东",
        nudges=1,
    )
    long_ago = Figures(
        key=10,
        name="Old timer",
        last_report_at=LATE - dt.timedelta(days=400),
        days_since_report=400,
        reports=0,
        quality=99.5,
        handed_won=1,
        open_asks=3,
        oldest_ask_days=95,
        open_values=[("EUR", Decimal("999.5"))],
        team_id=4,
        team_name="华东",
    )
    months = Figures(key=11, name="Months", last_report_at=LATE, days_since_report=75)
    return [full, empty, today, long_ago, months]


def pipelines(rows: list[Figures]) -> list[tuple[Figures, list[StageRow]]]:
    up = empty_pipeline()
    up[0].count, up[0].count_before = 5, 2
    up[1].count, up[1].count_before = 1, 4
    up[2].totals = [("CNY", Decimal("1500000")), ("USD", Decimal("12.49"))]
    return [(rows[0], up), (rows[1], empty_pipeline())]


def render(source: str, context: dict[str, Any]) -> str:
    return Template(source).render(Context(context))


LANGUAGES = pytest.mark.parametrize("language", ["en", "zh-hans"])
ZONES = pytest.mark.parametrize("zone", ["Asia/Shanghai", "Europe/Berlin", "America/Los_Angeles"])


@LANGUAGES
@ZONES
@pytest.mark.parametrize("n", [0, 1, 5])
def test_the_rep_table_is_the_templates(language: str, zone: str, n: int) -> None:
    rows, total = figures()[:n], figures()[0]
    with translation.override(language), timezone.override(zone):
        expected = render(OLD_REP_TABLE, {"rows": rows, "total": total, "days": 7})
        table = cockpit_rows.rep_table(rows, total, days=7)
        written = render(NEW_REP_TABLE, {"rep_table": table, "total": total})
    assert written == expected
    assert written.count("<tr data-rep=") == n


@LANGUAGES
@ZONES
@pytest.mark.parametrize("n", [0, 5])
def test_the_plus2_tables_are_the_templates(language: str, zone: str, n: int) -> None:
    rows = figures()[:n]
    with translation.override(language), timezone.override(zone):
        for old, new, name, made in (
            (OLD_TEAM_TABLE, NEW_TEAM_TABLE, "team_table", cockpit_rows.team_table(rows, days=90)),
            (OLD_RANKING, NEW_RANKING, "ranking_rows", cockpit_rows.ranking_rows(rows, days=90)),
        ):
            expected = render(old, {"rows": rows, "reps": rows, "days": 90})
            assert render(new, {name: made}) == expected, name
        pipes = pipelines(figures())[:n]
        expected = render(OLD_PIPELINES, {"team_pipes": pipes, "days": 90})
        made = cockpit_rows.team_pipelines(pipes, days=90)
        assert render(NEW_PIPELINES, {"team_pipelines": made}) == expected


def stalled() -> list[Lead]:
    """Stalled leads as coaching.cockpit.stalled_leads annotates them: a plan shared with the
    director, one not shared, none, no owner, a chicken rib, markup in names."""
    owner = User(pk=5, username="wang", display_name=TOM)
    out = []
    for pk, (company, plan_id, shared, idle) in enumerate(
        [
            ("O'Brien & <Sons>", 31, True, 15),
            ("华润科技（上海）有限公司", 32, False, 1),
            ("No plan", None, None, 400),
            ("Nobody's", None, None, 0),
        ],
        start=100,
    ):
        lead = Lead(pk=pk, company=company, stage=Stage.PROPOSAL, is_chicken_rib=pk % 2 == 0)
        lead.owner = None if pk == 103 else owner
        lead.idle_for = dt.timedelta(days=idle, hours=5)  # type: ignore[attr-defined]
        lead.open_plan_id = plan_id  # type: ignore[attr-defined]
        lead.open_plan_at = LATE if plan_id else None  # type: ignore[attr-defined]
        lead.open_plan_shared = shared  # type: ignore[attr-defined]
        out.append(lead)
    return out


@LANGUAGES
@ZONES
@pytest.mark.parametrize("sees_all_reports", [True, False])
def test_the_stalled_leads_are_the_templates(
    language: str, zone: str, sees_all_reports: bool
) -> None:
    leads = stalled()
    with translation.override(language), timezone.override(zone):
        expected = render(OLD_STALLED, {"stalled": leads, "sees_all_reports": sees_all_reports})
        made = cockpit_rows.stalled_rows(leads, sees_all_reports=sees_all_reports)
        assert render(NEW_STALLED, {"stalled_rows": made}) == expected
    assert made.count("report-detail") == 0  # the link is the URL, not the route's name
    assert made.count("/reports/") == (2 if sees_all_reports else 1)


# templates/coaching/team.html's pipeline and debt lists until cockpit_rows.pipeline_rows and
# debt_rows.
OLD_PIPELINE = """{% load i18n %}      <tbody>{% for stage in pipeline %}<tr data-stage="{{ stage.stage }}">
        <th scope="row"><span class="stage stage-{{ stage.stage }}">{{ stage.label }}</span></th>
        <td class="num" data-figure="count">{{ stage.count }}</td>
        <td class="num" data-figure="value">{% for currency, value in stage.totals %}<span class="money">{{ currency }} {{ value|floatformat:"0g" }}</span>{% empty %}—{% endfor %}</td>
        <td class="num change {% if stage.change > 0 %}up{% elif stage.change < 0 %}down{% endif %}" data-figure="change">{{ stage.change_text }}</td>
      </tr>{% endfor %}</tbody>
"""  # noqa: E501
NEW_PIPELINE = "      <tbody>{{ pipeline_rows }}</tbody>\n"
OLD_DEBT = """{% load i18n %}<ul class="plain" id="debt-unacknowledged">
        {% for report in debt.unacknowledged %}<li><a href="{% url 'report-detail' report.pk %}">{{ report.author }} · {{ report.get_kind_display }}{% if report.lead %} · {{ report.lead.company }}{% endif %}</a>
          <div class="small muted">{% blocktranslate count counter=report.waited.days %}waiting {{ counter }} day{% plural %}waiting {{ counter }} days{% endblocktranslate %}</div></li>{% endfor %}
      </ul><ul class="plain" id="debt-asks">
        {% for report in debt.asks %}<li><a href="{% url 'report-detail' report.pk %}">{{ report.author }}: {{ report.ask|truncatechars:90 }}</a>
          <div class="small muted">{% blocktranslate count counter=report.waited.days %}waiting {{ counter }} day{% plural %}waiting {{ counter }} days{% endblocktranslate %}{% if report.ask_due %} · {% blocktranslate with due=report.ask_due|date:"Y-m-d" %}needed by {{ due }}{% endblocktranslate %}{% endif %}</div></li>{% endfor %}
      </ul>"""  # noqa: E501
NEW_DEBT = """<ul class="plain" id="debt-unacknowledged">
        {{ debt_rows.unacknowledged }}
      </ul><ul class="plain" id="debt-asks">
        {{ debt_rows.asks }}
      </ul>"""


def debt() -> dict[str, list[Report]]:
    """Reports as coaching.cockpit.my_debt lists them: with and without a lead, every kind,
    waiting 0, 1 and 400 days, asks short and past 90 characters, with markup, with and
    without a date they are needed by."""
    author = User(pk=5, username="wang", display_name=TOM)
    lead = Lead(pk=77, company="O'Brien & <Sons>")
    reports = []
    for pk, (kind, with_lead, waited, ask, due) in enumerate(
        [
            (ReportKind.PROGRESS, True, 0, "", None),
            (ReportKind.QUESTION, False, 1, 'Can I offer <b>10%</b> & free "shipping"?', None),
            (
                ReportKind.ESCALATION,
                True,
                400,
                "请帮忙联系客户的采购总监。" * 10,
                dt.date(2026, 3, 2),
            ),
            (ReportKind.LOSS_REVIEW, False, 2, "x" * 90, dt.date(2027, 1, 31)),
        ],
        start=300,
    ):
        report = Report(pk=pk, kind=kind, ask=ask, ask_due=due)
        report.author = author
        report.lead = lead if with_lead else None
        report.waited = dt.timedelta(days=waited, hours=23)  # type: ignore[attr-defined]
        reports.append(report)
    return {"unacknowledged": reports, "asks": reports[1:]}


@LANGUAGES
@ZONES
def test_the_pipeline_and_the_debt_lists_are_the_templates(language: str, zone: str) -> None:
    pipe = pipelines(figures())[0][1]
    pipe[3].count_before = 2  # a stage down by two
    lists = debt()
    with translation.override(language), timezone.override(zone):
        expected = render(OLD_PIPELINE, {"pipeline": pipe})
        made = cockpit_rows.pipeline_rows(pipe)
        assert render(NEW_PIPELINE, {"pipeline_rows": made}) == expected
        assert expected.count('class="num change down"') == 2
        expected = render(OLD_DEBT, {"debt": lists})
        written = render(NEW_DEBT, {"debt_rows": cockpit_rows.debt_rows(lists)})
        assert written == expected
    assert written.count("<li>") == 7 and TOM not in written
    assert cockpit_rows.debt_rows(None) == {}


@LANGUAGES
@pytest.mark.parametrize(
    "value",
    [
        Decimal("0"),
        Decimal("0.49"),
        Decimal("0.5"),
        Decimal("999.5"),
        Decimal("1234567.89"),
        Decimal("1500000.00"),
        Decimal("-2.5"),
        Decimal("-0.4"),
        Decimal("12345678901234567890.5"),
        0,
        1234,
        2.5,
    ],
)
def test_amounts_are_floatformats(language: str, value: Decimal | int) -> None:
    with translation.override(language):
        assert cockpit_rows._whole(value) == floatformat(value, "0g")


def test_values_are_escaped_and_the_day_is_the_readers() -> None:
    rows = figures()
    with timezone.override("Asia/Shanghai"):
        html = cockpit_rows.rep_table(rows, rows[0], days=7)["rows"]
        ranking = cockpit_rows.ranking_rows(rows, days=7)
    assert "&lt;Tom &amp; &quot;Jerry&quot;&gt;" in html
    assert "O&#x27;Brien &amp; &lt;Sons&gt;" in html
    assert '<span class="when">2026-03-02</span>' in html
    assert "Team &amp; &lt;b&gt;East&lt;/b&gt;" in ranking
    assert TOM not in html + ranking
    with timezone.override("Asia/Shanghai"):
        leads = cockpit_rows.stalled_rows(stalled(), sees_all_reports=True)
    assert "O&#x27;Brien &amp; &lt;Sons&gt;" in leads
    assert "plan sent 2026-03-02" in leads
    assert TOM not in leads
