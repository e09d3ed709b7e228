"""My day's lists written in Python (crm/views/my_day_items.py) are the item templates they
replaced, byte for byte, for the values that trip a rewrite: markup and quotes in names, notes
and next steps, no next step written, no owner, the reader as the owner, a step due today and
one overdue, a hand-off with nobody on either side, a time that falls on another day by zone;
in both languages and three zones. And the selector reads only what the lists show."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest
from django.db import connection
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from crm import selectors
from crm.models import Lead, LeadEvent, LeadEventKind
from crm.selectors.leads import with_idle_since
from crm.selectors.my_day import HANDOFF_COLUMNS, LEAD_COLUMNS
from crm.views.my_day_items import due_items, handoff_items, stalled_items
from tests.factories import bulk_leads

if TYPE_CHECKING:
    from tests.conftest import Company

# templates/crm/my_day.html's items until my_day_items.py wrote them.
TEMPLATE_DUE = """{% load i18n %}{% for lead in due %}<li><a href="{% url 'lead-detail' lead.pk %}">{{ lead.company }}</a>
        <div class="small">{{ lead.next_step|default:_("No next step written") }} · <span class="{% if lead.next_step_due < today %}overdue{% endif %}">{{ lead.next_step_due|date:"Y-m-d" }}</span>{% if lead.owner and lead.owner != user %} · {{ lead.owner }}{% endif %}</div></li>{% endfor %}"""  # noqa: E501
TEMPLATE_STALLED = """{% load i18n kaopu_text %}{% for lead in stalled %}<li><a href="{% url 'lead-detail' lead.pk %}">{{ lead.company }}</a>{% if lead.is_chicken_rib %} <span class="tag rib">{% translate "Chicken rib" %}</span>{% endif %}
        <div class="small">{% blocktranslate with since=lead.idle_since|age %}idle for {{ since }}{% endblocktranslate %}{% if lead.owner and lead.owner != user %} · {{ lead.owner }}{% endif %}</div></li>{% endfor %}"""  # noqa: E501
TEMPLATE_HANDOFFS = """{% load i18n %}{% for event in handoffs %}<li><a href="{% url 'lead-detail' event.lead_id %}">{{ event.lead.company }}</a>
        <div class="small">{% blocktranslate with by=event.actor to=event.to_user %}{{ by }} → {{ to }}{% endblocktranslate %} · {{ event.created_at|date:"m-d H:i" }}</div>
        {% if event.note %}<div class="small muted">“{{ event.note }}”</div>{% endif %}</li>{% endfor %}"""  # noqa: E501

# 16:30 UTC: already the next day in Shanghai, still the same day in Berlin and Los Angeles.
LATE = dt.datetime(2026, 3, 1, 16, 30, tzinfo=dt.UTC)
TODAY = dt.date(2026, 3, 1)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("zone", ["Asia/Shanghai", "Europe/Berlin", "America/Los_Angeles"])
def test_items_are_the_templates_byte_for_byte(
    company: Company, django_assert_num_queries: Any, language: str, zone: str
) -> None:
    c = company
    c.rep_a1.display_name = "Wang <Wei> & Co"
    c.rep_a1.save(update_fields=["display_name"])
    long_ago = timezone.now() - dt.timedelta(days=200)
    awkward: list[dict[str, Any]] = [
        {"company": 'O\'Brien & <Sons> "Ltd"', "next_step": 'Bring the "big" <offer> & more'},
        {"company": "无人负责的线索", "next_step": "", "owner": None, "is_chicken_rib": True},
        {"company": "The reader's own", "owner": c.manager_a, "next_step_due": TODAY},
        {"company": "华润科技（上海）有限公司", "next_step": "下周二拜访采购部王经理"},
    ]
    for fields in awkward:
        bulk_leads(
            1,
            team=c.team_a,
            created_by=c.manager_a,
            created_at=long_ago,
            **{"owner": c.rep_a1, "next_step_due": dt.date(2026, 2, 20)} | fields,
        )
    leads = list(
        with_idle_since(Lead.objects.filter(company__in=[f["company"] for f in awkward]))
        .select_related("owner")
        .only(*LEAD_COLUMNS)
        .order_by("pk")
    )
    notes = ['Over to you: "call <today>" & report', ""]
    for i, (lead, note) in enumerate(zip(leads, notes * 2, strict=False)):
        LeadEvent.objects.create(
            lead=lead,
            kind=LeadEventKind.HANDED_DOWN if i % 2 else LeadEventKind.REASSIGNED,
            actor=None if i == 1 else c.manager_a,
            to_user=None if i == 3 else c.rep_a1,
            note=note,
            created_at=LATE,
        )
    events = list(
        LeadEvent.objects.filter(lead__in=leads)
        .select_related("lead", "actor", "to_user")
        .only(*HANDOFF_COLUMNS)
        .order_by("pk")
    )
    context = {"due": leads, "stalled": leads, "handoffs": events}
    context |= {"user": c.manager_a, "today": TODAY}
    with translation.override(language), timezone.override(zone):
        expected = [
            Template(template).render(Context(context))
            for template in (TEMPLATE_DUE, TEMPLATE_STALLED, TEMPLATE_HANDOFFS)
        ]
        with django_assert_num_queries(0):
            got = [
                due_items(leads, user_id=c.manager_a.pk, today=TODAY),
                stalled_items(leads, user_id=c.manager_a.pk),
                handoff_items(events),
            ]

    assert got == expected
    due, stalled, handoffs = got
    assert "O&#x27;Brien &amp; &lt;Sons&gt; &quot;Ltd&quot;" in due
    assert 'class="overdue"' in due and 'class=""' in due  # due today is not overdue
    assert due.count("Wang &lt;Wei&gt; &amp; Co") == 2  # not the unassigned, not the reader's
    assert "None → " in handoffs and " → None" in handoffs
    assert "“Over to you: &quot;call &lt;today&gt;&quot; &amp; report”" in handoffs
    assert ("03-02 00:30" if zone == "Asia/Shanghai" else "03-01 ") in handoffs
    assert stalled.count('class="tag rib"') == 1


def test_my_day_reads_only_what_it_shows(company: Company) -> None:
    """The lists' leads and hand-offs come without the columns nobody shows (notes, the
    lead's whole row in each hand-off), and showing them reads nothing more."""
    c = company
    bulk_leads(
        3,
        team=c.team_a,
        owner=c.rep_a1,
        created_by=c.manager_a,
        created_at=timezone.now() - dt.timedelta(days=60),
        next_step_due=timezone.localdate() - dt.timedelta(days=1),
        notes="a long note nobody reads on My day",
    )
    lead = Lead.objects.filter(team=c.team_a).first()
    assert lead is not None
    LeadEvent.objects.create(
        lead=lead, kind=LeadEventKind.HANDED_DOWN, actor=c.manager_a, to_user=c.rep_a1
    )
    day = selectors.my_day(user=c.manager_a)
    assert day["due"] and day["stalled"] and day["handoffs"]
    assert all("notes" in lead.get_deferred_fields() for lead in day["due"] + day["stalled"])
    assert all("notes" in event.lead.get_deferred_fields() for event in day["handoffs"])


def test_a_managers_lists_name_the_team_by_id_read_once(company: Company) -> None:
    """Each of a manager's My day queries names the team by id (read once), none joins
    crm_team: the condition under which PostgreSQL walks lead_team_idle and the hand-offs'
    index in the lists' order and stops at 15 (through the join it sorted every stalled lead)."""
    c = company
    bulk_leads(
        20,
        team=c.team_a,
        owner=c.rep_a1,
        created_by=c.manager_a,
        created_at=timezone.now() - dt.timedelta(days=60),
        next_step_due=timezone.localdate() - dt.timedelta(days=1),
    )
    with CaptureQueriesContext(connection) as queries:
        day = selectors.my_day(user=c.manager_a)
    assert len(day["due"]) == len(day["stalled"]) == 15
    sqls = [q["sql"] for q in queries]
    assert sum(sql.startswith('SELECT "crm_team"."id"') for sql in sqls) == 1, sqls
    reading_leads = [sql for sql in sqls if '"crm_lead"' in sql]
    assert len(reading_leads) == 4, sqls  # the counts, due, stalled, hand-offs
    assert all('JOIN "crm_team"' not in sql for sql in reading_leads), reading_leads
    assert all(f'team_id" IN ({c.team_a.pk})' in sql for sql in reading_leads), reading_leads


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's plan")
@pytest.mark.parametrize("who", ["manager_a", "director"])
def test_sqlite_walks_the_hand_offs_newest_first(company: Company, who: str) -> None:
    """The week's hand-offs come from leadevent_handoff_time, newest first, with no sort: from
    (kind, created_at) SQLite sorted every hand-off of the week (4 ms at 100k leads)."""
    c = company
    (lead,) = bulk_leads(1, team=c.team_a, owner=c.rep_a1, created_by=c.manager_a)
    LeadEvent.objects.create(
        lead=lead, kind=LeadEventKind.HANDED_DOWN, actor=c.manager_a, to_user=c.rep_a1
    )
    with CaptureQueriesContext(connection) as queries:
        day = selectors.my_day(user=c.people[who])
    assert day["handoffs"]
    (sql,) = [q["sql"] for q in queries if '"crm_leadevent"' in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
        plan = " / ".join(row[3] for row in cursor.fetchall())
    assert "crm_leadevent USING INDEX leadevent_handoff_time (created_at>?)" in plan, plan
    assert "TEMP B-TREE" not in plan, plan
