"""The migration that turns each lead's contact fields into a company and a contact: the counts
after it, and the way back."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("crm", "0006_companies")]
AFTER = [("crm", "0007_companies_from_leads")]


def _migrate(targets: list[tuple[str, str]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return MigrationExecutor(connection)


@pytest.mark.django_db(transaction=True)
def test_leads_become_companies_and_contacts_and_back() -> None:
    executor = _migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    Team = apps.get_model("crm", "Team")
    Lead = apps.get_model("crm", "Lead")
    User = apps.get_model("crm", "User")
    team = Team.objects.create(name="A", manager=User.objects.create(username="m1", role="manager"))
    other = Team.objects.create(
        name="B", manager=User.objects.create(username="m2", role="manager")
    )

    def lead(company: str, contact: str = "", phone: str = "", email: str = "", t=team) -> None:
        Lead.objects.create(
            company=company, contact_name=contact, phone=phone, email=email, source="brand", team=t
        )

    lead("杭州靠谱科技有限公司", "王总", "13800000001")
    lead("杭州靠谱科技", "王总", "13800000001")  # the same person at the same company
    lead("杭州靠谱科技（滨江）", "刘工", "13800000002")  # a second contact there
    lead("杭州靠谱科技股份有限公司", "刘工", "13800000002", t=other)  # another team, same person
    lead("Acme Co., Ltd.", email="buyer@acme.example")  # no name: named after the email
    lead("ACME Limited", "Jane Doe", email="jane@acme.example")
    lead("北方重工")  # no contact at all

    executor = _migrate(AFTER)
    apps = executor.loader.project_state(AFTER).apps
    Company = apps.get_model("crm", "Company")
    Contact = apps.get_model("crm", "Contact")
    LeadContact = apps.get_model("crm", "LeadContact")
    Lead = apps.get_model("crm", "Lead")
    assert sorted(Company.objects.values_list("name", flat=True)) == [
        "Acme Co., Ltd.",
        "北方重工",
        "杭州靠谱科技有限公司",
    ]
    assert not Lead.objects.filter(account=None).exists()
    kaopu = Company.objects.get(name="杭州靠谱科技有限公司")
    assert Lead.objects.filter(account=kaopu).count() == 4
    # 刘工 on the other team's lead is a contact of that team's own: no rep sees another's
    # contact (their notes, mobile, WeChat) through a shared company.
    assert sorted(Contact.objects.filter(company=kaopu).values_list("name", flat=True)) == [
        "刘工",
        "刘工",
        "王总",
    ]
    liu = LeadContact.objects.filter(contact__name="刘工")
    assert liu.values("contact_id").distinct().count() == 2
    acme = Contact.objects.filter(company__name="Acme Co., Ltd.")
    assert sorted(acme.values_list("name", flat=True)) == ["Jane Doe", "buyer@acme.example"]
    assert Contact.objects.count() == 5
    assert LeadContact.objects.count() == 6  # every lead with a contact, none twice
    assert set(LeadContact.objects.values_list("role", flat=True)) == {"other"}
    # The leads keep their own fields.
    assert Lead.objects.filter(contact_name="王总").count() == 2

    executor = _migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    assert apps.get_model("crm", "Company").objects.count() == 0
    assert apps.get_model("crm", "Contact").objects.count() == 0
    assert apps.get_model("crm", "Lead").objects.filter(account__isnull=False).count() == 0
    assert apps.get_model("crm", "Lead").objects.count() == 7
    _migrate(executor.loader.graph.leaf_nodes())
