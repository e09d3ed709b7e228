"""Search from anywhere: the header's box finds leads, companies, contacts and reports the
person may see — by part of a Chinese name, ranked — and nothing they may not see."""

from __future__ import annotations

import pytest

from crm.selectors.search import site_search
from tests.conftest import Company
from tests.factories import lead_new, report_sent

pytestmark = pytest.mark.django_db


@pytest.fixture
def hongda(company: Company) -> Company:
    c = company
    lead_new(
        c.manager_a, "宏达物流集团有限公司", to=c.rep_a1, contact_name="王建国", phone="13800001111"
    )
    lead_new(c.manager_a, "深圳宏达电子", to=c.rep_a1, contact_name="李娜")
    lead_new(c.manager_a, "宏达", to=c.rep_a1, contact_name="张伟")
    lead_new(c.manager_a, "远方贸易", to=c.rep_a1, contact_name="刘宏达")
    lead_new(c.manager_b, "宏达科技", to=c.rep_b1, contact_name="赵六")  # the other team's
    return c


def test_part_of_a_chinese_name_finds_the_whole_ranked(hongda: Company) -> None:
    found = site_search(user=hongda.rep_a1, q=" 宏达 ")
    assert found.term == "宏达"
    # The name itself, then names starting with it, then containing it, then other fields.
    assert [lead.company for lead in found.leads] == [
        "宏达",
        "宏达物流集团有限公司",
        "深圳宏达电子",
        "远方贸易",
    ]
    assert "宏达科技" not in {c.name for c in found.companies}
    assert {c.name for c in found.companies} >= {"宏达物流集团有限公司", "深圳宏达电子"}
    assert [c.name for c in found.contacts] == ["刘宏达"]


def test_nobody_finds_what_they_may_not_see(hongda: Company) -> None:
    c = hongda
    assert [lead.company for lead in site_search(user=c.rep_b1, q="宏达").leads] == ["宏达科技"]
    assert site_search(user=c.rep_a2, q="宏达").total == 0
    director = {lead.company for lead in site_search(user=c.director, q="宏达").leads}
    assert "宏达科技" in director and "宏达" in director
    assert site_search(user=c.other_director, q="宏达").total == 0


def test_a_phone_number_finds_the_lead_and_its_contact(hongda: Company) -> None:
    found = site_search(user=hongda.rep_a1, q="0000111")
    assert [lead.company for lead in found.leads] == ["宏达物流集团有限公司"]


def test_reports_are_found_by_their_lead_and_what_they_say(company: Company) -> None:
    c = company
    report_sent(c.rep_a1, c.lead_a1, kind="progress", status_now="客户在比价", next_step="约采购")
    assert [r.lead_id for r in site_search(user=c.manager_a, q="比价").reports] == [c.lead_a1.pk]
    assert len(site_search(user=c.manager_a, q="alpha").reports) == 1
    assert site_search(user=c.manager_b, q="比价").reports == []
    assert site_search(user=c.rep_a2, q="比价").reports == []


def test_the_page_lists_each_kind_with_links(hongda: Company, client_for) -> None:
    client = client_for(hongda.rep_a1, "zh-hans")
    html = client.get("/search/", {"q": "宏达"}).content.decode()
    assert "宏达物流集团有限公司" in html and "宏达科技" not in html
    assert "商机" in html and "公司" in html and "联系人" in html
    region = client.get("/search/", {"q": "宏达"}, headers={"HX-Request": "true"})
    assert region.content.decode().lstrip().startswith('<section id="results"')


def test_the_page_pays_a_fixed_number_of_queries(
    hongda: Company, client_for, django_assert_max_num_queries
) -> None:
    client = client_for(hongda.manager_a)
    client.get("/search/", {"q": "宏达"})
    # session, user, one query per kind (leads, companies, contacts, reports), the bell's count
    with django_assert_max_num_queries(7):
        response = client.get("/search/", {"q": "宏达"})
    assert response.status_code == 200


@pytest.mark.parametrize("q", ["", "   ", "\x00", "x" * 5000])
def test_a_blank_or_bad_term_searches_nothing(company: Company, client_for, q: str) -> None:
    response = client_for(company.rep_a1).get("/search/", {"q": q})
    assert response.status_code == 200
    assert "Type a name" in response.content.decode()


def test_every_page_has_the_search_box_with_its_shortcut(company: Company, client_for) -> None:
    html = client_for(company.rep_a1).get("/").content.decode()
    assert 'id="site-q"' in html and 'aria-keyshortcuts="/"' in html
    assert 'action="/search/"' in html and "js/kaopu.js" in html


@pytest.mark.parametrize(
    ("q", "found"),
    [("ALPHA rob", True), ("al", True), ("Al_ha", False), ("%", False), ("robotics", True)],
)
def test_any_case_and_wildcards_taken_literally(company: Company, q: str, found: bool) -> None:
    # On PostgreSQL: ILIKE from three characters (the trigram indexes), strpos below.
    leads = site_search(user=company.rep_a1, q=q).leads
    assert [lead.company for lead in leads] == (["Alpha Robotics"] if found else [])
