"""The lead page's activity form takes its "with whom" checkboxes from the people on the deal
the page has read already (crm.views.leads), not from two queries of its own: the same
checkboxes, in the same order, as the form reading them itself."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm import services
from crm.forms import ActivityForm
from crm.models import ContactRole
from crm.selectors.companies import lead_contacts

if TYPE_CHECKING:
    from tests.conftest import Company

pytestmark = pytest.mark.django_db


def _checkboxes(form: ActivityForm) -> str:
    return str(form["contacts"]) if "contacts" in form.fields else ""


def test_the_form_shows_the_people_it_is_given_as_it_shows_the_ones_it_reads(
    company: Company,
) -> None:
    lead, rep = company.lead_a1, company.rep_a1
    # Names that sort apart in different ways: case, Chinese, digits, markup, two alike (by id).
    names = ["王五", "alice", "Bob", "李四", "10号", "<b>Zed</b>", "Bob", "张三"]
    roles = [ContactRole.DECISION_MAKER, ContactRole.TECHNICAL, ContactRole.OTHER]
    shown = set()
    for n, name in enumerate(names):
        services.lead_contact_create(
            actor=rep, lead=lead, data={"name": name, "title": f"T{n}"}, role=roles[n % 3]
        )
        people = [link.contact for link in lead_contacts(user=rep, lead=lead)]
        with CaptureQueriesContext(connection) as ctx:
            given = _checkboxes(ActivityForm(lead=lead, people=people))
        assert len(ctx.captured_queries) == 0
        read = _checkboxes(ActivityForm(lead=lead))
        assert given == read
        shown.add(given.count('type="checkbox"'))
    assert (
        given.index("10号")
        < given.index("&lt;b&gt;Zed")
        < given.index("Bob")
        < given.index("alice")
    )
    assert len(shown) == len(names)


def test_no_people_no_question(company: Company) -> None:
    lead = company.lead_b1
    lead.lead_contacts.all().delete()
    with CaptureQueriesContext(connection) as ctx:
        form = ActivityForm(lead=lead, people=[])
    assert "contacts" not in form.fields and len(ctx.captured_queries) == 0
    assert "contacts" not in ActivityForm(lead=lead).fields
