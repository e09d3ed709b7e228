"""Lead.last_reported_at (the coach's "report due" reads it) stays the lead's latest sent
report when an admin works past the services in the Django admin: the lead's form cannot write
an older time back, and a report moved to another lead, taken back to draft or deleted has both
leads recounted."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest
from django.test import Client
from django.utils import timezone

from crm.models import Lead, Report
from crm.models.reports import ReportState
from tests.factories import report_sent

if TYPE_CHECKING:
    from tests.conftest import Company

pytestmark = pytest.mark.django_db


def progress(status: str) -> dict[str, Any]:
    return {
        "kind": "progress",
        "status_now": status,
        "what_i_did": "Called the buyer twice.",
        "next_step": "Second demo at their plant",
        "next_step_due": timezone.localdate() + dt.timedelta(days=5),
        "backup_plan": "Offer a trial unit.",
    }


def admin_client(company: Company) -> Client:
    client = Client()
    client.force_login(company.admin)
    return client


def last_report(lead: Lead) -> dt.datetime | None:
    return Lead.objects.values_list("last_reported_at", flat=True).get(pk=lead.pk)


def test_the_lead_form_shows_last_report_read_only(company: Company) -> None:
    report_sent(company.rep_a1, company.lead_a1, **progress("Demo booked."))
    page = admin_client(company).get(f"/admin/crm/lead/{company.lead_a1.pk}/change/")
    assert page.status_code == 200
    assert 'name="last_reported_at' not in page.content.decode()
    assert "last_reported_at" in page.context["adminform"].readonly_fields


def test_the_lead_form_shows_the_hand_off_and_stage_move_times_read_only(
    company: Company,
) -> None:
    """The cockpit finds the period's hand-offs and the week's stage moves by these times, which
    the services keep with the history: the admin's form shows them and cannot change them."""
    page = admin_client(company).get(f"/admin/crm/lead/{company.lead_a1.pk}/change/")
    html = page.content.decode()
    for name in ("handed_at", "stage_changed_at"):
        assert f'name="{name}' not in html
        assert name in page.context["adminform"].readonly_fields


def test_deleting_the_latest_report_falls_back_to_the_one_before(company: Company) -> None:
    older = report_sent(company.rep_a1, company.lead_a1, **progress("First call."))
    Report.objects.filter(pk=older.pk).update(submitted_at=timezone.now() - dt.timedelta(days=3))
    newer = report_sent(company.rep_a1, company.lead_a1, **progress("Demo booked."))
    assert last_report(company.lead_a1) == newer.submitted_at

    client = admin_client(company)
    answer = client.post(f"/admin/crm/report/{newer.pk}/delete/", {"post": "yes"})
    assert answer.status_code == 302
    assert last_report(company.lead_a1) == Report.objects.get(pk=older.pk).submitted_at

    answer = client.post(
        "/admin/crm/report/",
        {"action": "delete_selected", "_selected_action": [older.pk], "post": "yes"},
    )
    assert answer.status_code == 302
    assert last_report(company.lead_a1) is None


def test_a_report_moved_or_taken_back_recounts_both_leads(company: Company) -> None:
    report = report_sent(company.rep_a1, company.lead_a1, **progress("Demo booked."))
    page = admin_client(company).get(f"/admin/crm/report/{report.pk}/change/")
    form = page.context["adminform"].form
    data = {
        name: value
        for name, value in form.initial.items()
        if name in form.fields and value is not None
    }
    for name, field in form.fields.items():
        value = data.get(name)
        if hasattr(value, "pk"):
            data[name] = value.pk
        if isinstance(value, dt.datetime):
            local = timezone.localtime(value)
            data[name + "_0"], data[name + "_1"] = local.date(), local.time()
        if field.widget.__class__.__name__ == "CheckboxInput" and not value:
            data.pop(name, None)
    other = company.lead_a2
    data |= {"lead": other.pk, "replies-TOTAL_FORMS": 0, "replies-INITIAL_FORMS": 0}
    answer = admin_client(company).post(f"/admin/crm/report/{report.pk}/change/", data)
    assert answer.status_code == 302, answer.content.decode()[:2000]
    assert last_report(company.lead_a1) is None
    assert last_report(other) == report.submitted_at

    data["state"] = ReportState.DRAFT
    answer = admin_client(company).post(f"/admin/crm/report/{report.pk}/change/", data)
    assert answer.status_code == 302
    assert last_report(other) is None
