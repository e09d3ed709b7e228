"""Required fields show a star before anything is sent, and the star stays out of the field's
name for screen readers (they hear the field's own `required`)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import Company
from tests.e2e.helpers import Browsing

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

AFTER = "(el) => getComputedStyle(el, '::after').content"


def test_required_fields_show_a_star_that_is_not_part_of_their_name(
    company: Company, browsing: Browsing
) -> None:
    page = browsing.log_in(company.manager_a)
    page.goto("/leads/new/")
    assert '"*"' in page.locator("label[for=id_company]").evaluate(AFTER)
    assert page.locator("label[for=id_competitor]").evaluate(AFTER) == "none"
    company_field = page.get_by_role("textbox", name="Company", exact=True)
    expect(company_field).to_have_attribute("required", "")
