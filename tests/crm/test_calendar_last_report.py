"""The calendar's "report due" counts from the lead's own last report time
(Lead.last_reported_at, kept as reports are sent), as the coach does, not from a look into each
lead's reports: the same time for a lead without reports, with only a draft, with several sent
(one stamped earlier than the latest) and with a draft after them, for a rep, a manager and a
director."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import icalendar
import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from crm import calendar
from crm.calendar import calendar_link_reset, feed_token
from crm.models import Lead, Report, ReportKind
from crm.selectors.reports import last_report_on_lead
from tests.factories import lead_new, report_sent

if TYPE_CHECKING:
    from crm.models import User
    from tests.conftest import Company

pytestmark = pytest.mark.django_db

PROGRESS = {
    "kind": ReportKind.PROGRESS,
    "status_now": "They compare us with the incumbent.",
    "what_i_did": "Sent the revised quote.",
}


def _sent(author: User, lead: Lead, days_ago: float) -> Report:
    with time_machine.travel(timezone.now() - dt.timedelta(days=days_ago), tick=False):
        return report_sent(author, lead, **PROGRESS)


def _leads(company: Company) -> dict[str, Lead]:
    """rep_a1's leads, each created 30 days ago with a tender in 20 days (so a director's
    calendar lists them too) and its own history of reports."""
    rep = company.rep_a1
    made = {name: lead_new(rep, name) for name in ("none", "draft", "several", "old", "back")}
    made["fixture"] = company.lead_a1
    ago = timezone.now() - dt.timedelta(days=30)
    Lead.objects.filter(pk__in=[lead.pk for lead in made.values()]).update(
        created_at=ago, handed_at=None, tender_date=timezone.localdate() + dt.timedelta(days=20)
    )
    Report.objects.create(author=rep, team_id=rep.team_id, lead=made["draft"])
    for days in (20, 12, 3):
        _sent(rep, made["several"], days)
    Report.objects.create(author=rep, team_id=rep.team_id, lead=made["several"])
    _sent(rep, made["old"], 26)
    _sent(rep, made["back"], 5)
    _sent(rep, made["back"], 15)  # written later, stamped earlier: the latest stays 5 days ago
    report_sent(rep, None, **PROGRESS)  # a report on no lead changes no lead
    return made


@pytest.mark.parametrize("who", ["rep_a1", "manager_a", "director"])
def test_the_calendar_reads_the_leads_last_report_as_its_reports_say(
    company: Company, who: str
) -> None:
    made = _leads(company)
    user = getattr(company, who)
    today = timezone.localdate()
    rows = {
        row["pk"]: row["last_report_at"]
        for row in calendar._leads(user, today - dt.timedelta(days=30), today + dt.timedelta(180))
    }
    assert {lead.pk for lead in made.values()} <= set(rows)
    looked_up = dict(
        Lead.objects.filter(pk__in=rows).annotate(at=last_report_on_lead()).values_list("pk", "at")
    )
    assert rows == looked_up
    sent = {name: rows[lead.pk] for name, lead in made.items()}
    assert sent["none"] is None and sent["draft"] is None and sent["fixture"] is None
    assert (timezone.now() - sent["several"]).days == 3
    assert (timezone.now() - sent["back"]).days == 5


def test_the_reps_feed_says_when_each_report_is_due(company: Company) -> None:
    made = _leads(company)
    rep = company.rep_a1
    if not rep.calendar_token:
        calendar_link_reset(user=rep)
    body = Client().get(f"/calendar/{feed_token(rep)}.ics").content
    due = {
        str(e["SUMMARY"]): e.decoded("DTSTART")
        for e in icalendar.Calendar.from_ical(body).walk("VEVENT")
        if "Report" in str(e["SUMMARY"])
    }
    today = timezone.localdate()
    # Tender in 20 days (not near): a report a week after the last one. "several" was sent 3
    # days ago, "back" 5; the other four are overdue, shown today as one event.
    assert due[f"Report due · {made['several'].company}"] == today + dt.timedelta(days=4)
    assert due[f"Report due · {made['back'].company}"] == today + dt.timedelta(days=2)
    overdue = [summary for summary, day in due.items() if day == today]
    assert len(due) == 3 and len(overdue) == 1 and overdue[0].endswith("and 3 more")
