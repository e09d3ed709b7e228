"""Search from anywhere: the header's box finds leads, companies, contacts and reports the
person may see — by part of a Chinese name, ranked — and nothing they may not see."""

from __future__ import annotations

import operator
from functools import reduce

import pytest
from django.db import connection
from django.db.models import Case, Model, Q, QuerySet, Value, When

from crm import services
from crm.models import Company as Company_
from crm.models import Contact, Lead, ReportState
from crm.models.companies import company_name_key
from crm.permissions import visible_companies, visible_contacts, visible_leads, visible_reports
from crm.selectors.search import CONTACT_FIELDS, LEAD_FIELDS, chars_contain, site_search
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


@pytest.fixture
def crowded(company: Company) -> Company:
    """More matches of 宏达 than a page shows, the best-ranked the oldest: oldest first, the
    name itself, two names starting with it, three containing it, three by their contact."""
    c = company
    for name in ["宏达", "宏达运输", "宏达冷链", "深圳宏达", "东莞宏达", "佛山宏达"]:
        lead = lead_new(c.manager_a, name, to=c.rep_a1, contact_name="陈静")
        report_sent(c.rep_a1, lead, kind="progress", status_now="在比价", next_step="约")
    for name in ["远方贸易", "远方物流", "远方电子"]:
        lead = lead_new(c.manager_a, name, to=c.rep_a1, contact_name="刘宏达")
        report_sent(c.rep_a1, lead, kind="progress", status_now="宏达也在比价", next_step="约")
    return c


def test_each_kind_is_ranked_then_newest_first(crowded: Company) -> None:
    found = site_search(user=crowded.rep_a1, q="宏达")
    ranked = ["宏达", "宏达冷链", "宏达运输", "佛山宏达", "东莞宏达", "深圳宏达"]
    assert [lead.company for lead in found.leads] == [*ranked, "远方电子", "远方物流"]
    assert [x.name for x in found.companies] == ranked
    assert [r.lead.company for r in found.reports] == [*ranked, "远方电子", "远方物流"]
    # The contacts' names: 刘宏达 contains it, 陈静 does not (and matches nothing else).
    assert [x.name for x in found.contacts] == ["刘宏达"] * 3


def test_contacts_are_ranked_by_name_then_their_other_fields(company: Company) -> None:
    c = company
    own = services.company_create(actor=c.manager_a, data={"name": "远方贸易"})
    # Oldest first: the other fields' match, then containing, starting with, the name itself.
    for data in [
        {"name": "Li Na", "email": "wang@example.com"},
        {"name": "Li Wang"},
        {"name": "Wang Fang"},
        {"name": "Wang"},
        {"name": "Zhang Wei"},
    ]:
        services.contact_create(actor=c.manager_a, company=own, data=data)
    found = site_search(user=c.manager_a, q="wang")
    assert [x.name for x in found.contacts] == ["Wang", "Wang Fang", "Li Wang", "Li Na"]
    assert [x.name for x in site_search(user=c.manager_a, q="wang", limit=2).contacts] == [
        "Wang",
        "Wang Fang",
    ]


@pytest.mark.parametrize("limit", [1, 2, 3, 4])
def test_a_full_page_shows_the_best_ranked_not_the_newest(crowded: Company, limit: int) -> None:
    # Each kind keeps `limit` of its nine (or six) matches: the best ranks, though the later
    # ranks are newer; a search that read a later rank first, or the newest first, shows those.
    ranked = ["宏达", "宏达冷链", "宏达运输", "佛山宏达"]
    found = site_search(user=crowded.rep_a1, q="宏达", limit=limit)
    assert [lead.company for lead in found.leads] == ranked[:limit]
    assert [x.name for x in found.companies] == ranked[:limit]
    assert [r.lead.company for r in found.reports] == ranked[:limit]
    director = site_search(user=crowded.director, q="宏达", limit=limit)
    assert [lead.company for lead in director.leads] == ranked[:limit]


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


@pytest.mark.parametrize("who", ["rep_a1", "manager_a", "director", "admin"])
@pytest.mark.parametrize("htmx", [False, True])
def test_the_page_pays_a_fixed_number_of_queries(
    crowded: Company, client_for, django_assert_max_num_queries, who: str, htmx: bool
) -> None:
    client = client_for(crowded.people[who])
    headers = {"HX-Request": "true"} if htmx else {}
    client.get("/search/", {"q": "宏达"}, headers=headers)
    # session, user, a manager's or +2's teams (read once: crm.selectors.search.Scope), one
    # query per kind (leads, companies, contacts, reports: each rank is a part of it), the
    # bell's count; however many rows match, and whichever ranks are read
    with django_assert_max_num_queries(8):
        response = client.get("/search/", {"q": "宏达"}, headers=headers)
    assert response.status_code == 200
    assert "宏达冷链" in response.content.decode()


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


def _any(term: str, *fields: str) -> Q:
    return reduce(operator.or_, (Q(**{f"{f}__icontains": term}) for f in fields))


@pytest.mark.parametrize("term", ["宏达", "宏", "达物", "宏达物流", "0000111", "A"])
def test_each_person_finds_exactly_what_crm_permissions_let_them_see(
    hongda: Company, term: str
) -> None:
    # The search reads a manager's or a +2's teams once and asks team_id IN (...) (Scope);
    # what anyone finds must stay crm.permissions' visible rows that match, no more, no less.
    c = hongda
    own = services.company_create(actor=c.manager_b, data={"name": "宏达自建"})  # no lead
    services.contact_create(actor=c.manager_b, company=own, data={"name": "宏达外联"})
    report_sent(c.rep_a1, c.lead_a1, kind="progress", status_now="宏达物流在比价", next_step="约")
    report_sent(c.rep_b1, c.lead_b1, kind="progress", status_now="宏达要报价", next_step="约")
    people = [c.admin, c.director, c.other_director, c.manager_a, c.manager_b]
    for user in [*people, c.rep_a1, c.rep_a2, c.rep_b1]:
        found = site_search(user=user, q=term, limit=1000)
        leads = visible_leads(user).filter(_any(term, "company", "contact_name", "phone", "email"))
        companies = visible_companies(user).filter(_any(term, "name"))
        contacts = visible_contacts(user).filter(_any(term, "name", "mobile", "phone", "email"))
        reports = visible_reports(user).filter(
            _any(term, "lead__company", "status_now", "what_i_did", "next_step", "ask"),
            state=ReportState.SUBMITTED,
        )
        assert {x.pk for x in found.leads} == set(leads.values_list("pk", flat=True)), user
        assert {x.pk for x in found.companies} == set(companies.values_list("pk", flat=True))
        assert {x.pk for x in found.contacts} == set(contacts.values_list("pk", flat=True))
        assert {x.pk for x in found.reports} == set(reports.values_list("pk", flat=True))
    # Both names start with the term: the newest first (the one made without a lead).
    assert [x.name for x in site_search(user=c.manager_b, q="宏达").companies] == [
        "宏达自建",
        "宏达科技",
    ]
    assert site_search(user=c.manager_a, q="宏达外联").contacts == []


def _one_ranked_read(found: QuerySet, name: str, match: Q, term: str, order: tuple[str, ...]):
    rank = Case(
        When(**{f"{name}__iexact": term}, then=Value(0)),
        When(**{f"{name}__istartswith": term}, then=Value(1)),
        When(**{f"{name}__icontains": term}, then=Value(2)),
        default=Value(3),
    )
    return list(found.filter(match).alias(rank=rank).order_by("rank", *order))


def test_the_ranks_read_apart_give_the_one_ranked_reads_page(company: Company) -> None:
    # PostgreSQL reads each rank apart and stops early (crm.selectors.search._first_of): for
    # any term, limit and person, the page must be the first rows of one ranked read.
    c = company
    words = ["Wang", "wang", "WANG", "Awang", "li", "Li_na", "50%", "宏达", "达宏", "x"]
    for i in range(30):
        name = " ".join(words[(i * k + k) % len(words)] for k in range(1 + i % 3))
        lead = lead_new(c.manager_a, name, to=c.rep_a1, contact_name=words[i % 7], phone=f"1{i}")
        report_sent(c.rep_a1, lead, kind="progress", status_now=words[i % 9], next_step="约")
        own = services.company_create(actor=c.manager_a, data={"name": f"{name} {i}"})
        contact = {"name": f"{words[i % 4]} {words[i % 6]}", "email": f"{words[i % 5]}@ex.com"}
        services.contact_create(actor=c.manager_a, company=own, data=contact)
    reported = ("lead__company", "status_now", "what_i_did", "next_step", "ask")
    for term in ["wang", "WANG", "Wa", "w", "li_", "50%", "宏达", "宏", "x"]:
        key = company_name_key(term)  # any spelling of the name, when the term has one
        named = _any(term, "name") | Q(uscc=term.upper()) | (_any(key, "name_key") if key else Q())
        for user in [c.manager_a, c.director, c.rep_a1]:
            every = {
                "leads": _one_ranked_read(
                    visible_leads(user),
                    "company",
                    _any(term, *LEAD_FIELDS),
                    term,
                    ("-updated_at", "-id"),
                ),
                "companies": _one_ranked_read(
                    visible_companies(user),
                    "name",
                    named,
                    term,
                    ("-id",),
                ),
                "contacts": _one_ranked_read(
                    visible_contacts(user), "name", _any(term, *CONTACT_FIELDS), term, ("-id",)
                ),
                "reports": _one_ranked_read(
                    visible_reports(user).filter(state=ReportState.SUBMITTED),
                    "lead__company",
                    _any(term, *reported),
                    term,
                    ("-submitted_at", "-id"),
                ),
            }
            for limit in (1, 3, 8):
                found = site_search(user=user, q=term, limit=limit)
                for kind, rows in every.items():
                    assert getattr(found, kind) == rows[:limit], (term, user, limit, kind)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's character index")
@pytest.mark.parametrize(
    ("model", "fields", "index"),
    [
        (Lead, LEAD_FIELDS, "lead_search_chars"),
        (Company_, ("name",), "company_name_chars"),
        (Company_, ("name_key",), "company_name_key_chars"),
        (Contact, CONTACT_FIELDS, "contact_search_chars"),
    ],
)
def test_a_two_character_term_can_use_the_character_index(
    hongda: Company, model: type[Model], fields: tuple[str, ...], index: str
) -> None:
    # 宏达 has no trigram: the searches narrow it with migration 0012's index, which PostgreSQL
    # uses only if the search asks exactly the indexed expression (same fields, same order).
    # No ordering: with sequential scans off, a model's default order would pick its own index.
    query = model._default_manager.filter(chars_contain("宏达", *fields)).order_by()
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a test's few rows: any index wins
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert f"Bitmap Index Scan on {index}" in plan, plan
    assert {row.pk for row in query} == {
        row.pk for row in model._default_manager.filter(_any("宏达", *fields))
    }
