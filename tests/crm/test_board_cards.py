"""The board's cards written in Python (crm/views/board_cards.py) are the card template they
replaced, byte for byte, for the values that trip a rewrite: markup and quotes in names and the
owner's name, no owner, a chicken rib, a stalled card, idle amber and red, one day idle and
many, a next step overdue, due and missing, a won card (no drag) and a lost one (no dates),
large and fractional values; in both languages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from django.template import Context, Template
from django.utils import timezone, translation

from crm import selectors
from crm.models import Currency, Source
from crm.pipeline import Stage
from crm.views.board_cards import board_cards
from tests.factories import bulk_leads

if TYPE_CHECKING:
    from tests.conftest import Company

# templates/crm/board.html's cards until board_cards.py wrote them.
TEMPLATE_CARDS = """{% load i18n %}{% for column in columns %}[{{ column.stage }}]{% for lead in column.leads %}
      <li class="board-card{% if lead.rotting %} rotting{% endif %}{% if lead.idle_level %} idle-{{ lead.idle_level }}{% endif %}" id="card-{{ lead.pk }}"
          {% if column.stage != "won" %}draggable="true" data-move-url="{% url 'lead-board-move' lead.pk %}"{% endif %} data-stage="{{ column.stage }}">
        <a href="{% url 'lead-detail' lead.pk %}">{{ lead.company }}</a>
        {% if lead.is_chicken_rib %}<span class="tag rib">{% translate "Chicken rib" %}</span>{% endif %}
        {% if lead.rotting %}<span class="tag warn">{% translate "stalled" %}</span>{% endif %}
        <div class="small muted">{{ lead.currency }} {{ lead.value|floatformat:"0g" }} · {{ lead.owner|default_if_none:_("Unassigned") }}</div>
        {% if lead.is_open %}<div class="small card-dates">
          <span class="idle{% if lead.idle_level %} idle-{{ lead.idle_level }}{% endif %}">{% blocktranslate count days=lead.idle_days %}idle {{ days }} day{% plural %}idle {{ days }} days{% endblocktranslate %}</span>
          {% if lead.next_step_due %}<span class="next-due{% if lead.next_step_due < today %} overdue{% endif %}">{% blocktranslate with date=lead.next_step_due|date:"m-d" %}next step {{ date }}{% endblocktranslate %}</span>{% else %}<span class="muted">{% translate "no next step" %}</span>{% endif %}
        </div>{% endif %}
        <div class="card-move" id="move-{{ lead.pk }}" aria-live="polite"></div>
      </li>
      {% endfor %}{% endfor %}"""  # noqa: E501


def awkward(now: dt.datetime) -> list[dict[str, Any]]:
    today = timezone.localdate(now)
    return [
        {
            "company": 'O\'Brien & <Sons> "Ltd"',
            "value": Decimal("1234567.89"),
            "currency": Currency.USD,
            "is_chicken_rib": True,
            "stage": Stage.PROPOSAL,
            "next_step_due": today - dt.timedelta(days=3),
            "created_at": now - dt.timedelta(days=40),  # stalled, red
        },
        {"company": "无人负责", "stage": Stage.NEW, "created_at": now - dt.timedelta(days=1)},
        {"company": "Amber", "stage": Stage.CONTACTED, "created_at": now - dt.timedelta(days=9)},
        {
            "company": "Due today, idle long ago",
            "stage": Stage.NEGOTIATION,
            "next_step_due": today,
            "created_at": now - dt.timedelta(days=1500),
        },
        {"company": "Won & done", "stage": Stage.WON, "value": Decimal("999.50")},
        {"company": "Lost", "stage": Stage.LOST, "lost_reason": "Price", "value": 0},
        {"company": "华润科技（上海）有限公司", "stage": Stage.QUALIFIED, "value": 88},
    ]


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_cards_are_the_templates_byte_for_byte(
    company: Company, django_assert_num_queries: Any, language: str
) -> None:
    company.rep_a1.display_name = "Wang <Wei> & Co"
    company.rep_a1.save(update_fields=["display_name"])
    now = timezone.now()
    for i, fields in enumerate(awkward(now)):
        bulk_leads(
            1,
            team=company.team_a,
            owner=None if i == 1 else company.rep_a1,
            created_by=company.manager_a,
            **{"source": Source.WEBSITE} | fields,
        )
    today = timezone.localdate()
    with translation.override(language):
        columns = selectors.pipeline_board(user=company.manager_a)
        expected = Template(TEMPLATE_CARDS).render(Context({"columns": columns, "today": today}))
        with django_assert_num_queries(0):
            written = board_cards(columns, today)
    cards = "".join(f"[{column.stage}]{html}" for column, html in written)

    assert cards == expected
    assert "O&#x27;Brien &amp; &lt;Sons&gt; &quot;Ltd&quot;" in cards
    assert "Wang &lt;Wei&gt; &amp; Co" in cards
    assert " overdue" in cards and " rotting" in cards and "idle-red" in cards
    assert "idle-amber" in cards and "1,500" not in cards
