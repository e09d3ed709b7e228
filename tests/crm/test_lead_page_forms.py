"""The lead page renders its unbound activity and stage forms once per process for what they
show (lead_detail.html's {% fragment %}s): each page still shows the forms as they render for
that lead, that kind chosen and that language, never another lead's or an older one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.utils import translation

from crm import services
from crm.forms import ActivityForm, StageForm
from crm.models import ContactRole, Lead
from crm.pipeline import Stage
from tests.factories import lead_new

if TYPE_CHECKING:
    from tests.conftest import Company

pytestmark = pytest.mark.django_db


def _fields(form: ActivityForm | StageForm) -> str:
    return render_to_string("crm/_form_fields.html", {"form": form})


def _shows_its_own_forms(client: Client, lead: Lead, query: str = "", language: str = "en") -> str:
    lead.refresh_from_db()
    html = client.get(lead.get_absolute_url() + query).content.decode()
    with translation.override(language):
        activity = ActivityForm(lead=lead)
        if query.startswith("?log="):
            activity.fields["kind"].initial = query.removeprefix("?log=")
        assert _fields(activity) in html
        assert _fields(StageForm(lead=lead)) in html
    return html


def test_each_page_shows_the_forms_of_its_lead_as_it_is_now(
    company: Company, client_for: Callable[..., Client]
) -> None:
    rep = company.rep_a1
    client = client_for(rep)
    lead, other = company.lead_a1, lead_new(rep, "Other Works", next_step="Call the buyer")
    Lead.objects.filter(pk=lead.pk).update(next_step="Visit <the> plant", next_step_due=None)
    first = _shows_its_own_forms(client, lead)
    assert "Visit &lt;the&gt; plant" in first
    assert "Call the buyer" in _shows_its_own_forms(client, other)
    # The lead changes: its next step, its date, its people, its stage.
    due = dt.date(2031, 5, 6)
    Lead.objects.filter(pk=lead.pk).update(next_step="Send the quote", next_step_due=due)
    html = _shows_its_own_forms(client, lead)
    assert "Send the quote" in html and "2031-05-06" in html and "Visit &lt;the&gt;" not in html
    services.lead_contact_create(
        actor=rep, lead=lead, data={"name": "新来的人", "title": "CTO"}, role=ContactRole.OTHER
    )
    assert "新来的人 · CTO" in _shows_its_own_forms(client, lead)
    services.lead_change_stage(actor=rep, lead=lead, to_stage=Stage.CONTACTED)
    _shows_its_own_forms(client, lead)
    # The quick-log links choose the kind; without one, the form's own default again.
    for kind in ("call", "visit", ""):
        _shows_its_own_forms(client, lead, f"?log={kind}" if kind else "")
    # Another language: its own words, not the English form stored first.
    rep.language = "zh-hans"
    rep.save(update_fields=["language"])
    html = _shows_its_own_forms(client, lead, language="zh-hans")
    with translation.override("en"):
        assert _fields(ActivityForm(lead=lead)) not in html  # the English one
