"""The coach's pages for the loop (issue 15): the director's ranking of every rep across their
teams, the "only asks for help" pattern on the team page, loyalty beside thanks after a win, the
year-end letter naming the wins each person helped with, and the rep's side of hand-outs — their
own figures and the ask for the next good lead.

Everything is built through the CRM's and the coach's services; the clock stands on Monday
3 March 2025 (the coaching conftest) and moves where a test says so.
"""

from __future__ import annotations

import datetime as dt
import re
from html import unescape
from typing import TYPE_CHECKING, Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from coaching import cockpit, next_lead, selectors
from coaching import services as coach
from coaching.cockpit import ranking
from coaching.models import NextLeadAsk, Thanks, ThanksKind
from crm import services as crm
from crm.models import AskKind, Report, ReportKind, Role, Team
from crm.pipeline import Stage
from tests.coaching.helpers import START, report
from tests.factories import hand_off, lead_new, make_user

if TYPE_CHECKING:
    from crm.models import Lead, User
    from tests.conftest import Company

pytestmark = pytest.mark.django_db


def day(n: float) -> dt.datetime:
    return START + dt.timedelta(days=n)


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def page(client: Any, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return response.content.decode()


def ranked_reps(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr data-rank-rep="(\d+)">', html)]


def cells(html: str, rep: User) -> dict[str, str]:
    row = re.search(rf'<tr data-rank-rep="{rep.pk}">(.*?)</tr>', html, re.S)
    assert row, f"no ranking row for {rep}"
    found = re.findall(r'data-figure="(\w+)">(.*?)</td>', row.group(1), re.S)
    return {name: text_of(cell) for name, cell in found}


def win(rep: User, lead: Lead) -> None:
    for stage in (Stage.QUALIFIED, Stage.PROPOSAL, Stage.WON):
        crm.lead_change_stage(actor=rep, lead=lead, to_stage=stage)
    lead.refresh_from_db()


# --- 1. The director ranks reps across all their teams ----------------------------------------


@pytest.fixture
def ranked(company: Company, clock: time_machine.Traveller) -> Company:
    """rep_a1: 2 reports, both on time (100%); rep_b1: 1 report on time, 1 late (50%);
    rep_a2: no report at all. Ten days on."""
    c = company
    report(c.rep_a1, c.lead_a1)
    report(c.rep_b1, c.lead_b1)
    clock.move_to(day(3))
    report(c.rep_a1, c.lead_a1)
    clock.move_to(day(12))
    report(c.rep_b1, c.lead_b1)  # late: 12 days after the last one
    return c


def test_the_director_ranks_every_rep_of_their_teams(ranked: Company, client_for: Any) -> None:
    c = ranked
    client = client_for(c.director)
    html = page(client, reverse("coach-director"))
    assert ranked_reps(html) == [c.rep_a1.pk, c.rep_b1.pk, c.rep_a2.pk]  # on time, best first
    assert cells(html, c.rep_a1)["on_time"] == "100% (2/2)"
    assert cells(html, c.rep_b1)["on_time"] == "50% (1/2)"
    assert cells(html, c.rep_b1)["team"] == "Team B"
    assert cells(html, c.rep_a2)["on_time"] == "—"  # no figure: last, whichever the order
    worst_first = page(client, reverse("coach-director") + "?sort=on_time")
    assert ranked_reps(worst_first) == [c.rep_b1.pk, c.rep_a1.pk, c.rep_a2.pk]
    by_name = page(client, reverse("coach-director") + "?sort=name")
    assert ranked_reps(by_name) == [c.rep_a1.pk, c.rep_a2.pk, c.rep_b1.pk]
    assert 'aria-sort="ascending"' in by_name
    # Not on the allow-list: the default order, no error.
    for odd in ("password", "-__class__", "on_time;drop", "--on_time"):
        assert ranked_reps(page(client, reverse("coach-director") + f"?sort={odd}")) == (
            ranked_reps(html)
        )


def test_every_column_sorts_and_the_links_keep_the_period(ranked: Company, client_for: Any) -> None:
    client = client_for(ranked.director)
    for column in ranking.SORTS:
        for param in (column, f"-{column}"):
            html = page(client, reverse("coach-director") + f"?sort={param}&days=90")
            assert len(ranked_reps(html)) == 3
            assert f"days=90&amp;sort={ranking.sort_from(param).toggled(column)}" in html
    swapped = client.get(
        reverse("coach-director") + "?sort=name", headers={"HX-Request": "true"}
    ).content.decode()
    assert "<html" not in swapped and 'id="rep-ranking"' in swapped


def test_the_ranking_sorts_missing_figures_last_both_ways() -> None:
    rows = [
        cockpit.Figures(key=1, name="b", reports=2, on_time=1),
        cockpit.Figures(key=2, name="a"),
        cockpit.Figures(key=3, name="c", reports=2, on_time=2),
    ]
    assert [r.key for r in ranking.ranked(rows, ranking.sort_from("-on_time"))] == [3, 1, 2]
    assert [r.key for r in ranking.ranked(rows, ranking.sort_from("on_time"))] == [1, 3, 2]


def hrefs(html: str) -> set[str]:
    found = {unescape(h) for h in re.findall(r'href="([^"#]+)"', html)}
    return {h for h in found if h.startswith("/") and not h.startswith(("/static/", "/logout"))}


def test_every_link_on_the_directors_pages_opens_for_the_director(
    ranked: Company, clock: time_machine.Traveller, client_for: Any
) -> None:
    """The director page, each team page and each rep page: every link answers 200 (or a
    redirect), never 404 — a plan not shared with the +2 is shown without a link."""
    c = ranked
    clock.move_to(day(20))  # lead_a2 has stalled
    plan = report(c.rep_a2, c.lead_a2, ReportKind.ESCALATION, next_step_due=None)
    assert not plan.share_with_director
    client = client_for(c.director)
    director = page(client, reverse("coach-director"))
    pages = {reverse("coach-director"): director}
    for url in sorted(hrefs(director)):
        if url.startswith(("/coach/team/", "/coach/rep/")):
            pages[url] = page(client, url)
    assert any(u.startswith("/coach/rep/") for u in pages)
    assert any(u.startswith("/coach/team/") for u in pages)
    links = set().union(*(hrefs(html) for html in pages.values()))
    for url in sorted(links):
        status = client.get(url).status_code
        assert status in (200, 302), (url, status)
    team_a = pages[next(u for u in pages if u.startswith(f"/coach/team/{c.team_a.pk}/"))]
    assert "not shared with you" in team_a
    assert reverse("report-detail", args=[plan.pk]) not in team_a
    # The team's manager, who answers it, gets the link.
    manager_view = page(client_for(c.manager_a), reverse("coach-team"))
    assert reverse("report-detail", args=[plan.pk]) in manager_view


# Director page on SQLite: the session, user and badge; the teams with their figures; the
# ranking's reps and their lead/report/hand-off/nudge figures, the "only asks for help" rule's
# setting and query; the pipeline now and a week ago. The same however many reps and teams.
DIRECTOR_QUERIES = 19


def grow(company: Company, n_teams: int, n_reps: int) -> None:
    """`n_teams` more teams under the director, each with `n_reps` reps who each hold a lead
    and have reported (every other one also asked a question)."""
    c_dir = company.director
    for t in range(n_teams):
        manager = make_user(username=f"m{n_teams}-{t}", role=Role.MANAGER)
        team = Team.objects.create(name=f"Grow {n_teams}-{t}", manager=manager, director=c_dir)
        for r in range(n_reps):
            rep = make_user(username=f"r{n_teams}-{t}-{r}", role=Role.REP)
            crm.rep_join_team(user=rep, team=team)
            lead = lead_new(manager, f"Lead {t}-{r}", to=rep)
            report(rep, lead)
            if r % 2:
                report(rep, None, ReportKind.QUESTION)


@pytest.mark.parametrize(("n_teams", "n_reps"), [(1, 2), (4, 6)])
def test_the_director_page_costs_the_same_for_any_company_size(
    company: Company,
    client_for: Any,
    django_assert_max_num_queries: Any,
    n_teams: int,
    n_reps: int,
) -> None:
    grow(company, n_teams, n_reps)
    client = client_for(company.director)
    client.get(reverse("coach-director"))  # warm the session
    with django_assert_max_num_queries(DIRECTOR_QUERIES):
        html = page(client, reverse("coach-director") + "?sort=-quality")
    assert len(ranked_reps(html)) == 3 + n_teams * n_reps


# --- 2. The "only asks for help" pattern, for the manager -------------------------------------


def test_the_manager_sees_who_only_asks_for_help(company: Company, client_for: Any) -> None:
    c = company
    for _ in range(3):
        report(c.rep_a2, None, ReportKind.QUESTION)
    report(c.rep_a1, c.lead_a1)
    html = page(client_for(c.manager_a), reverse("coach-team"))
    row = re.search(rf'<tr data-rep="{c.rep_a2.pk}">(.*?)</tr>', html, re.S)
    assert row and "only asks for help" in text_of(row.group(1))
    other = re.search(rf'<tr data-rep="{c.rep_a1.pk}">(.*?)</tr>', html, re.S)
    assert other and "only asks for help" not in text_of(other.group(1))
    ranked_html = page(client_for(c.director), reverse("coach-director"))
    assert cells(ranked_html, c.rep_a2)["help"] == "only asks for help"
    # A plan breaks the pattern.
    report(c.rep_a2, c.lead_a2)
    html = page(client_for(c.manager_a), reverse("coach-team"))
    row = re.search(rf'<tr data-rep="{c.rep_a2.pk}">(.*?)</tr>', html, re.S)
    assert row and "only asks for help" not in text_of(row.group(1))


# --- 3. After a win: loyalty beside thanks, reward and credit ---------------------------------


def test_the_thanks_page_offers_loyalty_and_sends_it_with_the_note(
    company: Company, client_for: Any
) -> None:
    c = company
    win(c.rep_a1, c.lead_a1)
    client = client_for(c.rep_a1)
    url = reverse("coach-thanks") + f"?lead={c.lead_a1.pk}"
    html = page(client, url)
    assert 'name="loyalty"' in html and "just say the word" in html
    response = client.post(
        url,
        {
            "lead": c.lead_a1.pk,
            "body": "Thank you for Alpha Robotics.",
            "loyalty": "Whenever you need me, I'm there.",
            "reward_note": "",
        },
    )
    assert response.status_code == 302
    thanks = Thanks.objects.get(kind=ThanksKind.WIN)
    assert thanks.body == "Thank you for Alpha Robotics.\n\nWhenever you need me, I'm there."
    assert thanks.recipient == c.manager_a


def test_the_pre_filled_thanks_read_as_a_chinese_rep_writes(
    company: Company, client_for: Any
) -> None:
    c = company
    c.manager_a.display_name = "李哥"
    c.manager_a.save(update_fields=["display_name"])
    win(c.rep_a1, c.lead_a1)
    html = page(client_for(c.rep_a1, "zh-hans"), reverse("coach-thanks") + f"?lead={c.lead_a1.pk}")
    text = text_of(html)
    assert "您招呼一声，我随时在" in text  # loyalty, in the talk's words
    assert "没有李哥就没有这一单" in text  # public credit
    assert "李哥，Alpha Robotics 这一单能拿下" in text  # the private note, addressed by name
    assert "李哥（" not in text and "李哥 (" not in text  # no pinyin after the name


# --- 4. The year-end letter: wins only, what each person did; colleagues added ---------------


@pytest.fixture
def year(company: Company, clock: time_machine.Traveller) -> Company:
    """rep_a1 wins Alpha Robotics (handed down by manager_a, who answered an ask for a joint
    visit and replied) and Won Two (manager_a decided the plan); loses Lose Co (also handed
    down by manager_a). rep_a2, a peer, is named in the public credit for Alpha Robotics."""
    c = company
    ask = report(c.rep_a1, c.lead_a1, ReportKind.ESCALATION)
    Report.objects.filter(pk=ask.pk).update(ask_kind=AskKind.JOINT_VISIT)
    crm.report_answer_ask(actor=c.manager_a, report=ask, state="done", note="Thursday, 9:00.")
    crm.report_reply(actor=c.manager_a, report=ask, body="Bring the reference list.")
    won_two = lead_new(c.manager_a, "Won Two", to=c.rep_a1, value=50_000)
    plan = report(c.rep_a1, won_two, ReportKind.ESCALATION)
    crm.report_decide(actor=c.manager_a, report=plan, decision="keep_pushing", note="Go on.")
    lose = lead_new(c.manager_a, "Lose Co", to=c.rep_a1)
    clock.move_to(day(5))
    win(c.rep_a1, c.lead_a1)
    win(c.rep_a1, won_two)
    crm.lead_change_stage(actor=c.rep_a1, lead=lose, to_stage=Stage.LOST, reason="Price")
    coach.thanks_send(
        author=c.rep_a1,
        lead=c.lead_a1,
        body="Thanks",
        public_post="Thanks to the team",
        credited=[c.manager_a, c.rep_a2],
    )
    return c


def test_the_year_end_letter_names_the_wins_and_what_each_did(year: Company) -> None:
    c = year
    helpers = {h.person: h for h in coach_candidates(c.rep_a1)}
    manager = helpers[c.manager_a]
    assert [(lead.company, kinds) for lead, kinds in manager.lines] == [
        ("Won Two", ["handoff", "decision"]),
        ("Alpha Robotics", ["handoff", "joint_visit", "advice", "credited"]),
    ]
    assert [(lead.company, kinds) for lead, kinds in helpers[c.rep_a2].lines] == [
        ("Alpha Robotics", ["credited"])
    ]


def coach_candidates(user: User, added: tuple[int, ...] = ()) -> list[Any]:
    return selectors.year_end_candidates(user=user, year=2025, added=added)


def test_the_year_end_page_never_lists_a_loss_and_reads_in_chinese(
    year: Company, client_for: Any
) -> None:
    c = year
    html = page(client_for(c.rep_a1), reverse("coach-year-end"))
    assert "Lose Co" not in html
    assert "Won Two: handed the lead to me, decided on my plan" in text_of(html)
    zh = text_of(page(client_for(c.rep_a1, "zh-hans"), reverse("coach-year-end")))
    assert "Lose Co" not in zh
    assert "Alpha Robotics：您把商机交给我、陪我去见客户、给我出主意、和我一起拿下了这一单" in zh


def test_a_rep_adds_a_colleague_who_helped_and_thanks_them(year: Company, client_for: Any) -> None:
    c = year
    client = client_for(c.rep_a1)
    html = page(client, reverse("coach-year-end"))
    options = re.search(r'<select id="id_add" name="add">(.*?)</select>', html, re.S)
    assert options and f'value="{c.manager_b.pk}"' in options.group(1)
    assert f'value="{c.rep_a1.pk}"' not in options.group(1)  # not oneself
    added = page(client, reverse("coach-year-end") + f"?add={c.manager_b.pk}")
    assert f'data-helper="{c.manager_b.pk}"' in added and "added by you" in added
    response = client.post(
        reverse("coach-year-end"),
        {"recipient": c.manager_b.pk, "body": "Thank you for the advice.", "add": c.manager_b.pk},
    )
    assert response.status_code == 302 and f"add={c.manager_b.pk}" in response["Location"]
    assert Thanks.objects.get(kind=ThanksKind.YEAR_END).recipient == c.manager_b
    # An inactive or unknown person, or oneself, is refused with a message; nothing is sent.
    c.manager_b.is_active = False
    c.manager_b.save(update_fields=["is_active"])
    for pk in (c.manager_b.pk, c.rep_a1.pk, 999_999):
        refused = client.post(reverse("coach-year-end"), {"recipient": pk, "body": "Hi"})
        assert refused.status_code == 422
        assert "Choose someone who helped you this year." in refused.content.decode()
    assert Thanks.objects.filter(kind=ThanksKind.YEAR_END).count() == 1


# --- 5. The rep's side of hand-outs -----------------------------------------------------------


def reliable(c: Company, clock: time_machine.Traveller) -> None:
    """rep_a1 sends three reports on time over four days (the bar: 3 in 30 days, 80%)."""
    for n in range(3):
        clock.move_to(day(n * 2))
        report(c.rep_a1, c.lead_a1)


def test_a_rep_sees_their_figures_as_their_manager_does(
    company: Company, clock: time_machine.Traveller, client_for: Any
) -> None:
    c = company
    reliable(c, clock)
    mine = page(client_for(c.rep_a1), reverse("coach-me"))
    theirs = page(client_for(c.manager_a), reverse("coach-rep", args=[c.rep_a1.pk]))
    figures = re.compile(r'<dl class="figures" id="rep-figures">.*?</dl>', re.S)
    mine_dl, theirs_dl = figures.search(mine), figures.search(theirs)
    assert mine_dl and theirs_dl and mine_dl.group(0) == theirs_dl.group(0)
    assert "3/3 · 100%" in text_of(mine_dl.group(0))
    row = next(r for r in cockpit.rep_rows(team=c.team_a, days=30) if r.key == c.rep_a1.pk)
    assert f"{row.on_time}/{row.reports}" in mine_dl.group(0)


@pytest.mark.parametrize(
    ("who", "whom", "status"),
    [
        ("rep_a2", "rep_a1", 404),  # another rep's figures
        ("rep_b1", "rep_a1", 404),
        ("manager_b", "rep_a1", 404),  # another team's manager
        ("other_director", "rep_a1", 404),
        ("manager_a", "rep_b1", 404),
        ("manager_a", "rep_a1", 200),
        ("director", "rep_b1", 200),
        ("admin", "rep_a1", 200),
        ("rep_a1", "rep_a1", 302),  # oneself: to "My reliability"
    ],
)
def test_who_may_see_a_reps_figures(
    company: Company, client_for: Any, who: str, whom: str, status: int
) -> None:
    client = client_for(company.people[who])
    url = reverse("coach-rep", args=[company.people[whom].pk])
    assert client.get(url).status_code == status


def test_my_reliability_is_for_reps(company: Company, client_for: Any) -> None:
    for who in ("manager_a", "director", "admin"):
        assert client_for(company.people[who]).get(reverse("coach-me")).status_code == 404
    assert client_for(company.rep_a1).get(reverse("coach-me")).status_code == 200


def test_the_next_lead_ask_waits_for_the_bar(
    company: Company, clock: time_machine.Traveller, client_for: Any
) -> None:
    c = company
    client = client_for(c.rep_a1)
    report(c.rep_a1, c.lead_a1)
    html = page(client, reverse("coach-me"))
    assert "Ask for the next good lead" not in html
    assert "2 more reports on time" in text_of(html)
    refused = client.post(reverse("coach-me"), {"note": "Ready for more"})
    assert refused.status_code == 422 and "Ask once you meet your team" in unescape(
        refused.content.decode()
    )
    assert not NextLeadAsk.objects.exists()
    with pytest.raises(ValidationError):
        next_lead.next_lead_ask(rep=c.rep_a1)


def test_a_reliable_rep_asks_and_the_hand_off_closes_it(
    company: Company, clock: time_machine.Traveller, client_for: Any
) -> None:
    c = company
    reliable(c, clock)
    client = client_for(c.rep_a1)
    assert "Ask for the next good lead" in page(client, reverse("coach-me"))
    response = client.post(reverse("coach-me"), {"note": "Ready for a bigger one."})
    assert response.status_code == 302
    ask = NextLeadAsk.objects.get()
    assert (ask.rep, ask.team, ask.note) == (c.rep_a1, c.team_a, "Ready for a bigger one.")
    assert client.post(reverse("coach-me"), {"note": "again"}).status_code == 422  # one open ask
    # The manager sees it beside the suggestion and on the team page.
    manager = client_for(c.manager_a)
    fragment = page(manager, reverse("coach-handoff-suggest"))
    assert (
        f'<li data-ask-rep="{c.rep_a1.pk}">' in fragment and "Ready for a bigger one." in fragment
    )
    assert f'data-asks="{c.rep_a1.pk}"' in page(manager, reverse("coach-team"))
    # rep_b1's manager does not.
    assert "Ready for a bigger one." not in page(
        client_for(c.manager_b), reverse("coach-handoff-suggest")
    )
    # Handing rep_a1 a lead answers it.
    clock.move_to(day(6))
    hand_off(c.manager_a, c.lead_a_pool, to=c.rep_a1)
    assert list(next_lead.open_asks([c.team_a.pk])) == []
    assert f'data-ask-rep="{c.rep_a1.pk}"' not in page(manager, reverse("coach-handoff-suggest"))
    assert (
        next_lead.next_lead_asks_close(
            rep_id=c.rep_a1.pk, lead_id=c.lead_a_pool.pk, actor_id=c.manager_a.pk
        )
        == 1
    )
    ask.refresh_from_db()
    assert ask.lead == c.lead_a_pool and ask.answered_by == c.manager_a
    # With the earlier ask answered, the rep may ask again.
    assert next_lead.next_lead_ask(rep=c.rep_a1).is_open


def test_an_ask_answered_by_a_hand_off_the_coach_has_not_processed_is_stamped(
    company: Company, clock: time_machine.Traveller
) -> None:
    c = company
    reliable(c, clock)
    first = next_lead.next_lead_ask(rep=c.rep_a1)
    clock.move_to(day(6))
    hand_off(c.manager_a, c.lead_a_pool, to=c.rep_a1)
    second = next_lead.next_lead_ask(rep=c.rep_a1)
    first.refresh_from_db()
    assert first.lead == c.lead_a_pool and first.answered_at is not None
    assert second.is_open


def test_the_rep_withdraws_their_ask(
    company: Company, clock: time_machine.Traveller, client_for: Any
) -> None:
    c = company
    reliable(c, clock)
    next_lead.next_lead_ask(rep=c.rep_a1)
    client = client_for(c.rep_a1)
    assert "Withdraw my ask" in page(client, reverse("coach-me"))
    assert client.post(reverse("coach-me-withdraw")).status_code == 302
    assert list(next_lead.open_asks([c.team_a.pk])) == []


def test_the_bar_follows_the_teams_reliable_rep_setting(
    company: Company, clock: time_machine.Traveller
) -> None:
    c = company
    report(c.rep_a1, c.lead_a1)
    assert next_lead.standing(rep=c.rep_a1)[2] is False
    coach.rule_setting_update(
        actor=c.manager_a,
        team=c.team_a,
        rule_id="reliable_rep",
        enabled=True,
        values={"min_reports": 1, "on_time_share_percent": 80, "days": 30},
    )
    bar, _row, met = next_lead.standing(rep=c.rep_a1)
    assert (bar.min_reports, met) == (1, True)


def test_my_reliability_reads_in_chinese(
    company: Company, clock: time_machine.Traveller, client_for: Any
) -> None:
    reliable(company, clock)
    text = text_of(page(client_for(company.rep_a1, "zh-hans"), reverse("coach-me")))
    assert "我的靠谱程度" in text and "申请下一个好商机" in text
    assert "你" in text


def test_durations_read_natively_on_the_ranking_and_the_rep_page(
    company: Company, clock: time_machine.Traveller, client_for: Any
) -> None:
    c = company
    report(c.rep_a1, c.lead_a1)
    clock.move_to(day(100))
    director = client_for(c.director, "zh-hans")
    ranked_html = page(director, reverse("coach-director"))
    assert cells(ranked_html, c.rep_a1)["last_report"] == "3 个月零 1 周前"
    rep = text_of(page(director, reverse("coach-rep", args=[c.rep_a1.pk])))
    assert "3 个月零 1 周前" in rep and "3 月" not in rep.replace("3 个月", "")
    english = page(client_for(c.director), reverse("coach-director"))
    assert cells(english, c.rep_a1)["last_report"] == "3 months 1 week ago"
