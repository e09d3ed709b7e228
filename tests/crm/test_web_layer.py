"""The shared web layer and the role questions: one answer per question, the same in views and
templates (the `can` object), and the page-or-region choice made the same way everywhere."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from django.http import Http404
from django.test import Client, RequestFactory
from django.urls import reverse

from crm import permissions
from crm.context_processors import Can
from crm.web import wants_region

if TYPE_CHECKING:
    from tests.conftest import Company

pytestmark = pytest.mark.django_db

# (hand_off, import_leads, create_leads, view_cockpit, view_director, view_audit, write_reports)
EXPECTED = {
    "rep_a1": (False, False, True, False, False, False, True),
    "manager_a": (True, True, True, True, False, False, False),
    "director": (False, False, False, True, True, False, False),
    "admin": (True, True, True, True, True, True, False),
}


@pytest.mark.parametrize("who", sorted(EXPECTED))
def test_can_answers_each_role_question_as_the_permissions_do(company: Company, who: str) -> None:
    can = Can(company.people[who])
    answers = (
        can.hand_off,
        can.import_leads,
        can.create_leads,
        can.view_cockpit,
        can.view_director,
        can.view_audit,
        can.write_reports,
    )
    assert answers == EXPECTED[who]


def test_a_visitor_may_do_nothing() -> None:
    from django.contrib.auth.models import AnonymousUser

    can = Can(AnonymousUser())
    assert not (can.hand_off or can.view_cockpit or can.view_audit or can.write_reports)


def test_managed_team_is_the_managers_own(company: Company) -> None:
    assert permissions.managed_team(company.manager_a) == company.team_a
    assert permissions.managed_team(company.rep_a1) is None


def test_lead_get_for_is_a_404_outside_the_users_leads(company: Company) -> None:
    assert permissions.lead_get_for(company.rep_a1, company.lead_a1.pk) == company.lead_a1
    with pytest.raises(Http404):
        permissions.lead_get_for(company.rep_a1, company.lead_b1.pk)


def test_a_boosted_request_wants_the_whole_page() -> None:
    from django_htmx.middleware import HtmxDetails

    factory = RequestFactory()
    swap = factory.get("/", headers={"HX-Request": "true"})
    boosted = factory.get("/", headers={"HX-Request": "true", "HX-Boosted": "true"})
    for request in (swap, boosted):
        request.htmx = HtmxDetails(request)  # type: ignore[attr-defined]
    assert wants_region(swap)
    assert not wants_region(boosted)
    assert not wants_region(factory.get("/"))


def test_pager_links_inherit_the_target_from_the_nav(
    company: Company, client_for: Callable[..., Client], settings: object
) -> None:
    settings.KAOPU_PAGE_SIZE = 1  # type: ignore[attr-defined]
    page = client_for(company.manager_a).get(reverse("lead-list")).content.decode()
    assert 'class="pager"' in page
    nav = page[page.index('class="pager"') : page.index("</nav>", page.index('class="pager"'))]
    assert nav.count('hx-target="#results"') == 1
    assert 'hx-get="?page=2"' in nav and 'href="?page=2"' in nav
