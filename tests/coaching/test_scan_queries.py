"""The recurring scan (beat runs it every 15 minutes) at scale: the same statements for 500
leads as for 5,000, and none of them reads back findings whose nudge exists already.

The lead rules look their nudge's key up in SQL (coaching.scans._not_yet, an anti-join on the
key's unique index), and create_nudges looks up any number of keys in one statement
(coaching.nudges._missing). Both must agree with NudgeSpec.key to the character: a key written
differently in SQL would let every finding through again (and, the other way, hide new ones).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from coaching import playbook, scans
from coaching.models import Nudge, OutboundEmail
from crm.models import Source
from crm.pipeline import Stage
from tests.coaching.helpers import START, at, scan
from tests.factories import bulk_leads

if TYPE_CHECKING:
    from crm.models import User
    from tests.conftest import Company

pytestmark = pytest.mark.django_db

# Measured on SQLite and PostgreSQL: the steady scan's statements, whatever the number of
# leads (the rules' queries, every rule's team thresholds in one, the settling updates, one
# key lookup; one read of the large hand-offs for report_due and stalled). 45 when each
# rule read its own thresholds.
STEADY_QUERIES = 28
# The lead rules whose findings are checked against existing nudges in SQL.
LEAD_SCANS = {"report_due", "stalled", "deadline_near", "big_deal", "no_decision_maker"}


def _add_leads(company: Company, count: int, first: int) -> None:
    """`count` contacted leads handed down at START, at every hour of the day (so that a UTC
    date and a local one differ for some), a tenth with a tender in the coming days and every
    twentieth a big deal."""
    owners = [company.rep_a1, company.rep_a2, company.rep_b1]
    managers = {company.team_a.pk: company.manager_a, company.team_b.pk: company.manager_b}

    def owner(i: int) -> User:
        return owners[(first + i) % len(owners)]

    def moment(i: int) -> dt.datetime:
        return START - dt.timedelta(hours=(first + i) % 24, minutes=(first + i) % 60)

    bulk_leads(
        count,
        batch_size=2_000,
        company=lambda i: f"Scan Customer {first + i}",
        source=Source.BRAND,
        value=lambda i: 2_000_000 if (first + i) % 20 == 0 else 10_000,
        stage=Stage.CONTACTED,
        team_id=lambda i: owner(i).team_id,
        owner=owner,
        handed_by=lambda i: managers[owner(i).team_id],
        handed_at=moment,
        created_at=moment,
        updated_at=moment,
        stage_changed_at=moment,
        tender_date=lambda i: START.date() + dt.timedelta(days=21 + i % 5) if i % 10 == 0 else None,
    )


def _steady() -> tuple[int, dict[str, int]]:
    """A scan where every finding has its nudge already: its statements and what it made."""
    with CaptureQueriesContext(connection) as queries:
        made = scan()
    return len(queries.captured_queries), made


def _first_then_steady(clock: time_machine.Traveller) -> tuple[int, dict[str, int]]:
    OutboundEmail.objects.all().delete()
    Nudge.objects.all().delete()
    first = scan()
    assert sum(first.values()) > 0
    clock.shift(dt.timedelta(minutes=15))
    return _steady()


def test_the_steady_scan_issues_the_same_statements_for_500_and_5000_leads(
    company: Company, clock: time_machine.Traveller, django_assert_max_num_queries: Any
) -> None:
    clock.move_to(at(days=20))
    _add_leads(company, 500, first=0)
    small, small_made = _first_then_steady(clock)
    _add_leads(company, 4_500, first=500)
    large, large_made = _first_then_steady(clock)

    assert sum(small_made.values()) == sum(large_made.values()) == 0
    assert large == small, (small, large)
    assert Nudge.objects.filter(rule_id="report_due").count() >= 5_000
    clock.shift(dt.timedelta(minutes=15))
    with django_assert_max_num_queries(STEADY_QUERIES):
        assert sum(scan().values()) == 0


def test_the_lead_rules_write_the_nudge_key_in_sql_as_python_does(
    company: Company, clock: time_machine.Traveller
) -> None:
    clock.move_to(at(days=20) + dt.timedelta(microseconds=123_456))
    _add_leads(company, 300, first=0)
    first = scan()
    # Stored to the microsecond: the nudges carry the scan's own moment.
    assert Nudge.objects.filter(created_at=timezone.now()).count() == sum(first.values())
    # Each lead rule found something, so an empty second pass means the keys matched.
    rules = {r.id: r for r in playbook.rules().values() if r.scan in LEAD_SCANS}
    assert {rule_id for rule_id, n in first.items() if n} >= set(rules), first
    now = timezone.now()
    for rule in rules.values():
        for found in scans._inputs(rule, now=now, today=timezone.localdate(now)):
            assert scans.SCANS[rule.scan](found) == [], rule.id
    # And another period is another nudge: with the report_due nudges moved to an old period,
    # the same findings are new again.
    old = list(Nudge.objects.filter(rule_id="report_due"))
    for nudge in old:
        nudge.period = "2000-01-01"
        nudge.key = nudge.key.rsplit("|", 1)[0] + "|2000-01-01"
    Nudge.objects.bulk_update(old, ["period", "key"])
    for found in scans._inputs(rules["report_due"], now=now, today=timezone.localdate(now)):
        specs = scans.SCANS["report_due"](found)
        assert specs
        assert not Nudge.objects.filter(key__in=[s.key for s in specs]).exists()
