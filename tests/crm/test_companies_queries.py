"""Query counts on the company and contact pages, and on a lead page with people on the deal:
the same for 3 people as for 30 (no N+1), and under a pinned maximum."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from django.test import Client
from django.urls import reverse

from crm import services
from crm.models import Company, ContactRole
from tests.crm.test_queries import count_queries
from tests.factories import lead_new

if TYPE_CHECKING:
    from tests.conftest import Company as People

SMALL, LARGE = 3, 30

# Measured on SQLite; 3 of each are the session, the user and the coach's badge.
PINNED = {
    # lead-detail's 9: the people on the deal and on the form's checkboxes are read once.
    "lead-detail with people": 9,
    "company-detail": 6,  # the company, its leads, its contacts with when last spoken to
    "company-list": 5,
    "contact-list search": 5,
}


def _people(company: People, size: int) -> None:
    """`size` people on lead_a1, each spoken to once; `size` more leads at its company."""
    lead = company.lead_a1
    rep = company.rep_a1
    have = lead.lead_contacts.count()
    for n in range(have, size):
        link = services.lead_contact_create(
            actor=rep,
            lead=lead,
            data={"name": f"联系人{n:02d}", "mobile": f"1380000{n:04d}"},
            role=ContactRole.TECHNICAL if n % 2 else ContactRole.DECISION_MAKER,
        )
        services.activity_log(actor=rep, lead=lead, kind="call", contacts=[link.contact])
    made = company.rep_a1.owned_leads.filter(company="Alpha Robotics").count()
    for _n in range(made, size):
        lead_new(rep, "Alpha Robotics Ltd")


URLS: dict[str, Callable[[People], str]] = {
    "lead-detail with people": lambda c: reverse("lead-detail", args=[c.lead_a1.pk]),
    "company-detail": lambda c: reverse("company-detail", args=[c.lead_a1.account_id]),
    "company-list": lambda c: reverse("company-list") + "?q=alpha",
    "contact-list search": lambda c: reverse("contact-list") + "?q=1380000&role=technical",
}


@pytest.mark.parametrize("name", list(PINNED))
def test_query_count_does_not_grow_with_the_people(
    company: People,
    client_for: Callable[..., Client],
    django_assert_max_num_queries: Any,
    name: str,
) -> None:
    client = client_for(company.rep_a1)
    counts = {}
    for size in (SMALL, LARGE):
        _people(company, size)
        url = URLS[name](company)
        client.get(url)
        counts[size], response = count_queries(client, url)
        if name != "company-list":
            assert response.content.decode().count("联系人") >= size // 2
    assert counts[SMALL] == counts[LARGE], f"{name}: {counts}"
    assert Company.objects.filter(name_key="alpharobotics").count() == 1
    with django_assert_max_num_queries(PINNED[name]):
        client.get(URLS[name](company))
