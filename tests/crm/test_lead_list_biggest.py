"""A manager's or +2's lead list sorted biggest first (issue 22) reads each of their teams'
stages by the (team, stage, -value, -id) index as deep as the page's last row, instead of
sorting every lead of the teams: the same leads on every page, in the same order, ties between
equal values included; later pages, filtered lists and a rep's list are sorted as before."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm.models import Lead
from crm.pipeline import Stage
from crm.selectors import walks
from crm.views.leads import walk_depth
from tests.factories import bulk_leads

if TYPE_CHECKING:
    from tests.conftest import Company

pytestmark = pytest.mark.django_db

ROW = re.compile(r'<tr>\s*<td><a href="/leads/(\d+)/">')
PAGES = 4


@pytest.fixture
def spread(company: Company, settings: object) -> None:
    """Leads of both teams in every stage, owned and in the pool, their values few and
    repeating, so pages break inside runs of equal values."""
    settings.KAOPU_PAGE_SIZE = 4  # type: ignore[attr-defined]
    stages = Stage.values
    now = timezone.now()
    for team, owner in ((company.team_a, company.rep_a1), (company.team_b, None)):
        bulk_leads(
            23,
            company=lambda i, t=team.name: f"Big {t} {i:02d}",
            team=team,
            owner=lambda i, o=owner: o if i % 2 else None,
            stage=lambda i: stages[(i * 3) % len(stages)],
            value=lambda i: Decimal((i * 7) % 5) * 1000,
            lost_reason=lambda i: (
                "Went elsewhere" if stages[(i * 3) % len(stages)] == "lost" else ""
            ),
            closed_at=lambda i: now if stages[(i * 3) % len(stages)] in ("won", "lost") else None,
        )


def page_ids(client: Client, query: str) -> tuple[list[int], list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("lead-list") + query)
    assert response.status_code == 200
    return [int(pk) for pk in ROW.findall(response.content.decode())], [
        q["sql"] for q in queries.captured_queries
    ]


def walked(sqls: list[str]) -> bool:
    marker = "CROSS JOIN LATERAL" if connection.vendor == "postgresql" else "UNION ALL"
    return any(marker in sql and '"crm_lead"."value" DESC' in sql for sql in sqls)


@pytest.mark.usefixtures("spread")
@pytest.mark.parametrize("who", ["director", "manager_a"])
def test_each_page_lists_the_same_leads_as_sorting_them_all(
    company: Company, client: Client, who: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = getattr(company, who)
    client.force_login(user)
    teams = [company.team_a.pk, company.team_b.pk] if who == "director" else [company.team_a.pk]
    everything = list(
        Lead.objects.filter(team_id__in=teams)
        .order_by("-value", "-id")
        .values_list("pk", flat=True)
    )
    for page in range(1, PAGES + 1):
        ids, sqls = page_ids(client, f"?sort=-value&page={page}")
        assert walked(sqls), page
        assert ids == everything[(page - 1) * 4 : page * 4], page
    # The count is every lead's, not the walked ones' (the lead tally counts them).
    html = client.get(reverse("lead-list") + "?sort=-value").content.decode()
    assert f"{len(everything)} leads" in html
    # Without the walk (no page walked), the same pages from a sort of every lead.
    monkeypatch.setattr("crm.views.leads.WALKED_PAGES", 0)
    for page in range(1, PAGES + 1):
        ids, sqls = page_ids(client, f"?sort=-value&page={page}")
        assert not walked(sqls), page
        assert ids == everything[(page - 1) * 4 : page * 4], page


@pytest.mark.usefixtures("spread")
def test_later_pages_filters_other_sorts_and_a_reps_list_are_sorted(
    company: Company, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("crm.views.leads.WALKED_PAGES", 2)
    client.force_login(company.director)
    assert walked(page_ids(client, "?sort=-value&page=2")[1])
    everything = list(
        Lead.objects.filter(team_id__in=[company.team_a.pk, company.team_b.pk])
        .order_by("-value", "-id")
        .values_list("pk", flat=True)
    )
    ids, sqls = page_ids(client, "?sort=-value&page=3")
    assert not walked(sqls) and ids == everything[8:12]
    for query in ("?sort=-value&stage=open", "?sort=value", "?sort=company", "?sort=-value&q=Big"):
        assert not walked(page_ids(client, query)[1]), query
    client.force_login(company.rep_a1)
    assert not walked(page_ids(client, "?sort=-value")[1])


def test_only_the_first_pages_asked_by_number_are_walked() -> None:
    assert walk_depth(None, 50) == walk_depth("", 50) == 50
    assert walk_depth("1", 50) == 50
    assert walk_depth(str(walks.WALKED_PAGES), 50) == walks.WALKED_PAGES * 50
    for raw in (str(walks.WALKED_PAGES + 1), "0", "-1", "²", "1.0", "abc", "9" * 5000):
        assert walk_depth(raw, 50) is None, raw
