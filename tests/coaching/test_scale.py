"""The scans are set-based: scanning ten times more leads issues the same queries, the nudges'
insert and the look-up of existing keys included (one statement each, however many rows);
tests/coaching/test_scan_queries.py pins the steady scan."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from coaching.models import Nudge, OutboundEmail
from crm.models import Source
from crm.pipeline import Stage
from tests.coaching.helpers import START, at, scan
from tests.factories import bulk_leads

if TYPE_CHECKING:
    from crm.models import User
    from tests.conftest import Company

pytestmark = pytest.mark.django_db

# An executemany is logged once, as "<rows> times: <sql>".
COUNTED = re.compile(r"\s*(\d+ times: )?(SELECT|INSERT|UPDATE)\b", re.IGNORECASE)
KEY_CHUNK = re.compile(
    r'FROM "coaching_nudge"\s.*\bWHERE\b.*"coaching_nudge"\."key" IN \(', re.DOTALL
)
NUDGE_INSERT = re.compile(r'(\d+ times: )?INSERT (OR IGNORE )?INTO "coaching_nudge"')


def _add_leads(company: Company, count: int, first: int) -> None:
    """`count` leads handed down at START and moved on to "contacted", spread over the reps;
    written directly, so that setting up ten thousand takes a moment."""
    owners = [company.rep_a1, company.rep_a2, company.rep_b1]
    managers = {company.team_a.pk: company.manager_a, company.team_b.pk: company.manager_b}

    def owner(i: int) -> User:
        return owners[(first + i) % len(owners)]

    bulk_leads(
        count,
        batch_size=2_000,
        company=lambda i: f"Bulk Customer {first + i}",
        source=Source.BRAND,
        value=10_000,
        stage=Stage.CONTACTED,
        team_id=lambda i: owner(i).team_id,
        owner=owner,
        handed_by=lambda i: managers[owner(i).team_id],
        handed_at=START,
        created_at=START,
        updated_at=START,
        stage_changed_at=START,
    )


def _measure() -> tuple[dict[str, int], int]:
    """Run the scans once on a clean slate of nudges; count the statements by kind."""
    OutboundEmail.objects.all().delete()
    Nudge.objects.all().delete()
    with CaptureQueriesContext(connection) as queries:
        made = scan()
    sql = [q["sql"] for q in queries.captured_queries if COUNTED.match(q["sql"])]
    counts = {
        "key_chunks": sum(bool(KEY_CHUNK.search(s)) for s in sql),
        "nudge_inserts": sum(bool(NUDGE_INSERT.match(s)) for s in sql),
    }
    counts["other"] = len(sql) - counts["key_chunks"] - counts["nudge_inserts"]
    counts["total"] = len(sql)
    return counts, sum(made.values())


def test_scans_issue_the_same_queries_for_1000_and_10000_leads(
    company: Company, clock: time_machine.Traveller
) -> None:
    _add_leads(company, 1_000, first=0)
    # A batch this large has its first finding spread over five working days (issue 16), so
    # by day 12 every bulk lead is past its 7 days (+ up to 4) without a report, and not yet
    # stalled (14 days).
    clock.move_to(at(days=12))
    small, small_made = _measure()
    _add_leads(company, 9_000, first=1_000)
    large, large_made = _measure()

    # Every bulk lead is due a report (and nothing else), plus the fixture's few nudges.
    assert large_made - small_made == 9_000
    assert Nudge.objects.filter(rule_id="report_due").count() >= 10_000

    # The same statements, one for one: the nudges go in as one INSERT (their rows in one
    # parameter, their ids RETURNING), and the existing keys are looked up in one statement.
    assert large == small, (small, large)
    assert small["nudge_inserts"] == 1
    assert small["key_chunks"] == 0
