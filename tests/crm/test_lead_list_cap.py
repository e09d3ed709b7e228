"""The lead list counts no further than its cap (issue 22): under it the count and the pages
are exact; past it the list reads "N+ leads" in both languages, says the pages end there, and
the pager walks those pages (a page asked past them shows the last); the count reads at most
cap + 1 rows."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.models import User
from crm.views import leads as lead_views
from tests.factories import bulk_leads

if TYPE_CHECKING:
    from tests.conftest import Company

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_cap(company: Company, monkeypatch: pytest.MonkeyPatch, settings: object) -> None:
    monkeypatch.setattr(lead_views, "COUNT_CAP", 6)
    settings.KAOPU_PAGE_SIZE = 2  # type: ignore[attr-defined]


def listed(client: Client, query: str = "") -> str:
    response = client.get(reverse("lead-list") + query)
    assert response.status_code == 200
    return response.content.decode()


def companies(page: str) -> list[str]:
    return re.findall(r">(Cap Co \d+)<", page)


def set_language(user: User, language: str) -> None:
    User.objects.filter(pk=user.pk).update(language=language)


@pytest.mark.usefixtures("small_cap")
def test_under_the_cap_the_count_is_exact(company: Company, client: Client) -> None:
    bulk_leads(2, company=lambda i: f"Cap Co {i:02d}", team=company.team_a, source="brand")
    client.force_login(company.manager_a)
    page = listed(client)  # the fixture's 3 team A leads and these 2
    assert "5 leads" in page and "+ leads" not in page
    assert "Page 1 of 3" in page


@pytest.mark.usefixtures("small_cap")
def test_past_the_cap_the_list_says_so_and_pages_to_it(company: Company, client: Client) -> None:
    bulk_leads(20, company=lambda i: f"Cap Co {i:02d}", team=company.team_a, source="brand")
    client.force_login(company.manager_a)
    first = listed(client)
    assert "6+ leads" in first and "the pages show the first 6" in first
    assert "Page 1 of 3" in first and 'rel="next"' in first
    last = listed(client, "?page=3")
    assert "Page 3 of 3" in last and 'rel="next"' not in last and 'rel="prev"' in last
    assert listed(client, "?page=9").count("Page 3 of 3") == 1  # past the pages: the last
    seen = companies(first) + companies(listed(client, "?page=2")) + companies(last)
    assert len(seen) == len(set(seen)) == 6
    set_language(company.manager_a, "zh-hans")
    chinese = listed(client)
    assert "6+ 个商机" in chinese and "列表只列出前 6 个商机" in chinese


def test_the_count_reads_at_most_the_cap(company: Company, client: Client) -> None:
    client.force_login(company.director)
    with CaptureQueriesContext(connection) as ctx:
        listed(client, "?stage=open")  # unfiltered, the tally counts (below)
    (count,) = [
        q["sql"] for q in ctx.captured_queries if "COUNT(" in q["sql"] and "crm_lead" in q["sql"]
    ]
    assert f"LIMIT {lead_views.COUNT_CAP + 1}" in count, count
    assert "ORDER BY" not in count, count
    # Neither the rows' owner names nor when they were last idle are read to count them.
    assert "JOIN" not in count and "COALESCE" not in count, count


@pytest.mark.usefixtures("small_cap")
def test_unfiltered_the_teams_list_counts_from_the_tally(company: Company, client: Client) -> None:
    """A manager's or +2's list with no filter takes its number from the lead tally (no count
    of leads): the same number as the rows, under and past the cap, and after a change."""
    bulk_leads(2, company=lambda i: f"Cap Co {i:02d}", team=company.team_a, source="brand")
    client.force_login(company.manager_a)
    with CaptureQueriesContext(connection) as ctx:
        page = listed(client, "?sort=company")  # a sort is no filter
    counts = [q["sql"] for q in ctx.captured_queries if "COUNT(" in q["sql"]]
    assert not [sql for sql in counts if "crm_lead" in sql], counts
    assert any("crm_leadtally" in q["sql"] for q in ctx.captured_queries)
    assert "5 leads" in page and "Page 1 of 3" in page
    company.lead_a1.delete()
    assert "4 leads" in listed(client) and "Page 2 of 2" in listed(client, "?page=2")
    assert len(re.findall(r'<tr>\s*<td><a href="/leads/\d+/"', listed(client, "?page=2"))) == 2
    bulk_leads(20, company=lambda i: f"Cap Co {i + 10:02d}", team=company.team_a, source="brand")
    assert "6+ leads" in listed(client)
    client.force_login(company.director)
    assert "6+ leads" in listed(client)


@pytest.mark.parametrize("who", ["rep_a1", "admin"])
def test_a_rep_and_an_admin_count_the_leads(company: Company, client: Client, who: str) -> None:
    """A rep's own leads may lie in several teams, an admin's are every team's: counted from the
    leads, all of them."""
    client.force_login(getattr(company, who))
    with CaptureQueriesContext(connection) as ctx:
        page = listed(client)
    assert not any("crm_leadtally" in q["sql"] for q in ctx.captured_queries)
    shown = len(re.findall(r'<tr>\s*<td><a href="/leads/\d+/"', page))
    # The whole number: "7 lead" would also match "17 leads".
    assert shown and re.search(rf'<p class="muted">{shown} leads?\b', page)
