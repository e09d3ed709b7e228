"""The pipeline board at any size (issue 22): each column shows the 20 most valuable visible
leads of its stage (ties: the newest id first), counted and totalled over all of them, in a
number of queries that does not depend on how many leads there are."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.models import Lead, Source
from crm.pipeline import Stage
from tests.conftest import Company

pytestmark = pytest.mark.django_db


def add(company: Company, n: int, tag: str) -> None:
    """`n` team A leads in every stage, values repeating so that ties need the id."""
    Lead.objects.bulk_create(
        Lead(
            company=f"{tag} {stage} {i:03d}",
            source=Source.BRAND,
            value=Decimal(1000 * (i % 4)),  # 30 leads: the 20th and 21st tie on value
            stage=stage,
            lost_reason="No budget" if stage == Stage.LOST else "",
            team=company.team_a,
            owner=company.rep_a1 if i % 2 else None,
        )
        for stage in Stage.values
        for i in range(n)
    )


def columns(html: str) -> dict[str, list[str]]:
    """Each column's card ids, in the order shown."""
    out = {}
    for stage in Stage.values:
        column = html.split(f"stage-col-{stage}")[1].split("</section>")[0]
        out[stage] = re.findall(r'id="card-(\d+)"', column)
    return out


def expected(company: Company) -> dict[str, list[str]]:
    """The biggest 20 of each stage of the manager's team, one plain query per column."""
    return {
        stage: [
            str(pk)
            for pk in Lead.objects.filter(team=company.team_a, stage=stage)
            .order_by("-value", "-id")
            .values_list("pk", flat=True)[:20]
        ]
        for stage in Stage.values
    }


def test_each_column_shows_its_biggest_leads_in_the_same_queries_at_any_size(
    company: Company, client_for: Any
) -> None:
    client = client_for(company.manager_a)
    client.get("/leads/board/")  # the session
    counts = []
    for n, tag in ((2, "Small"), (30, "Large")):
        add(company, n, tag)
        with CaptureQueriesContext(connection) as queries:
            html = client.get("/leads/board/").content.decode()
        counts.append(len(queries))
        assert columns(html) == expected(company)
    # session, user, the team's lead tally (counts and totals), the cards (their ids a
    # subquery), the bell
    assert counts[0] == counts[1] == 5
    assert all(len(ids) == 20 for ids in columns(html).values())
