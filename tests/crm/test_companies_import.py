"""Importing another CRM's export: the second contact at a company is a new lead at the same
company record with its own contact, not a "duplicate"; the same person again still is one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crm.models import Company, Contact, DuplicatePolicy, Lead, LeadContact
from tests.crm.test_import import csv_bytes, run

if TYPE_CHECKING:
    from tests.conftest import Company as People


def test_a_second_contact_at_a_company_is_not_a_duplicate(company: People) -> None:
    table = [
        ["杭州靠谱科技有限公司", "王总", "13800000001", "", "展会", "5000", ""],
        ["杭州靠谱科技有限公司", "刘工", "13800000002", "", "展会", "", ""],  # another person
        ["杭州靠谱科技有限公司", "王总", "", "", "展会", "", ""],  # the same person again
        ["杭州靠谱科技有限公司", "", "", "", "展会", "", ""],  # no person: the company again
        ["杭州靠谱科技（滨江）", "张工", "", "", "展会", "", ""],  # its branch: same record
    ]
    job = run(company.manager_a, csv_bytes(table), on_duplicate=DuplicatePolicy.SKIP)
    assert (job.created_count, job.skipped_count) == (3, 2)
    assert {d["line"] for d in job.duplicates} == {4, 5}
    leads = Lead.objects.filter(team=company.team_a, company__contains="靠谱")
    assert sorted(leads.values_list("contact_name", flat=True)) == ["刘工", "张工", "王总"]
    (account,) = {lead.account_id for lead in leads}
    assert Company.objects.get(pk=account).name == "杭州靠谱科技有限公司"
    assert sorted(Contact.objects.filter(company_id=account).values_list("name", flat=True)) == [
        "刘工",
        "张工",
        "王总",
    ]
    assert LeadContact.objects.filter(lead__in=leads).count() == 3
