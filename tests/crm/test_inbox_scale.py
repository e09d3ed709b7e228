"""The report inbox at any size (issue 22): the same queries for 3 reports as for 60, each row
with its own number of replies, the others' reports only (never one's own), a +2's only those
shared from their teams; and on SQLite the page walks (team, state, -submitted_at) and stops at
its 30 rows instead of grouping every report of the team with its replies."""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm.models import Report, ReportKind, ReportReply, ReportState, Team, User

if TYPE_CHECKING:
    from tests.conftest import Company

pytestmark = pytest.mark.django_db


def add_reports(company: Company, n: int, *, author: User, team: Team, **fields: Any) -> None:
    now = timezone.now()
    reports = Report.objects.bulk_create(
        Report(
            author=author,
            team=team,
            kind=ReportKind.PROGRESS,
            state=ReportState.SUBMITTED,
            status_now=f"{author.username} {i:03d}",
            submitted_at=now - dt.timedelta(minutes=i),
            **fields,
        )
        for i in range(n)
    )
    ReportReply.objects.bulk_create(
        ReportReply(report=report, author=company.manager_a, body="ok")
        for i, report in enumerate(reports)
        for _ in range(i % 3)
    )


def inbox(client: Client) -> tuple[str, int]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("report-inbox"))
    assert response.status_code == 200
    return response.content.decode(), len(ctx.captured_queries)


@pytest.mark.parametrize("n", [3, 60])
def test_the_inbox_reads_the_same_queries_at_any_size(
    company: Company, client: Client, n: int
) -> None:
    add_reports(company, n, author=company.rep_a1, team=company.team_a)
    add_reports(company, 2, author=company.manager_a, team=company.team_a)  # their own
    add_reports(company, 2, author=company.rep_b1, team=company.team_b)  # another team's
    client.force_login(company.manager_a)
    page, queries = inbox(client)
    assert queries <= 8
    assert "manager_a 000" not in page and "rep_b1 000" not in page
    assert "rep_a1 000" in page
    shown = Report.objects.filter(author=company.rep_a1).order_by("-submitted_at", "-id")[:30]
    for report in shown:  # each row's replies, counted for that row
        replies = report.replies.count()
        row = (
            page.split(report.status_now)[0].rsplit("<li", 1)[-1]
            + page.split(report.status_now)[1].split("</li>")[0]
        )
        assert (f"{replies} repl" in row) == (replies > 0), (report.status_now, replies)


def test_a_director_sees_what_their_teams_shared(company: Company, client: Client) -> None:
    add_reports(company, 2, author=company.rep_a1, team=company.team_a, share_with_director=True)
    add_reports(company, 2, author=company.rep_b1, team=company.team_b)  # not shared
    client.force_login(company.director)
    page, _ = inbox(client)
    assert "rep_a1 000" in page and "rep_b1 000" not in page
    client.force_login(company.other_director)
    page, _ = inbox(client)
    assert "rep_a1 000" not in page


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's planner")
def test_the_inbox_page_walks_the_teams_index(company: Company, client: Client) -> None:
    add_reports(company, 60, author=company.rep_a1, team=company.team_a)
    client.force_login(company.manager_a)
    with CaptureQueriesContext(connection) as ctx:
        client.get(reverse("report-inbox"))
    (page,) = [
        q["sql"]
        for q in ctx.captured_queries
        if re.search(r'FROM "crm_report".*LIMIT 30', q["sql"], re.S)
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {page}")
        plan = " / ".join(row[3] for row in cursor.fetchall())
    assert "report_team_inbox" in plan, plan
    assert "GROUP BY" not in plan, plan
