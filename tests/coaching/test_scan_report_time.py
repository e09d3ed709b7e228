"""The report-due scan reads the lead's own last report time (Lead.last_reported_at, kept by
crm as reports are sent) instead of looking into each open lead's reports, and the lead
rules leave out the findings whose nudge exists by comparing the nudge's columns, not its key
written as text. Both must find exactly what the look-ups they replace found."""

from __future__ import annotations

import datetime as dt
import importlib
import random
from collections import Counter
from typing import TYPE_CHECKING

import pytest
import time_machine
from django.apps import apps
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from coaching import nudges, playbook, rules, scans
from coaching.models import Nudge, OutboundEmail
from crm.models import Lead, Report, ReportKind, ReportState
from crm.selectors.reports import last_report_on_lead
from crm.services.reports import lead_last_report_refresh
from tests.coaching.helpers import START, at, report, scan
from tests.factories import lead_new, report_sent

if TYPE_CHECKING:
    from crm.models import User
    from tests.conftest import Company

pytestmark = pytest.mark.django_db


def _check_every_lead() -> None:
    """Every lead's last_reported_at is the latest of its sent reports, and the report-due
    reference made from it equals the one made from a look into the reports (the code
    before)."""
    latest = Lead.objects.annotate(
        latest=Max("reports__submitted_at", filter=Q(reports__state=ReportState.SUBMITTED))
    ).values_list("pk", "latest", "last_reported_at")
    for pk, want, kept in latest:
        assert kept == want, (pk, want, kept)
    both = Lead.objects.annotate(
        before=rules.latest_of(last_report_on_lead()), after=rules.latest_of("last_reported_at")
    ).values_list("pk", "before", "after")
    for pk, before, after in both:
        assert before == after, (pk, before, after)


def test_the_lead_keeps_its_latest_report_time_as_reports_are_sent(
    company: Company, clock: time_machine.Traveller
) -> None:
    rng = random.Random(22)
    owned: list[tuple[User, Lead]] = [
        (company.rep_a1, company.lead_a1),
        (company.rep_a2, company.lead_a2),
        (company.rep_b1, company.lead_b1),
    ]
    for step in range(24):
        # Mostly forward; now and then a report stamped earlier than the lead's last one
        # (a clock set back, a delayed write): the lead keeps the latest, not the last written.
        hours = rng.choice((-30, 1, 5, 26, 49))
        clock.move_to(at(days=3) + dt.timedelta(hours=hours + step * 7))
        author, lead = rng.choice(owned)
        shape = rng.choice(("lead", "lead", "general", "draft"))
        if shape == "lead":
            report(author, lead, kind=rng.choice((ReportKind.PROGRESS, ReportKind.QUESTION)))
        elif shape == "general":
            report_sent(author, None, kind=ReportKind.PROGRESS, status_now="A quiet week.")
        else:
            Report.objects.create(author=author, team_id=author.team_id, lead=lead)
        _check_every_lead()
    assert Lead.objects.filter(last_reported_at__isnull=False).count() == 3
    # A report on a lead and its time: the one written earlier than the latest changed nothing.
    newest = Report.objects.filter(lead=company.lead_a1, state=ReportState.SUBMITTED)
    company.lead_a1.refresh_from_db()
    assert company.lead_a1.last_reported_at == max(r.submitted_at for r in newest)


def test_reports_written_in_bulk_and_the_migration_fill_the_time(company: Company) -> None:
    rng = random.Random(7)
    leads = [company.lead_a1, company.lead_a2, company.lead_b1, company.lead_a_pool]
    leads += [lead_new(company.manager_a, f"Bulk {i}") for i in range(6)]
    rows = [
        Report(
            author=company.rep_a1,
            team=company.team_a,
            lead=rng.choice([*leads, None]),
            state=rng.choice((ReportState.SUBMITTED, ReportState.SUBMITTED, ReportState.DRAFT)),
            submitted_at=START - dt.timedelta(hours=rng.randint(1, 500)),
        )
        for _ in range(60)
    ]
    Report.objects.bulk_create(rows)
    assert not Lead.objects.filter(last_reported_at__isnull=False).exists()
    some = Lead.objects.filter(pk__in=[company.lead_a1.pk, company.lead_b1.pk])
    assert lead_last_report_refresh(leads=some) == 2
    assert Lead.objects.filter(last_reported_at__isnull=False).count() <= 2
    lead_last_report_refresh()
    _check_every_lead()

    Lead.objects.update(last_reported_at=None)
    migration = importlib.import_module("crm.migrations.0017_lead_last_reported_at")
    migration.fill(apps, None)
    _check_every_lead()
    assert Lead.objects.filter(last_reported_at__isnull=False).exists()


def test_a_nudge_hides_a_finding_only_with_the_same_rule_lead_recipient_and_period(
    company: Company, clock: time_machine.Traveller
) -> None:
    clock.move_to(at(days=10))
    made = scan()
    assert made["report_due"] == 3, made
    rule = playbook.rules()["report_due"]
    now = timezone.now()

    def found() -> set[tuple[int, int, str]]:
        specs = [
            spec
            for group in scans._inputs(rule, now=now, today=timezone.localdate(now))
            for spec in scans.SCANS[rule.scan](group)
        ]
        return {(s.lead_id or 0, s.recipient_id, s.period) for s in specs}

    assert found() == set()
    nudge = Nudge.objects.get(rule_id="report_due", lead=company.lead_a1)
    finding = (company.lead_a1.pk, company.rep_a1.pk, nudge.period)
    # The same nudge with one part changed (and its key with it) no longer hides the finding.
    for change in (
        {"recipient_id": company.rep_a2.pk},
        {"lead_id": company.lead_a2.pk},
        {"period": "2025-01-01"},
        {"rule_id": "stalled_lead"},
    ):
        Nudge.objects.filter(pk=nudge.pk).update(**change, key=f"moved {change}")
        assert found() == {finding}, change
        Nudge.objects.filter(pk=nudge.pk).update(
            recipient_id=company.rep_a1.pk,
            lead_id=company.lead_a1.pk,
            period=nudge.period,
            rule_id="report_due",
            key=nudge.key,
        )
        assert found() == set(), change


def _made(now: dt.datetime) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    nudges = Nudge.objects.filter(created_at=now).order_by("key")
    columns = [f.attname for f in Nudge._meta.concrete_fields if not f.primary_key]
    emails = OutboundEmail.objects.filter(created_at=now).order_by("nudge__key")
    return (
        list(nudges.values_list(*columns)),
        list(emails.values_list("nudge__key", "recipient_id", "kind", "not_before", "state")),
    )


def test_a_scan_makes_the_same_rows_without_model_objects(
    company: Company, clock: time_machine.Traveller
) -> None:
    """run_scans makes its nudges with create_nudges_counted (no Nudge object per row): the
    same rows, pushes and emails as create_nudges, and the counts of what it made."""
    for i in range(30):
        lead_new(company.manager_a, f"Counted {i}", to=company.rep_a1 if i % 2 else company.rep_a2)
    clock.move_to(at(days=20))
    now = timezone.now()
    specs = [
        spec
        for rule in playbook.rules().values()
        if rule.scan
        for group in scans._inputs(rule, now=now, today=timezone.localdate(now))
        for spec in scans.SCANS[rule.scan](group)
    ]
    assert len(specs) > 30
    with transaction.atomic():
        made = nudges.create_nudges(specs, now=now)
        before = _made(now)
        transaction.set_rollback(True)
    counted = nudges.create_nudges_counted(specs, now=now)
    after = _made(now)
    assert after == before
    assert any(row[9] == "push" for row in after[0]) and after[1], "pushes and emails made"
    assert counted == dict(Counter(n.rule_id for n in made))
    assert all(n.pk and not n._state.adding for n in made)
    assert nudges.create_nudges_counted(specs, now=now) == {}
