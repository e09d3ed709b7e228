"""The lead list's rows written in Python (crm/views/lead_rows.py) are the row template they
replaced, byte for byte, for the values that trip a rewrite: markup and quotes in names, a next
step past 40 characters, no owner, no next step on an open and on a closed lead, large and
fractional values, a day that differs by time zone; in both languages and three zones."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from django.template import Context, Template
from django.utils import timezone, translation

from crm.models import Currency, Lead, Source
from crm.pipeline import Stage
from crm.views.lead_rows import lead_rows
from crm.views.leads import ROW_VALUES, listed_leads
from tests.factories import bulk_leads

if TYPE_CHECKING:
    from tests.conftest import Company

# templates/crm/lead_list.html's rows until lead_rows.py wrote them (labels as with_labels gave).
TEMPLATE_ROWS = """{% load i18n %}{% for lead in leads %}<tr>
  <td><a href="{% url 'lead-detail' lead.pk %}">{{ lead.company }}</a>{% if lead.is_chicken_rib %} <span class="tag rib" title="{% translate 'Chicken-rib lead' %}">{% translate "Chicken rib" %}</span>{% endif %}<div class="muted small">{{ lead.contact_name }}</div></td>
  <td><span class="stage stage-{{ lead.stage }}">{{ lead.get_stage_display }}</span></td>
  <td class="num">{{ lead.currency }} {{ lead.value|floatformat:"0g" }}</td>
  <td>{% if lead.owner %}{{ lead.owner }}{% else %}<span class="muted">{% translate "Unassigned" %}</span>{% endif %}</td>
  <td>{{ lead.get_source_display }}</td>
  <td>{% if lead.next_step %}{{ lead.next_step|truncatechars:40 }}{% if lead.next_step_due %} <span class="muted small">· {{ lead.next_step_due|date:"Y-m-d" }}</span>{% endif %}{% elif lead.is_open %}<span class="tag warn no-next-step">{% translate "No next step" %}</span>{% endif %}</td>
  <td class="small">{{ lead.updated_at|date:"Y-m-d" }}</td>
</tr>
{% endfor %}"""  # noqa: E501

# 16:30 UTC on 1 March: already 2 March in Shanghai, still 1 March in Berlin and Los Angeles.
LATE = dt.datetime(2026, 3, 1, 16, 30, tzinfo=dt.UTC)

AWKWARD: list[dict[str, Any]] = [
    {
        "company": 'O\'Brien & <Sons> "Ltd"',
        "contact_name": "Zoë <b>Li</b>",
        "next_step": 'Call back about the "big" order & <price> in full detail',
        "next_step_due": dt.date(2026, 3, 9),
        "value": Decimal("1234567.89"),
        "currency": Currency.USD,
        "is_chicken_rib": True,
        "stage": Stage.PROPOSAL,
        "source": Source.REFERRAL,
    },
    {"company": "无人负责的线索", "next_step": "", "value": Decimal("0"), "stage": Stage.NEW},
    {"company": "Closed & quiet", "next_step": "", "value": Decimal("999.50"), "stage": Stage.WON},
    {"company": "Exactly forty", "next_step": "x" * 40, "value": Decimal("0.49")},
    {"company": "Forty-one", "next_step": "y" * 41, "next_step_due": dt.date(999, 1, 2)},
    {"company": "Combining accents", "next_step": "e\u0301" * 45},  # 90 code points, 45 letters
    {"company": "Short, decomposed", "next_step": "Cafe\u0301 visit"},  # NFC: "Café visit"
    {
        "company": "华润科技（上海）有限公司",
        "next_step": "下周二拜访采购部王经理，带上样品和报价单",
        "value": 88,
    },
]


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("zone", ["Asia/Shanghai", "Europe/Berlin", "America/Los_Angeles"])
def test_rows_are_the_templates_byte_for_byte(
    company: Company, django_assert_num_queries: Any, language: str, zone: str
) -> None:
    company.rep_a1.display_name = "Wang <Wei> & Co"
    company.rep_a1.save(update_fields=["display_name"])
    # No display name: first and last name (User.__str__).
    rep_a2 = company.rep_a2
    rep_a2.display_name, rep_a2.first_name, rep_a2.last_name = "", "Li", "<Na>"
    rep_a2.save(update_fields=["display_name", "first_name", "last_name"])
    for i, fields in enumerate(AWKWARD):
        bulk_leads(
            1,
            team=company.team_a,
            owner=None if i == 1 else rep_a2 if i == 2 else company.rep_a1,
            created_by=company.manager_a,
            updated_at=LATE,
            **{"source": Source.WEBSITE, "stage": Stage.CONTACTED} | fields,
        )
    awkward = Lead.objects.filter(company__in=[f["company"] for f in AWKWARD]).order_by("pk")
    leads = list(awkward.select_related("owner"))
    # As the list reads them: values, the owner's name made from its columns.
    listed = listed_leads(awkward.values_list(*ROW_VALUES))
    with translation.override(language), timezone.override(zone):
        expected = Template(TEMPLATE_ROWS).render(Context({"leads": leads}))
        with django_assert_num_queries(0):
            rows = lead_rows(listed)
            from_leads = lead_rows(leads)

    assert rows == expected == from_leads
    assert rows.count("<tr>") == len(AWKWARD)
    assert "O&#x27;Brien &amp; &lt;Sons&gt; &quot;Ltd&quot;" in rows
    assert "<td>Li &lt;Na&gt;</td>" in rows and "<td>Wang &lt;Wei&gt; &amp; Co</td>" in rows
    assert "Call back about the &quot;big&quot; order &amp; &lt;" in rows
    assert "in full detail" not in rows
    assert ("2026-03-02" if zone == "Asia/Shanghai" else "2026-03-01") in rows
