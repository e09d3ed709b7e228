"""The pages people open: the lead list (search, filters, sort, pages), My day, the board and
the profile; and every page keeps to the Content-Security-Policy (no inline script or style)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any

import pytest
import time_machine
from django.db.models import Count
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm import services
from crm.models import ChickenRibReason, Lead, Outcome, Source
from crm.permissions import visible_leads
from crm.pipeline import Stage
from tests.factories import bulk_leads, lead_new

if TYPE_CHECKING:
    from tests.conftest import Company


HTMX = {"HTTP_HX_REQUEST": "true"}
ROW = re.compile(r'<tr>\s*<td><a href="/leads/(\d+)/">([^<]*)</a>')


def rows(html: str) -> list[str]:
    """The companies in the lead table, top to bottom."""
    return [company for _pk, company in ROW.findall(html)]


def row_ids(html: str) -> list[int]:
    return [int(pk) for pk, _company in ROW.findall(html)]


def section(html: str, heading_id: str) -> str:
    """The card under the heading `heading_id` on My day."""
    start = html.index(f'id="{heading_id}"')
    end = html.find("</section>", start)
    return html[start:end]


def fill_team_a(company: Company, count: int) -> None:
    """`count` more of rep_a2's leads in team A, each touched a minute before the last."""
    now = timezone.now()
    bulk_leads(
        count,
        company=lambda i: f"Bulk Lead {i:03d}",
        source=Source.WEBSITE,
        value=lambda i: 100 + i,
        team=company.team_a,
        owner=company.rep_a2,
        created_by=company.manager_a,
        created_at=now,
        updated_at=lambda i: now - dt.timedelta(minutes=i),
        stage_changed_at=now,
    )


# --- lead list ---------------------------------------------------------------------------


def test_lead_list_pages_after_fifty_leads(
    company: Company, client_for: Callable[..., Client]
) -> None:
    fill_team_a(company, 52)  # team A now has 55 leads
    manager = client_for(company.manager_a)

    first = manager.get(reverse("lead-list")).content.decode()
    second = manager.get(reverse("lead-list") + "?page=2").content.decode()

    assert len(row_ids(first)) == 50
    assert "Page 1 of 2" in first
    assert 'rel="next"' in first
    assert len(row_ids(second)) == 5
    assert "Page 2 of 2" in second
    assert 'rel="prev"' in second
    team_a = set(Lead.objects.filter(team=company.team_a).values_list("pk", flat=True))
    assert set(row_ids(first)) | set(row_ids(second)) == team_a
    assert not set(row_ids(first)) & set(row_ids(second))


def test_lead_list_page_links_keep_the_filters(
    company: Company, client_for: Callable[..., Client]
) -> None:
    fill_team_a(company, 52)
    html = client_for(company.manager_a).get(reverse("lead-list") + "?source=website").content
    assert "source=website&amp;page=2" in html.decode()


@pytest.fixture
def valued(company: Company) -> dict[str, Decimal]:
    """rep_a1's leads with distinct values (lead_a1 is worth 1000)."""
    values = {"Low Tide": 50, "Mid River": 700, "High Peak": 9000, "Top Summit": 12000}
    for name, value in values.items():
        lead_new(company.rep_a1, name, value=value)
    return {"Alpha Robotics": Decimal(1000)} | {k: Decimal(v) for k, v in values.items()}


def test_sort_by_value_highest_first(
    company: Company, client_for: Callable[..., Client], valued: dict[str, Decimal]
) -> None:
    html = client_for(company.rep_a1).get(reverse("lead-list") + "?sort=-value").content.decode()
    assert rows(html) == sorted(valued, key=lambda name: valued[name], reverse=True)


def test_sort_by_value_lowest_first(
    company: Company, client_for: Callable[..., Client], valued: dict[str, Decimal]
) -> None:
    html = client_for(company.rep_a1).get(reverse("lead-list") + "?sort=value").content.decode()
    assert rows(html) == sorted(valued, key=lambda name: valued[name])


@pytest.mark.parametrize(
    "sort", ["value;DROP TABLE crm_lead", "__class__", "-updated_at", "owner__password", ""]
)
def test_an_unknown_sort_falls_back_to_recently_updated(
    company: Company, client_for: Callable[..., Client], valued: dict[str, Decimal], sort: str
) -> None:
    rep = client_for(company.rep_a1)
    default = rows(rep.get(reverse("lead-list")).content.decode())

    response = rep.get(reverse("lead-list"), {"sort": sort})

    assert response.status_code == 200
    assert rows(response.content.decode()) == default
    expected = list(
        visible_leads(company.rep_a1)
        .order_by("-updated_at", "-id")
        .values_list("company", flat=True)
    )
    assert default == expected
    assert Lead.objects.count() == 5 + 3  # nothing dropped


@pytest.fixture
def assorted(company: Company) -> dict[str, Lead]:
    """Team A leads that differ in stage, chicken-rib flag, owner and source."""
    won = company.lead_a1
    for stage in (Stage.QUALIFIED, Stage.PROPOSAL, Stage.WON):
        services.lead_change_stage(actor=company.rep_a1, lead=won, to_stage=stage)
    rib = lead_new(
        company.rep_a2,
        "Rib Holdings",
        is_chicken_rib=True,
        chicken_rib_reasons=[ChickenRibReason.COMPETITOR],
    )
    show = lead_new(company.manager_a, "Expo Contacts", source=Source.TRADE_SHOW)
    return {"won": won, "rib": rib, "trade_show": show}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"stage": "won"}, {"Alpha Robotics"}),
        ({"chicken_rib": "yes"}, {"Rib Holdings"}),
        ({"owner": "none"}, {"Pool Foods", "Expo Contacts"}),
        ({"source": "trade_show"}, {"Expo Contacts"}),
        ({"stage": "open", "owner": "none"}, {"Pool Foods", "Expo Contacts"}),
        ({"q": "华润"}, {"华润科技有限公司"}),
        ({"q": "rib hold"}, {"Rib Holdings"}),
    ],
)
def test_lead_list_filters(
    company: Company,
    client_for: Callable[..., Client],
    assorted: dict[str, Lead],
    query: dict[str, str],
    expected: set[str],
) -> None:
    response = client_for(company.manager_a).get(reverse("lead-list"), query)
    assert response.status_code == 200
    assert set(rows(response.content.decode())) == expected


def test_lead_list_filters_by_owner(
    company: Company, client_for: Callable[..., Client], assorted: dict[str, Lead]
) -> None:
    response = client_for(company.manager_a).get(
        reverse("lead-list"), {"owner": str(company.rep_a2.pk)}
    )
    assert set(rows(response.content.decode())) == {"华润科技有限公司", "Rib Holdings"}


def test_lead_list_says_when_nothing_matches(
    company: Company, client_for: Callable[..., Client]
) -> None:
    html = client_for(company.rep_a1).get(reverse("lead-list"), {"q": "no such company"})
    assert "No leads match these filters." in html.content.decode()


def test_htmx_lead_list_returns_only_the_results(
    company: Company, client_for: Callable[..., Client]
) -> None:
    response = client_for(company.manager_a).get(reverse("lead-list"), {"q": "Pool"}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="results"')
    assert "<html" not in html
    assert 'role="search"' not in html
    assert rows(html) == ["Pool Foods"]


def test_a_boosted_lead_list_is_the_whole_page(
    company: Company, client_for: Callable[..., Client]
) -> None:
    response = client_for(company.manager_a).get(
        reverse("lead-list"), HTTP_HX_REQUEST="true", HTTP_HX_BOOSTED="true"
    )
    assert "<html" in response.content.decode()


# --- My day ------------------------------------------------------------------------------


def test_my_day_shows_next_steps_due(company: Company, client_for: Callable[..., Client]) -> None:
    today = timezone.localdate()
    services.lead_update(
        actor=company.rep_a1,
        lead=company.lead_a1,
        data={"next_step": "Send the revised quote", "next_step_due": today},
    )
    services.lead_update(
        actor=company.rep_a2,
        lead=company.lead_a2,
        data={"next_step": "Visit the plant", "next_step_due": today - dt.timedelta(days=2)},
    )
    lead_new(
        company.rep_a1,
        "Later Ltd",
        next_step="Call in spring",
        next_step_due=today + dt.timedelta(days=30),
    )

    mine = client_for(company.rep_a1).get(reverse("my-day")).content.decode()
    due = section(mine, "due-h")
    assert "Alpha Robotics" in due
    assert "Send the revised quote" in due
    assert "Later Ltd" not in due
    assert "华润科技有限公司" not in mine  # rep_a2's lead

    team = section(client_for(company.manager_a).get(reverse("my-day")).content.decode(), "due-h")
    assert "Alpha Robotics" in team
    assert "华润科技有限公司" in team
    assert 'class="overdue"' in team  # rep_a2's step is two days late
    assert team.index("华润科技有限公司") < team.index("Alpha Robotics")  # most overdue first


def test_my_day_shows_stalled_leads(company: Company, client_for: Callable[..., Client]) -> None:
    planned = lead_new(
        company.rep_a1,
        "Planned Co",
        next_step="Tender opens",
        next_step_due=timezone.localdate() + dt.timedelta(days=40),
    )
    worked = lead_new(company.rep_a1, "Busy Works")
    rep_before = client_for(company.rep_a1).get(reverse("my-day")).content.decode()
    assert "Alpha Robotics" not in section(rep_before, "stalled-h")

    with time_machine.travel(timezone.now() + dt.timedelta(days=20), tick=False):
        services.activity_log(
            actor=company.rep_a1, lead=worked, kind="call", outcome=Outcome.REACHED
        )
        # Log in after travelling: a session started 20 days earlier would have expired.
        html = client_for(company.rep_a1).get(reverse("my-day")).content.decode()

    stalled = section(html, "stalled-h")
    assert "Alpha Robotics" in stalled
    # Durations read "19 days" (crm.templatetags.kaopu_text), not timesince's "2 weeks, 6 days".
    assert "idle for 20 days" in stalled
    assert planned.company not in stalled
    assert worked.company not in stalled
    assert "No new hand-offs this week." in section(html, "handoffs-h")


def test_my_day_shows_new_hand_offs(company: Company, client_for: Callable[..., Client]) -> None:
    services.lead_hand_off(
        actor=company.manager_a,
        lead_ids=[company.lead_a_pool.pk],
        to_user=company.rep_a1,
        note="Big account — call before Friday",
    )

    html = client_for(company.rep_a1).get(reverse("my-day")).content.decode()

    handoffs = section(html, "handoffs-h")
    assert "Pool Foods" in handoffs
    assert "manager_a → rep_a1" in handoffs
    assert "Big account — call before Friday" in handoffs
    assert "Bravo Medical" not in html


def test_my_day_numbers_match_the_lists_they_link_to(
    company: Company, client_for: Callable[..., Client]
) -> None:
    services.lead_update(
        actor=company.rep_a2,
        lead=company.lead_a2,
        data={"next_step": "Visit the plant", "next_step_due": timezone.localdate()},
    )
    with time_machine.travel(timezone.now() + dt.timedelta(days=20), tick=False):
        lead_new(company.manager_a, "Fresh Pool Lead")
        manager = client_for(company.manager_a)
        html = manager.get(reverse("my-day")).content.decode()
        links = re.findall(r'<a href="(/leads/\?[^"]+)"><strong>(\d+)</strong>', html)
        assert len(links) == 3, links
        for url, number in links:
            listing = manager.get(url.replace("&amp;", "&")).content.decode()
            assert f"{number} lead" in listing, url
    assert dict((url, int(n)) for url, n in links) == {
        "/leads/?stage=open": 4,
        "/leads/?view=due": 1,  # 华润, overdue
        # The three leads from 20 days ago (华润's next step is overdue, so it counts too);
        # the fresh pool lead is not stalled.
        "/leads/?view=stalled": 3,
    }


# --- board -------------------------------------------------------------------------------

COUNT = re.compile(r'id="col-(\w+)"><a [^>]*>[^<]*</a> <span class="count">(\d+)</span>')


def test_board_shows_counts_per_stage(company: Company, client_for: Callable[..., Client]) -> None:
    services.lead_change_stage(
        actor=company.rep_a1, lead=company.lead_a1, to_stage=Stage.LOST, reason="Price"
    )
    services.lead_change_stage(actor=company.rep_a2, lead=company.lead_a2, to_stage=Stage.CONTACTED)
    for i in range(3):
        lead_new(company.rep_a2, f"Qualified {i}")
    for lead in Lead.objects.filter(company__startswith="Qualified"):
        services.lead_change_stage(actor=company.rep_a2, lead=lead, to_stage=Stage.QUALIFIED)

    for user in (company.manager_a, company.director, company.rep_b1):
        html = client_for(user).get(reverse("lead-board")).content.decode()
        shown = {stage: int(n) for stage, n in COUNT.findall(html)}
        expected = dict.fromkeys(Stage.values, 0) | dict(
            visible_leads(user).values_list("stage").annotate(n=Count("pk"))
        )
        assert shown == expected, user.username
    manager = client_for(company.manager_a).get(reverse("lead-board")).content.decode()
    assert {s: int(n) for s, n in COUNT.findall(manager)} == {
        "new": 1,
        "contacted": 1,
        "qualified": 3,
        "proposal": 0,
        "negotiation": 0,
        "won": 0,
        "lost": 1,
    }


# --- profile -----------------------------------------------------------------------------


def test_profile_switches_language_and_time_zone(
    company: Company, client_for: Callable[..., Client]
) -> None:
    user = company.rep_a1
    Lead.objects.filter(pk=company.lead_a1.pk).update(
        handed_at=dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
    )
    client = client_for(user)
    before = client.get(company.lead_a1.get_absolute_url()).content.decode()
    assert '<html lang="en"' in before
    assert "2026-06-01 20:00" in before  # Asia/Shanghai

    response = client.post(
        reverse("profile"), {"language": "zh-hans", "time_zone": "Europe/Berlin"}
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.language, user.time_zone) == ("zh-hans", "Europe/Berlin")
    assert '<html lang="zh-hans"' in client.get(response["Location"]).content.decode()
    after = client.get(company.lead_a1.get_absolute_url()).content.decode()
    assert '<html lang="zh-hans"' in after
    assert "2026-06-01 14:00" in after  # Europe/Berlin, summer time


def test_profile_refuses_an_unknown_time_zone(
    company: Company, client_for: Callable[..., Client]
) -> None:
    user = company.rep_a1
    response = client_for(user).post(
        reverse("profile"), {"language": "zh-hans", "time_zone": "Mars/Olympus_Mons"}
    )
    assert response.status_code == 422
    assert (
        "Select a valid choice. Mars/Olympus_Mons is not one of the available choices."
        in response.content.decode()
    )
    user.refresh_from_db()
    assert (user.language, user.time_zone) == ("en", "Asia/Shanghai")


def test_profile_shows_the_team_history(
    company: Company, client_for: Callable[..., Client]
) -> None:
    html = client_for(company.rep_a1).get(reverse("profile")).content.decode()
    assert "Team A" in html


# --- every page keeps to the Content-Security-Policy ---------------------------------------


class TagCollector(HTMLParser):
    """Every start tag of a page with its attributes, as a browser would read them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def csp_problems(label: str, response: Any) -> list[str]:
    problems = []
    policy = response.headers.get("Content-Security-Policy", "")
    if "script-src" not in policy or "default-src" not in policy:
        problems.append(f"{label}: no Content-Security-Policy ({policy!r})")
    if "unsafe-inline" in policy or "unsafe-eval" in policy:
        problems.append(f"{label}: the policy allows inline code ({policy!r})")
    parser = TagCollector()
    parser.feed(response.content.decode())
    for tag, attrs in parser.tags:
        if tag == "script" and not attrs.get("src"):
            problems.append(f"{label}: inline <script> {attrs}")
        if tag == "style":
            problems.append(f"{label}: <style> element")
        if "style" in attrs:
            problems.append(f"{label}: style attribute on <{tag}>: {attrs['style']!r}")
        handlers = [name for name in attrs if name.startswith("on")]
        if handlers:
            problems.append(f"{label}: inline event handler {handlers} on <{tag}>")
    return problems


def test_every_page_keeps_to_the_content_security_policy(
    company: Company, client_for: Callable[..., Client]
) -> None:
    lead = company.lead_a1
    # Text people type is shown escaped, never run: hostile input must not add inline code.
    hostile = '<script>alert(1)</script><b style="color:red" onclick="x()">'
    Lead.objects.filter(pk=lead.pk).update(company=f"Alpha {hostile}", notes=hostile)
    lead.refresh_from_db()
    services.activity_log(actor=company.rep_a1, lead=lead, kind="call", note=hostile)
    services.lead_hand_off(
        actor=company.manager_a,
        lead_ids=[company.lead_a_pool.pk],
        to_user=company.rep_a1,
        note=hostile,
    )
    pages = [
        ("my-day", []),
        ("lead-list", []),
        ("lead-create", []),
        ("lead-board", []),
        ("lead-handoff", []),
        ("lead-detail", [lead.pk]),
        ("lead-edit", [lead.pk]),
        ("profile", []),
        ("report-inbox", []),
    ]
    problems: list[str] = []
    for user in (company.manager_a, company.rep_a1):
        for language in ("en", "zh-hans"):
            client = client_for(user, language)
            for name, args in pages:
                if name == "lead-handoff" and user == company.rep_a1:
                    continue
                response = client.get(reverse(name, args=args))
                label = f"{user.username}/{language} {name}"
                if response.status_code != 200:
                    problems.append(f"{label}: status {response.status_code}")
                problems += csp_problems(label, response)
    rep = client_for(company.rep_a1)
    extra = {
        "my-manager": rep.get(reverse("my-manager")),
        "lead-list htmx": rep.get(reverse("lead-list"), **HTMX),
        "lead-create 422": rep.post(reverse("lead-create"), {"company": ""}),
        "lead-edit 422": rep.post(reverse("lead-edit", args=[lead.pk]), {"value": "-1"}),
        "lead-log-activity htmx": rep.post(
            reverse("lead-log-activity", args=[lead.pk]),
            {"kind": "call", "outcome": "reached"},
            **HTMX,
        ),
        "profile 422": rep.post(reverse("profile"), {"time_zone": "Nowhere"}),
        "lead-detail 404": rep.get(reverse("lead-detail", args=[company.lead_b1.pk])),
        "login": Client().get(reverse("login")),
    }
    for label, response in extra.items():
        problems += csp_problems(label, response)
    assert problems == []
