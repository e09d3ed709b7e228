"""Companies and contacts over the API: the OpenAPI document lists them, a bad code is refused
in the caller's language with nothing saved, and a lead's people come back with their role."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.cache import cache

from crm.models import Company, LeadContact
from tests.api.test_api import api_for, assert_error

if TYPE_CHECKING:
    from tests.conftest import Company as People


def test_openapi_lists_companies_and_contacts(company: People) -> None:
    cache.clear()
    paths = api_for(company.rep_a1).get("/openapi.json").json()["paths"]
    for path in (
        "/api/companies",
        "/api/companies/{company_id}",
        "/api/contacts",
        "/api/contacts/{contact_id}",
        "/api/leads/{lead_id}/contacts",
    ):
        assert path in paths


def test_a_bad_code_is_refused_in_chinese_and_nothing_saved(company: People) -> None:
    cache.clear()
    api = api_for(company.rep_a1, "zh-hans")
    body = assert_error(api.post("/companies", {"name": "某某公司", "uscc": "123"}), 422, "invalid")
    assert "统一社会信用代码" in body["fields"]["uscc"]
    assert not Company.objects.filter(name="某某公司").exists()


def test_people_on_a_lead_over_the_api(company: People) -> None:
    cache.clear()
    api = api_for(company.rep_a1)
    lead = company.lead_a1
    made = api.post(
        f"/leads/{lead.pk}/contacts",
        {"name": "王总", "role": "decision_maker", "new_contact": {"title": "总经理"}},
    )
    assert made.status_code == 201, made.content
    assert made.json()["contact"]["title"] == "总经理"
    people = api.get(f"/leads/{lead.pk}/contacts").json()
    assert [(p["contact"]["name"], p["role"], p["last_spoken"]) for p in people] == [
        ("王总", "decision_maker", None)
    ]
    contact_id = people[0]["contact"]["id"]
    changed = api.patch(f"/contacts/{contact_id}", {"wechat": "wang_zong"})
    assert changed.json()["wechat"] == "wang_zong"
    assert_error(api.post(f"/leads/{lead.pk}/contacts", {"role": "boss"}), 422, "invalid")
    assert LeadContact.objects.filter(lead=lead).count() == 1
