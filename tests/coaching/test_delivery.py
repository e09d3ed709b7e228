"""The noise budget: a person is pushed at most a few nudges a day (the most important first),
the rest wait for the daily digest; a pushed high-priority nudge is emailed, but never during
the person's quiet hours."""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from coaching import delivery
from coaching.models import Delivery, EmailKind, EmailState, Nudge, OutboundEmail, Priority
from crm import services as crm
from crm.models import Role
from crm.pipeline import Stage
from tests.coaching.helpers import at, new_lead, process, scan
from tests.factories import make_user

if TYPE_CHECKING:
    from crm.models import User
    from tests.conftest import Company

pytestmark = pytest.mark.django_db


def _five_stalled_leads(company: Company) -> User:
    """A new rep with five leads that move to "contacted" and then sit still."""
    rep = make_user(username="rep_a3", role=Role.REP)
    crm.rep_join_team(user=rep, team=company.team_a)
    for n in range(5):
        lead = new_lead(company.manager_a, f"Quiet Customer {n}", to=rep)
        crm.lead_change_stage(actor=rep, lead=lead, to_stage=Stage.CONTACTED)
    return rep


def test_three_pushed_the_most_important_first_the_rest_in_the_digest(
    company: Company, clock: time_machine.Traveller
) -> None:
    rep = _five_stalled_leads(company)
    clock.move_to(at(days=15))  # stalled (high), report due (normal), low contact (normal)
    scan()

    mine = list(Nudge.objects.filter(recipient=rep))
    high = [n for n in mine if n.priority == Priority.HIGH]
    assert len(high) == 5
    assert {n.rule_id for n in high} == {"stalled_lead"}
    assert len(mine) > 5  # normal-priority nudges came in the same scan
    pushed = [n for n in mine if n.delivery == Delivery.PUSH]
    assert len(pushed) == 3
    assert all(n.priority == Priority.HIGH for n in pushed)
    assert sum(n.delivery == Delivery.DIGEST for n in high) == 2
    assert all(n.delivery == Delivery.DIGEST for n in mine if n.priority < Priority.HIGH)

    emails = OutboundEmail.objects.filter(recipient=rep)
    assert sorted(e.nudge_id for e in emails) == sorted(n.pk for n in pushed)
    assert {e.kind for e in emails} == {EmailKind.INSTANT}
    assert all(e.not_before == at(days=15) for e in emails)  # 10:00 in Shanghai: not quiet


def test_scans_spend_the_budget_and_events_never_wait_for_it(
    company: Company, clock: time_machine.Traveller
) -> None:
    """Issue 16 changed this: a hand-off used to wait for the digest once the morning's scan
    had spent the three pushes; now what a person caused is pushed at once on its own
    allowance, and the scan findings still get at most three pushes a day."""
    rep = _five_stalled_leads(company)
    process()  # the five hand-offs, pushed at once (one email: a burst)
    clock.move_to(at(days=15))
    scan()
    later = new_lead(company.manager_a, "Late Arrival", to=rep)
    clock.move_to(at(days=15, hours=2))
    process()  # three scan findings were pushed two hours ago: the hand-off goes anyway
    handoff = Nudge.objects.get(rule_id="handoff_first_plan", lead=later)
    assert handoff.delivery == Delivery.PUSH
    assert OutboundEmail.objects.get(nudge=handoff).not_before == at(days=15, hours=2)

    # And the hand-off spent none of the scans' budget, nor they its allowance.
    scan_pushes = Nudge.objects.filter(recipient=rep, delivery=Delivery.PUSH).exclude(
        rule_id="handoff_first_plan"
    )
    assert scan_pushes.count() == 3


def test_the_email_is_written_in_the_same_transaction_as_its_nudge(
    company: Company, clock: time_machine.Traveller
) -> None:
    rep = _five_stalled_leads(company)
    clock.move_to(at(days=15))
    with CaptureQueriesContext(connection) as queries:
        scan()
    sql = [q["sql"] for q in queries.captured_queries]

    def first_insert(table: str) -> int:
        # SQLite writes INSERT OR IGNORE, PostgreSQL INSERT ... ON CONFLICT DO NOTHING; a
        # statement run over many rows (executemany) is logged as "N times: INSERT ...".
        pattern = re.compile(rf'(\d+ times: )?INSERT (OR IGNORE )?INTO "{table}"')
        return next(i for i, s in enumerate(sql) if pattern.match(s))

    nudge_insert = first_insert("coaching_nudge")
    email_insert = first_insert("coaching_outboundemail")
    assert nudge_insert < email_insert
    # The innermost savepoint open at the nudge insert is still open at the email insert.
    opened = [
        (i, m.group(1))
        for i, s in enumerate(sql[:nudge_insert])
        if (m := re.match(r"SAVEPOINT (\S+)", s))
    ]
    assert opened, "the nudges are not written inside a transaction"
    index, name = opened[-1]
    between = sql[index:email_insert]
    assert not any(s.startswith(("RELEASE SAVEPOINT", "ROLLBACK", "COMMIT")) for s in between)
    release = next(i for i, s in enumerate(sql) if s == f"RELEASE SAVEPOINT {name}")
    assert release > email_insert
    assert OutboundEmail.objects.filter(recipient=rep).count() == 3


@pytest.mark.parametrize(
    ("zone", "moment", "expected"),
    [
        # 23:30 in Berlin on the night clocks go forward: the quiet hours end at 08:00 CEST.
        (
            "Europe/Berlin",
            dt.datetime(2025, 3, 29, 23, 30, tzinfo=ZoneInfo("Europe/Berlin")),
            dt.datetime(2025, 3, 30, 8, 0, tzinfo=ZoneInfo("Europe/Berlin")),
        ),
        # The same instant is 06:30 in Shanghai: still quiet, until 08:00 Shanghai time.
        (
            "Asia/Shanghai",
            dt.datetime(2025, 3, 29, 23, 30, tzinfo=ZoneInfo("Europe/Berlin")),
            dt.datetime(2025, 3, 30, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai")),
        ),
        # 21:15 in New York: quiet until 08:00 the next morning there.
        (
            "America/New_York",
            dt.datetime(2025, 6, 10, 21, 15, tzinfo=ZoneInfo("America/New_York")),
            dt.datetime(2025, 6, 11, 8, 0, tzinfo=ZoneInfo("America/New_York")),
        ),
        # 14:00 in Berlin: not quiet, the email may go at once.
        (
            "Europe/Berlin",
            dt.datetime(2025, 3, 29, 14, 0, tzinfo=ZoneInfo("Europe/Berlin")),
            dt.datetime(2025, 3, 29, 14, 0, tzinfo=ZoneInfo("Europe/Berlin")),
        ),
    ],
)
def test_no_email_during_the_recipients_quiet_hours(
    company: Company,
    clock: time_machine.Traveller,
    zone: str,
    moment: dt.datetime,
    expected: dt.datetime,
) -> None:
    crm.profile_update(user=company.rep_a1, language="en", time_zone=zone)
    # The fixture's own hand-off is handled first: in the same night it would be a burst of
    # the same rule and fold into one email (see test_quiet_coach).
    process()
    clock.move_to(moment)
    lead = new_lead(company.manager_a, "Night Owl Ltd", to=company.rep_a1)
    process()
    nudge = Nudge.objects.get(rule_id="handoff_first_plan", lead=lead)
    assert nudge.delivery == Delivery.PUSH
    email = OutboundEmail.objects.get(nudge=nudge)
    assert email.not_before == expected
    assert email.recipient == company.rep_a1


def test_a_failed_email_is_not_told_once_a_later_one_got_through(client):
    """The preferences page warns of a failed email; once a later email reached the person (or
    one queued earlier went through after it failed), the warning goes. A row marked sent only
    because its nudge closed first reached nobody and does not count."""
    rep = make_user(username="rep_failed", role=Role.REP)
    client.force_login(rep)
    now = timezone.now()

    def email(state: str, created: dt.datetime, **fields: object) -> OutboundEmail:
        return OutboundEmail.objects.create(
            recipient=rep, kind=EmailKind.INSTANT, state=state, created_at=created, **fields
        )

    def warned() -> bool:
        answer = client.get("/coach/preferences/")
        assert answer.status_code == 200, answer
        page = answer.content.decode()
        return "could not be delivered" in page or "没有送达" in page

    failed = email(EmailState.FAILED, now - dt.timedelta(hours=5), last_error="550 no")
    # An earlier email sent before the failure, and a skipped one after it: still warned.
    email(EmailState.SENT, now - dt.timedelta(hours=8), sent_at=now - dt.timedelta(hours=8))
    email(
        EmailState.SENT,
        now - dt.timedelta(hours=2),
        sent_at=now - dt.timedelta(hours=2),
        last_error="skipped: nudge closed",
    )
    assert delivery.failed_for(rep) == failed
    assert warned()
    # A later email got through: the failure is old news.
    email(EmailState.SENT, now - dt.timedelta(hours=1), sent_at=now - dt.timedelta(hours=1))
    assert delivery.failed_for(rep) is None
    assert not warned()
    # A newer failure after that is told again.
    newer = email(EmailState.FAILED, now - dt.timedelta(minutes=30), last_error="550 no")
    assert delivery.failed_for(rep) == newer
    assert warned()
