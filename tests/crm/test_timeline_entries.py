"""A lead's timeline entries written in Python (crm/views/timeline_entries.py) are the template
they replaced, byte for byte, for the entries that trip a rewrite: every activity and history
kind the template wrote and each of its branches (a hand-off with and without a note, returned
with and without a team, a next step from a report, a decision, an activity and none, due and
parked), markup and quotes in every text and name, no actor, no receiver (a deleted account: the
template wrote "None", the entries write "deleted user"), a report past 200
characters and one with only an ask, contacts with and without a title, an acknowledged report;
in both languages and three zones (times with microseconds, a day that differs by zone)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest
from django.template import Context, Template
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm import selectors
from crm.models import Activity, Contact, LeadEvent, Report
from crm.models.companies import Company as Customer
from crm.models.reports import ReportKind, ReportState
from crm.views.timeline_entries import timeline_entries

if TYPE_CHECKING:
    from tests.conftest import Company

# templates/crm/_timeline.html until timeline_entries.py wrote its entries.
TEMPLATE_TIMELINE = """{% load i18n kaopu_text %}{% if timeline %}
<ol class="timeline">
  {% for entry in timeline %}{% with item=entry.item %}
  <li class="tl-{{ entry.kind }}{% if entry.kind == 'event' %} tl-{{ item.kind }}{% else %} tl-outcome-{{ item.outcome }}{% endif %}">
    <time datetime="{{ entry.when|date:'c' }}">{{ entry.when|date:"Y-m-d H:i" }}</time>
    {% if entry.kind == "report" %}
      <strong><a href="{% url 'report-detail' item.pk %}">{{ item.get_kind_display }}</a></strong> <span class="muted">— {{ item.author }} · {% blocktranslate with score=item.quality_score %}quality {{ score }}/100{% endblocktranslate %}{% if item.acknowledged_at %} · {% translate "acknowledged" %}{% endif %}</span>
      <p class="prewrap">{{ item.status_now|default:item.ask|truncatechars:200 }}</p>
    {% elif entry.kind == "activity" %}
      <strong>{{ item.get_kind_display }}</strong> · {{ item.get_outcome_display }} <span class="muted">— {{ item.author }}</span>{% with people=item.contacts.all %}{% if people %} <span class="with-whom">{% blocktranslate with names=people|join_list %}with {{ names }}{% endblocktranslate %}</span>{% endif %}{% endwith %}
      {% if item.note %}<p class="prewrap">{{ item.note }}</p>{% endif %}
    {% elif item.kind == "handed_down" %}
      <strong>{% blocktranslate with by=item.actor to=item.to_user %}{{ by }} handed this lead down to {{ to }}{% endblocktranslate %}</strong>
      {% if item.note %}<p class="prewrap">“{{ item.note }}”</p>{% endif %}
    {% elif item.kind == "reassigned" %}
      <strong>{% blocktranslate with by=item.actor from=item.from_user to=item.to_user %}{{ by }} reassigned this lead from {{ from }} to {{ to }}{% endblocktranslate %}</strong>
      {% if item.note %}<p class="prewrap">“{{ item.note }}”</p>{% endif %}
    {% elif item.kind == "returned" %}
      <strong>{% translate "Returned to the team pool" %}</strong>
      {% if item.changes.moved_to_team %}<span class="muted">{% blocktranslate with rep=item.from_user team=item.changes.moved_to_team %}{{ rep }} moved to {{ team }}.{% endblocktranslate %}</span>{% endif %}
      {% if item.note %}<p class="prewrap">{{ item.note }}</p>{% endif %}
    {% elif item.kind == "stage_changed" %}
      <strong>{% blocktranslate with from=item.get_from_stage_display to=item.get_to_stage_display %}Stage: {{ from }} → {{ to }}{% endblocktranslate %}</strong> <span class="muted">— {{ item.actor }}</span>
      {% if item.note %}<p class="prewrap">{{ item.note }}</p>{% endif %}
    {% elif item.kind == "next_step" %}
      <strong>{% translate "Next step set" %}</strong> <span class="muted">— {{ item.actor }}{% if item.changes.source == "report" %} · {% blocktranslate with n=item.changes.report_id %}from report #{{ n }}{% endblocktranslate %}{% elif item.changes.source == "decision" %} · {% blocktranslate with n=item.changes.report_id %}the manager's decision on report #{{ n }}{% endblocktranslate %}{% elif item.changes.source == "activity" %} · {% translate "with an activity" %}{% endif %}</span>
      <p class="prewrap">{{ item.changes.next_step }}{% if item.changes.next_step_due %} · {{ item.changes.next_step_due }}{% endif %}{% if item.changes.parked_until %} · {% blocktranslate with date=item.changes.parked_until %}parked until {{ date }}{% endblocktranslate %}{% endif %}</p>
    {% elif item.kind == "created" %}
      <strong>{% translate "Lead created" %}</strong> <span class="muted">— {{ item.actor }}</span>
    {% else %}
      <strong>{% translate "Lead edited" %}</strong> <span class="muted">— {{ item.actor }}: {{ item.changed_labels|join_list }}</span>
    {% endif %}
  </li>
  {% endwith %}{% endfor %}
</ol>
{% if timeline_more %}<p><a href="{% url 'lead-detail' lead.pk %}?timeline=all#timeline-h">{% translate "Show older entries" %}</a></p>{% endif %}
{% else %}
<p class="empty">{% translate "Nothing has happened on this lead yet." %}</p>
{% endif %}
"""  # noqa: E501

# The template, but a person whose account was deleted (null) reads "deleted user", not "None".
DELETED_NAMED = TEMPLATE_TIMELINE
for _person in ("item.actor", "item.to_user", "item.from_user", "item.author"):
    DELETED_NAMED = DELETED_NAMED.replace(_person, f"{_person}|default_if_none:deleted")

# 16:30 UTC on 1 March: already 2 March in Shanghai, still 1 March in Berlin and Los Angeles.
LATE = dt.datetime(2026, 3, 1, 16, 30, 5, 123456, tzinfo=dt.UTC)
MARKUP = 'Price & <b>"terms"</b> it\'s {{ x }} %(n)s'


def at(minutes: int) -> dt.datetime:
    return LATE - dt.timedelta(minutes=minutes)


def awkward_timeline(company: Company) -> None:
    lead, rep, manager = company.lead_a1, company.rep_a1, company.manager_a
    rep.display_name = "Wang <Wei> & Co"
    rep.save(update_fields=["display_name"])
    customer = Customer.objects.create(name="华润 & <Co>")
    with_title = Contact.objects.create(company=customer, name="Li <Na>", title='CFO "&"')
    plain = Contact.objects.create(company=customer, name="张伟")
    call = Activity.objects.create(
        lead=lead, author=rep, kind="call", outcome="reached", note=MARKUP, happened_at=at(1)
    )
    call.contacts.set([with_title, plain])
    Activity.objects.create(lead=lead, author=manager, kind="doorstep", happened_at=at(2))
    Activity.objects.create(
        lead=lead, author=rep, kind="visit", outcome="follow_up", note="拜访", happened_at=at(3)
    )
    events: list[dict[str, Any]] = [
        {"kind": "created", "actor": rep},
        {"kind": "created", "actor": None},
        {"kind": "updated", "actor": rep, "changes": {"company": "x", "value": 1, "gone": 2}},
        {"kind": "updated", "actor": None, "changes": {}},
        {"kind": "handed_down", "actor": manager, "to_user": rep, "note": MARKUP},
        {"kind": "handed_down", "actor": None, "to_user": None},
        {"kind": "reassigned", "actor": manager, "from_user": rep, "to_user": company.rep_a2},
        {"kind": "reassigned", "actor": manager, "to_user": rep, "note": "交接"},
        {"kind": "returned", "from_user": rep, "changes": {"moved_to_team": "Team <B>"}},
        {"kind": "returned", "from_user": rep, "note": MARKUP, "changes": {"moved_to_team": ""}},
        {"kind": "stage_changed", "actor": rep, "from_stage": "new", "to_stage": "qualified"},
        {"kind": "stage_changed", "actor": None, "to_stage": "lost", "note": MARKUP},
        {
            "kind": "next_step",
            "actor": rep,
            "changes": {"source": "report", "report_id": 12345, "next_step": MARKUP},
        },
        {
            "kind": "next_step",
            "actor": manager,
            "changes": {
                "source": "decision",
                "report_id": 7,
                "next_step": "打电话",
                "next_step_due": "2026-03-09",
                "parked_until": "2026-04-01",
            },
        },
        {"kind": "next_step", "actor": rep, "changes": {"source": "activity", "next_step": None}},
        {"kind": "next_step", "actor": None, "changes": {"next_step_due": "<2026>"}},
        {"kind": "next_step", "actor": rep, "changes": {"source": "report"}},
        {"kind": "next_step", "changes": {"next_step_due": None, "parked_until": ""}},
    ]
    LeadEvent.objects.bulk_create(
        LeadEvent(lead=lead, created_at=at(10 + i), **fields) for i, fields in enumerate(events)
    )
    reports: list[dict[str, Any]] = [
        {"status_now": MARKUP + " " + "长" * 200, "quality_score": 87, "acknowledged_at": LATE},
        {"status_now": "", "ask": "Need <help> & a discount", "kind": ReportKind.ESCALATION},
        {"status_now": "e\u0301" * 150, "ask": "unused"},
    ]
    for i, fields in enumerate(reports):
        Report.objects.create(
            author=rep,
            team=company.team_a,
            lead=lead,
            state=ReportState.SUBMITTED,
            submitted_at=at(40 + i),
            **fields,
        )


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("zone", ["Asia/Shanghai", "Europe/Berlin", "America/Los_Angeles"])
def test_timeline_is_the_templates_byte_for_byte(
    company: Company, django_assert_num_queries: Any, language: str, zone: str
) -> None:
    awkward_timeline(company)
    entries = selectors.lead_timeline(lead=company.lead_a1, viewer=company.manager_a)
    assert len(entries) >= 3 + 18 + 3  # and the fixture's own history
    context = {"lead": company.lead_a1, "timeline": entries, "timeline_more": True}
    with translation.override(language), timezone.override(zone):
        deleted = _("deleted user")
        expected = Template(DELETED_NAMED).render(Context({**context, "deleted": deleted}))
        with django_assert_num_queries(0):
            context["timeline_entries"] = timeline_entries(entries)
            written = render_to_string("crm/_timeline.html", context)

    assert written == expected
    assert written.count("<li ") == len(entries)
    assert "Price &amp; &lt;b&gt;&quot;terms&quot;&lt;/b&gt; it&#x27;s {{ x }} %(n)s" in written
    assert "Wang &lt;Wei&gt; &amp; Co" in written and f"— {deleted}" in written
    assert "— None" not in written and "None handed" not in written
    assert ("2026-03-02" if zone == "Asia/Shanghai" else "2026-03-01") in written
    assert "长" * 150 in written and "长" * 200 not in written


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_an_empty_timeline_is_the_templates(company: Company, language: str) -> None:
    context = {"lead": company.lead_a1, "timeline": [], "timeline_more": False}
    with translation.override(language):
        expected = Template(TEMPLATE_TIMELINE).render(Context(context))
        context["timeline_entries"] = timeline_entries([])
        assert render_to_string("crm/_timeline.html", context) == expected
