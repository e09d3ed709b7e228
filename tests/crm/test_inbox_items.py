"""The report inbox's items written in Python (crm/views/inbox_items.py) are the item template
they replaced, byte for byte, for the values that trip a rewrite: markup and quotes in names and
texts, a text past 140 characters, no status (the ask shown instead), no lead, read and unread,
late, an open ask and a joint visit, acknowledged, one reply and several, weaknesses; in both
languages and three zones. And the page reads no more for them."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest
from django.template import Context, Template
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from crm import selectors
from crm.models import AskState, Report, ReportKind, ReportReply, ReportState
from crm.views.inbox_items import INBOX_COLUMNS, inbox_items
from tests.factories import bulk_leads

if TYPE_CHECKING:
    from tests.conftest import Company

# templates/crm/report_inbox.html's items until inbox_items.py wrote them.
TEMPLATE_ITEMS = """{% load i18n kaopu_text %}{% for report in reports %}
  <li class="{% if not report.read_at %}unread{% endif %}">
    <a href="{% url 'report-detail' report.pk %}">
      {% if not report.read_at %}<span class="dot" title="{% translate 'Unread' %}"><span class="visually-hidden">{% translate "Unread" %}</span></span>{% endif %}
      <strong>{{ report.author }}</strong> · {{ report.get_kind_display }}{% if report.lead %} · {{ report.lead.company }}{% else %} · {% translate "general update" %}{% endif %}
    </a>
    <div class="small muted">{{ report.submitted_at|date:"Y-m-d H:i" }} · {% blocktranslate with score=report.quality_score %}quality {{ score }}/100{% endblocktranslate %}{% if report.on_time is False %} · <span class="overdue">{% translate "late" %}</span>{% endif %}
      {% if report.ask_state == "open" %} · <span class="tag warn">{% if report.ask_kind == "joint_visit" %}{% translate "asks for a joint visit" %}{% else %}{% translate "open ask" %}{% endif %}</span>{% endif %}
      {% if report.acknowledged_at %} · {% translate "acknowledged" %}{% endif %}
      {% if report.reply_count %} · {% blocktranslate count counter=report.reply_count %}{{ counter }} reply{% plural %}{{ counter }} replies{% endblocktranslate %}{% endif %}</div>
    <div class="small">{{ report.status_now|default:report.ask|truncatechars:140 }}</div>
    {% if report.quality_issues %}<div class="small weak-line">{% translate "Weaknesses:" %} {{ report.quality_issue_labels|join_list }}</div>{% endif %}
  </li>
  {% endfor %}"""  # noqa: E501

# 16:30 UTC: already the next day in Shanghai, still the same day in Berlin and Los Angeles.
LATE = dt.datetime(2026, 3, 1, 16, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("zone", ["Asia/Shanghai", "Europe/Berlin", "America/Los_Angeles"])
def test_items_are_the_templates_byte_for_byte(
    company: Company, django_assert_num_queries: Any, language: str, zone: str
) -> None:
    c = company
    c.rep_a1.display_name = "Wang <Wei> & Co"
    c.rep_a1.save(update_fields=["display_name"])
    (lead,) = bulk_leads(1, team=c.team_a, owner=c.rep_a1, company='O\'Brien & <Sons> "Ltd"')
    awkward: list[dict[str, Any]] = [
        {"lead": lead, "status_now": 'Price "agreed" <almost> & ' + "x" * 150, "on_time": False},
        {"status_now": "", "ask": "Need a <demo> unit", "ask_state": AskState.OPEN},
        {"ask_state": AskState.OPEN, "ask_kind": "joint_visit", "read_at": LATE},
        {"acknowledged_at": LATE, "quality_issues": ["no_backup", "vague_ask", "made_up"]},
        {"kind": ReportKind.LOSS_REVIEW, "status_now": "客户选了对手，价低一成", "on_time": None},
    ]
    for i, fields in enumerate(awkward):
        report = Report.objects.create(
            author=c.rep_a1,
            team=c.team_a,
            state=ReportState.SUBMITTED,
            submitted_at=LATE + dt.timedelta(minutes=i),
            quality_score=37 + i,
            **{"kind": ReportKind.PROGRESS, "status_now": "On track", "on_time": True} | fields,
        )
        for _ in range(i % 3):
            ReportReply.objects.create(report=report, author=c.manager_a, body="Noted")
    reports = list(selectors.report_inbox(user=c.manager_a).only(*INBOX_COLUMNS))
    assert len(reports) == len(awkward)
    with translation.override(language), timezone.override(zone):
        expected = Template(TEMPLATE_ITEMS).render(Context({"reports": reports}))
        with django_assert_num_queries(0):
            items = inbox_items(reports)

    assert items == expected
    assert "O&#x27;Brien &amp; &lt;Sons&gt; &quot;Ltd&quot;" in items
    assert "Price &quot;agreed&quot; &lt;almost&gt; &amp; " in items and "x" * 150 not in items
    assert "Need a &lt;demo&gt; unit" in items  # no status: the ask
    assert items.count('class="small weak-line"') == 1
    assert items.count('<li class="unread">') == 4
    assert ("2026-03-02 00:3" if zone == "Asia/Shanghai" else "2026-03-01 ") in items


def test_the_inbox_page_shows_the_items_and_reads_no_more(
    company: Company, client: Client, django_assert_max_num_queries: Any
) -> None:
    c = company
    for i in range(35):
        Report.objects.create(
            author=c.rep_a1,
            team=c.team_a,
            state=ReportState.SUBMITTED,
            kind=ReportKind.PROGRESS,
            status_now=f"Status number {i}",
            submitted_at=timezone.now() - dt.timedelta(hours=i),
        )
    client.force_login(c.manager_a)
    with django_assert_max_num_queries(7):
        page = client.get(reverse("report-inbox")).content.decode()
    assert page.count('<li class="unread">') == 30
    assert "Status number 0<" in page and "Status number 30<" not in page
    second = client.get(reverse("report-inbox") + "?page=2").content.decode()
    assert second.count('<li class="unread">') == 5 and "Status number 34<" in second
