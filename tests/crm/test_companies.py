"""Companies and contacts as a person meets them: the people on a deal with their role and the
last time anyone spoke to each, an activity that says whom it was with, a company's page and
its likely duplicates, merging (nothing lost, the audit trail says who), and bad input refused
in the user's language with nothing saved."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from crm import services
from crm.models import AuditEntry, Company, Contact, ContactRole, Lead, LeadContact
from crm.permissions import visible_contacts
from crm.selectors.companies import company_duplicates
from tests.factories import lead_new

if TYPE_CHECKING:
    from tests.conftest import Company as People

VALID_USCC = "91110108551385082Q"
OTHER_USCC = "91330106MA2GL1234M"


def _on_lead(client: Client, lead: Lead, **data: str) -> HttpResponse:
    return client.post(reverse("lead-contact-add", args=[lead.pk]), data)


def test_a_new_lead_gets_its_company_and_contact(company: People) -> None:
    lead = lead_new(company.rep_a1, "杭州靠谱科技有限公司", contact_name="王总", phone="138")
    again = lead_new(company.rep_a1, "杭州靠谱科技（滨江）", contact_name="王总", phone="138")
    assert lead.account_id == again.account_id
    assert Company.objects.get(pk=lead.account_id).name == "杭州靠谱科技有限公司"
    assert Contact.objects.filter(company_id=lead.account_id).count() == 1
    assert LeadContact.objects.filter(contact__name="王总").count() == 2


def test_naming_the_same_person_never_hands_over_another_reps_contact(company: People) -> None:
    """Typing a name that another rep's contact at the same company also has makes a contact
    of one's own: no one gets the other's mobile, WeChat or notes by guessing a name."""
    mine = lead_new(company.rep_a1, "杭州靠谱科技有限公司", contact_name="王总")
    wang = LeadContact.objects.get(lead=mine).contact
    Contact.objects.filter(pk=wang.pk).update(wechat="wx-wang", notes="只在周二见客")
    for other in (company.rep_a2, company.rep_b1):  # the same team, and another team
        theirs = lead_new(other, "杭州靠谱科技", contact_name="王总")
        assert theirs.account_id == mine.account_id  # one company all the same
        assert LeadContact.objects.get(lead=theirs).contact_id != wang.pk
        assert not visible_contacts(other).filter(pk=wang.pk).exists()
        assert not visible_contacts(other).filter(wechat="wx-wang").exists()


def test_people_on_a_deal_with_role_last_spoken_and_with_whom(
    company: People, client_for: Callable[..., Client]
) -> None:
    lead = company.lead_a1
    client = client_for(company.rep_a1)
    response = _on_lead(client, lead, name="王总", title="总经理", role=ContactRole.DECISION_MAKER)
    assert response.status_code == 302
    page = client.get(reverse("lead-detail", args=[lead.pk])).content.decode()
    region = page[page.index('id="lead-contacts"') :]
    assert "王总" in region and "Decision maker" in region and "not spoken to yet" in region

    wang = Contact.objects.get(name="王总")
    logged = client.post(
        reverse("lead-log-activity", args=[lead.pk]),
        {"kind": "visit", "outcome": "reached", "note": "聊了预算", "contacts": [wang.pk]},
    )
    assert logged.status_code == 302
    page = client.get(reverse("lead-detail", args=[lead.pk])).content.decode()
    assert re.search(r"last spoken to \d{4}-\d\d-\d\d", page)
    assert "with 王总" in page  # the timeline says whom it was with


def test_the_lead_page_in_chinese(company: People, client_for: Callable[..., Client]) -> None:
    client = client_for(company.rep_a1, "zh-hans")
    _on_lead(client, company.lead_a1, name="刘工", role=ContactRole.TECHNICAL)
    page = client.get(reverse("lead-detail", args=[company.lead_a1.pk])).content.decode()
    assert "技术" in page and "刘工" in page


def test_an_activity_with_someone_not_on_the_lead_is_refused(
    company: People, client_for: Callable[..., Client]
) -> None:
    client = client_for(company.rep_a1)
    _on_lead(client, company.lead_a1, name="王总", role=ContactRole.DECISION_MAKER)
    stranger = services.contact_create(
        actor=company.admin,
        company=Company.objects.get(pk=company.lead_b1.account_id),
        data={"name": "外人"},
    )
    response = client.post(
        reverse("lead-log-activity", args=[company.lead_a1.pk]),
        {"kind": "call", "outcome": "reached", "contacts": [stranger.pk]},
    )
    assert response.status_code == 422
    assert not company.lead_a1.activities.exists()


def test_adding_nobody_is_refused_in_the_users_language(
    company: People, client_for: Callable[..., Client]
) -> None:
    client = client_for(company.rep_a1, "zh-hans")
    response = _on_lead(client, company.lead_a1, name="  ", role=ContactRole.OTHER)
    assert response.status_code == 422
    assert not LeadContact.objects.filter(lead=company.lead_a1).exists()
    assert "请选一位这家公司的人，或者填新联系人的姓名。" in response.content.decode()


def test_taking_someone_off_a_deal_keeps_them_at_the_company(
    company: People, client_for: Callable[..., Client]
) -> None:
    client = client_for(company.rep_a1)
    _on_lead(client, company.lead_a1, name="王总", role=ContactRole.DECISION_MAKER)
    link = LeadContact.objects.get(lead=company.lead_a1, contact__name="王总")
    response = client.post(reverse("lead-contact-remove", args=[company.lead_a1.pk, link.pk]))
    assert response.status_code == 302
    assert not LeadContact.objects.filter(pk=link.pk).exists()
    assert Contact.objects.filter(name="王总").exists()


def test_uscc_is_checked_and_unique(company: People) -> None:
    with pytest.raises(ValidationError) as refused:
        services.company_create(actor=company.rep_a1, data={"name": "X", "uscc": "123"})
    assert "uscc" in refused.value.message_dict
    made = services.company_create(
        actor=company.rep_a1, data={"name": "X", "uscc": VALID_USCC.lower()}
    )
    assert made.uscc == VALID_USCC
    with pytest.raises(ValidationError):
        services.company_create(actor=company.rep_a1, data={"name": "Y", "uscc": VALID_USCC})
    assert Company.objects.filter(name="Y").count() == 0


def test_company_form_refuses_a_bad_code_in_chinese(
    company: People, client_for: Callable[..., Client]
) -> None:
    client = client_for(company.rep_a1, "zh-hans")
    response = client.post(reverse("company-create"), {"name": "某公司", "uscc": "1234"})
    assert response.status_code == 422
    assert "统一社会信用代码" in response.content.decode()
    assert not Company.objects.filter(name="某公司").exists()


def test_likely_duplicates_and_merging_keep_everything(
    company: People, client_for: Callable[..., Client]
) -> None:
    lead_x = lead_new(company.manager_a, "宏达机械制造有限公司", contact_name="张工")
    lead_y = lead_new(company.manager_a, "宏达机械制造厂", contact_name="李总")
    keep = Company.objects.get(pk=lead_x.account_id)
    other = Company.objects.get(pk=lead_y.account_id)
    assert keep.pk != other.pk
    services.company_update(actor=company.manager_a, company=other, data={"uscc": OTHER_USCC})
    proposed = company_duplicates(user=company.manager_a, company=keep)
    assert [c.pk for c, _score in proposed] == [other.pk]

    # A rep is never offered the merge; a manager confirms it.
    assert (
        "Possibly the same company"
        not in client_for(company.rep_a1)
        .get(reverse("company-detail", args=[company.lead_a1.account_id]))
        .content.decode()
    )
    client = client_for(company.manager_a)
    page = client.get(reverse("company-detail", args=[keep.pk])).content.decode()
    assert "宏达机械制造厂" in page
    response = client.post(reverse("company-merge", args=[keep.pk]), {"merge": other.pk})
    assert response.status_code == 302
    assert not Company.objects.filter(pk=other.pk).exists()
    assert set(Lead.objects.filter(account=keep).values_list("pk", flat=True)) == {
        lead_x.pk,
        lead_y.pk,
    }
    assert set(Contact.objects.filter(company=keep).values_list("name", flat=True)) == {
        "张工",
        "李总",
    }
    keep.refresh_from_db()
    assert keep.uscc == OTHER_USCC
    entry = AuditEntry.objects.get(action="company.merged")
    assert entry.actor == company.manager_a
    assert "宏达机械制造厂" in entry.summary and "1 leads, 1 contacts moved" in entry.summary


def test_a_rep_may_not_merge(company: People) -> None:
    one = services.company_create(actor=company.rep_a1, data={"name": "Acme Ltd"})
    two = services.company_create(actor=company.rep_a1, data={"name": "Acme Inc"})
    with pytest.raises(ValidationError):
        services.company_merge(actor=company.rep_a1, keep=one, merge=two)
    assert Company.objects.filter(pk=two.pk).exists()


def test_lists_search_and_filter(company: People, client_for: Callable[..., Client]) -> None:
    client = client_for(company.rep_a1)
    _on_lead(
        client,
        company.lead_a1,
        name="王总",
        title="总经理",
        mobile="13800001111",
        role=ContactRole.DECISION_MAKER,
    )
    _on_lead(client, company.lead_a1, name="刘工", role=ContactRole.TECHNICAL)
    html = client.get(reverse("contact-list"), {"q": "1380000"}).content.decode()
    assert "王总" in html and "刘工" not in html
    html = client.get(reverse("contact-list"), {"role": "technical"}).content.decode()
    assert "刘工" in html and "王总" not in html
    html = client.get(reverse("company-list"), {"q": "alpha robotics ltd"}).content.decode()
    assert "Alpha Robotics" in html
    export = client.get(reverse("contact-export-csv"))
    body = b"".join(export.streaming_content).decode()  # type: ignore[attr-defined]
    assert "王总" in body and "Bravo" not in body


def test_inline_contact_on_the_company_page(
    company: People, client_for: Callable[..., Client]
) -> None:
    client = client_for(company.rep_a1)
    url = reverse("company-add-contact", args=[company.lead_a1.account_id])
    response = client.post(url, {"name": "赵会计", "title": "财务"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="company-contacts"') and "赵会计" in html
    bad = client.post(url, {"name": "", "email": "nope"}, headers={"HX-Request": "true"})
    assert bad.status_code == 422
    assert Contact.objects.filter(company_id=company.lead_a1.account_id).count() == 1


def test_editing_a_company_in_place_of_its_page(
    company: People, client_for: Callable[..., Client]
) -> None:
    client = client_for(company.rep_a1)
    pk = company.lead_a1.account_id
    response = client.post(
        reverse("company-edit", args=[pk]),
        {"name": "Alpha Robotics", "website": "alpha.example", "city": "杭州", "uscc": ""},
    )
    assert response.status_code == 302
    saved = Company.objects.get(pk=pk)
    assert (saved.website, saved.city) == ("https://alpha.example", "杭州")
    assert AuditEntry.objects.filter(action="company.updated", object_id=str(pk)).exists()
    # Someone else's company does not exist for them.
    other = client_for(company.rep_b1).get(reverse("company-edit", args=[pk]))
    assert other.status_code == 404


def test_editing_a_contact(company: People, client_for: Callable[..., Client]) -> None:
    client = client_for(company.rep_a1)
    _on_lead(client, company.lead_a1, name="王总", role=ContactRole.DECISION_MAKER)
    wang = Contact.objects.get(name="王总")
    response = client.post(
        reverse("contact-edit", args=[wang.pk]),
        {"name": "王总", "title": "总经理", "wechat": "wang_zong", "email": ""},
    )
    assert response.status_code == 302
    wang.refresh_from_db()
    assert (wang.title, wang.wechat) == ("总经理", "wang_zong")
    bad = client.post(reverse("contact-edit", args=[wang.pk]), {"name": "", "email": "x"})
    assert bad.status_code == 422
    wang.refresh_from_db()
    assert wang.name == "王总"


def test_company_export_as_xlsx_holds_only_visible_companies(
    company: People, client_for: Callable[..., Client]
) -> None:
    from io import BytesIO

    from openpyxl import load_workbook

    response = client_for(company.rep_a1).get(reverse("company-export-xlsx"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(BytesIO(b"".join(response.streaming_content))).active  # type: ignore[attr-defined,arg-type]
    assert sheet is not None
    names = [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert names == ["Alpha Robotics"]


def test_the_form_to_put_someone_on_a_deal_opens_when_asked(
    company: People, client_for: Callable[..., Client]
) -> None:
    client = client_for(company.rep_a1)
    lead = company.lead_a1
    page = client.get(reverse("lead-detail", args=[lead.pk])).content.decode()
    assert 'id="add-lead-contact"' not in page  # the lead page opens without the menu
    url = reverse("lead-contact-add", args=[lead.pk])
    region = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert region.lstrip().startswith('<section id="lead-contacts"')
    assert 'id="add-lead-contact"' in region
    plain = client.get(url)  # without JavaScript: the lead page with the form open
    assert plain.status_code == 302 and "add_contact=1" in plain["Location"]
    opened = client.get(plain["Location"]).content.decode()
    assert 'id="add-lead-contact"' in opened
    assert client_for(company.rep_b1).get(url).status_code == 404
