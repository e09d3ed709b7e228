# ruff: noqa: E501  (the old partials, kept as they were written)
"""The nudge center's subjects and forms written in Python (coaching/views/nudge_items.py) are
the partials they replaced ("card-item", "act-forms", and the card's and the snoozed and closed
rows' choice between "act-forms" and "act-forms-errors"), byte for byte: markup, quotes and
ampersands in titles, tags and links, a subject with no tags, a card of one subject and of
several, a refused snooze or dismiss on a subject and on a card, no CSRF token; in both
languages and three zones (nothing here is a time, but a zone must not change it). The whole
pages were compared on the bench data (bench/README.md, "Issue 22, third pass": "The nudge center")."""

from __future__ import annotations

from typing import Any

import pytest
from django.template import Context, Template
from django.utils import timezone, translation

from coaching.cards import Card, CardItem
from coaching.forms import DismissForm, SnoozeForm
from coaching.models import Nudge
from coaching.views import nudge_items

# templates/coaching/nudges.html's partials until nudge_items.py (commit 45994e5).
PARTIALS = """{% partialdef card-item %}<li id="nudge-{{ item.nudge.pk }}">
  <a href="{{ item.action_url }}">{{ item.title }}</a>{% if item.tags %} <span class="small muted">{{ item.tags_text }}</span>{% endif %}
  <span class="nudge-actions">{% url 'coach-nudge-snooze' item.nudge.pk as snooze_url %}{% url 'coach-nudge-dismiss' item.nudge.pk as dismiss_url %}{% with uid=item.nudge.pk s_form=snooze_form d_form=dismiss_form %}{% if error_nudge == item.nudge.pk %}{% partial act-forms-errors %}{% else %}{% partial act-forms %}{% endif %}{% endwith %}</span>
</li>{% endpartialdef %}

{% partialdef act-forms %}<details><summary>{% translate "Snooze" %}</summary>
  <form method="post" action="{{ snooze_url }}" hx-post="{{ snooze_url }}" hx-target="#nudge-list" hx-swap="outerHTML" class="inline-form">
    {% csrf_token %}
    <div class="field"><label for="snooze-period-{{ uid }}">{% translate "Snooze for" %}</label>
      <select name="period" id="snooze-period-{{ uid }}">{% for value, label in snooze_form.fields.period.choices %}<option value="{{ value }}">{{ label }}</option>{% endfor %}</select></div>
    <div class="field"><label for="snooze-until-{{ uid }}">{% translate "Until" %}</label><input type="date" name="until" id="snooze-until-{{ uid }}"></div>
    <div class="field"><label for="snooze-reason-{{ uid }}">{% translate "Reason" %}</label><input type="text" name="reason" id="snooze-reason-{{ uid }}" maxlength="300"></div>
    <button type="submit">{% translate "Snooze" %}</button>
  </form>
</details>
<details><summary>{% translate "Dismiss" %}</summary>
  <form method="post" action="{{ dismiss_url }}" hx-post="{{ dismiss_url }}" hx-target="#nudge-list" hx-swap="outerHTML" class="inline-form">
    {% csrf_token %}
    <div class="field"><label for="dismiss-reason-{{ uid }}">{% translate "Why dismiss?" %}</label><input type="text" name="reason" id="dismiss-reason-{{ uid }}" maxlength="300" required></div>
    <button type="submit">{% translate "Dismiss" %}</button>
  </form>
</details>{% endpartialdef %}

{% partialdef act-forms-errors %}<details{% if s_form.errors %} open{% endif %}><summary>{% translate "Snooze" %}</summary>
  <form method="post" action="{{ snooze_url }}" hx-post="{{ snooze_url }}" hx-target="#nudge-list" hx-swap="outerHTML" class="inline-form">
    {% csrf_token %}{% include "crm/_form_fields.html" with form=s_form %}
    <button type="submit">{% translate "Snooze" %}</button>
  </form>
</details>
<details{% if d_form.errors %} open{% endif %}><summary>{% translate "Dismiss" %}</summary>
  <form method="post" action="{{ dismiss_url }}" hx-post="{{ dismiss_url }}" hx-target="#nudge-list" hx-swap="outerHTML" class="inline-form">
    {% csrf_token %}{% include "crm/_form_fields.html" with form=d_form %}
    <button type="submit">{% translate "Dismiss" %}</button>
  </form>
</details>{% endpartialdef %}""".replace(
    "{% endpartialdef %}\n\n", "{% endpartialdef %}"
)  # outside the page's blocks, the blank lines between them were never written
OLD_SHOWN = (
    "{% load i18n %}" + PARTIALS + "{% for item in card.shown %}{% partial card-item %}{% endfor %}"
)
OLD_FOLDED = (
    "{% load i18n %}"
    + PARTIALS
    + '{% for item in card.folded|slice:":50" %}{% partial card-item %}{% endfor %}'
)
OLD_ACTIONS = (
    "{% load i18n %}"
    + PARTIALS
    + """      {% if card.count == 1 %}{% with n=card.top.nudge %}{% url 'coach-nudge-snooze' n.pk as snooze_url %}{% url 'coach-nudge-dismiss' n.pk as dismiss_url %}{% with uid=n.pk s_form=snooze_form d_form=dismiss_form %}{% if error_nudge == n.pk %}{% partial act-forms-errors %}{% else %}{% partial act-forms %}{% endif %}{% endwith %}{% endwith %}
      {% else %}{% url 'coach-card-snooze' card.rule_id as snooze_url %}{% url 'coach-card-dismiss' card.rule_id as dismiss_url %}{% with uid="card-"|add:card.rule_id s_form=card_snooze_form d_form=card_dismiss_form %}{% if error_card == card.rule_id %}{% partial act-forms-errors %}{% else %}{% partial act-forms %}{% endif %}{% endwith %}{% endif %}"""
)
NEW_ACTIONS = """      {% if card.count == 1 %}{{ html.actions }}
      {% else %}{{ html.actions }}{% endif %}"""
OLD_ROW = (
    "{% load i18n %}"
    + PARTIALS
    + """{% with n=item.nudge %}{% url 'coach-nudge-snooze' n.pk as snooze_url %}{% url 'coach-nudge-dismiss' n.pk as dismiss_url %}{% with uid=n.pk %}{% partial act-forms %}{% endwith %}{% endwith %}"""
)

TOKEN = "tOkEn-0123456789abcdef"
TRICKY = 'O\'Brien & <Sons> "Ltd"'


def item(pk: int, *, tags: tuple[str, ...] = ()) -> CardItem:
    return CardItem(
        nudge=Nudge(pk=pk),
        title=f"{TRICKY} #{pk} 华东",
        action_url=f"/leads/{pk}/?tab=plan&x=<1>",
        tags=tags,
        rank=(),
        tags_text="、".join(tags),
    )


def card(n: int, rule_id: str = "handoff_first_plan") -> Card:
    items = [item(100 + i, tags=("3 days", "<b>big</b> & old") if i % 2 else ()) for i in range(n)]
    return Card(
        rule_id=rule_id,
        title=TRICKY,
        advice="",
        action_label="Go",
        priority=2,
        items=items,
    )


def context(**extra: Any) -> dict[str, Any]:
    return {
        "csrf_token": TOKEN,
        "snooze_form": SnoozeForm(),
        "dismiss_form": DismissForm(),
        "card_snooze_form": SnoozeForm(),
        "card_dismiss_form": DismissForm(),
    } | extra


def refused(pk: int | str) -> dict[str, Any]:
    """A snooze for a date with no date, and a dismiss with no reason, as the views bind them."""
    prefix = f"card-{pk}" if isinstance(pk, str) else str(pk)
    s_form = SnoozeForm({"period": "date", "reason": "<x>"}, auto_id=f"snooze-%s-{prefix}")
    d_form = DismissForm({"reason": ""}, auto_id=f"dismiss-%s-{prefix}")
    s_form.is_valid()
    d_form.is_valid()
    return {"snooze_form": s_form, "dismiss_form": d_form}


def render(source: str, values: dict[str, Any]) -> str:
    return Template(source).render(Context(values))


LANGUAGES = pytest.mark.parametrize("language", ["en", "zh-hans"])
ZONES = pytest.mark.parametrize("zone", ["Asia/Shanghai", "Europe/Berlin", "America/Los_Angeles"])


def cases() -> list[tuple[Card, dict[str, Any]]]:
    many = card(60)
    return [
        (card(1), {}),
        (card(2), {}),
        (many, {}),
        (card(1), {"error_nudge": 100} | refused(100)),
        (many, {"error_nudge": 101} | refused(101)),  # a shown subject refused
        (many, {"error_nudge": 140} | refused(140)),  # a folded one
        (many, {"error_card": many.rule_id, "card_snooze_form": refused("x")["snooze_form"]}),
        (card(3, "report_due"), {"error_card": "handoff_first_plan"}),  # another card's error
    ]


@LANGUAGES
@ZONES
@pytest.mark.parametrize("case", range(8))
def test_a_cards_subjects_and_forms_are_the_partials(language: str, zone: str, case: int) -> None:
    the_card, extra = cases()[case]
    with translation.override(language), timezone.override(zone):
        values = context(card=the_card, **extra)
        html = nudge_items.card_parts(the_card, nudge_items.NudgeForms(TOKEN), values)
        if the_card.count > 1:
            assert html["shown"] == render(OLD_SHOWN, values)
            assert html["folded"] == render(OLD_FOLDED, values)
        old = render(OLD_ACTIONS, values)
        assert render(NEW_ACTIONS, {"card": the_card, "html": html}) == old
        assert TOKEN in old and old.count("<form ") == 2


@LANGUAGES
@pytest.mark.parametrize("token", [TOKEN, "", None])
def test_a_snoozed_rows_forms_are_the_partial(language: str, token: str | None) -> None:
    one = item(7, tags=("x",))
    with translation.override(language):
        values = context(item=one, csrf_token=token)
        assert nudge_items.NudgeForms(token).nudge(7) == render(OLD_ROW, values)


def test_a_subjects_escapes_are_the_templates() -> None:
    """The checks above are not vacuous: the values reach the HTML escaped once."""
    html = nudge_items.card_items([item(5, tags=("<b>",))], nudge_items.NudgeForms(TOKEN))
    assert "O&#x27;Brien &amp; &lt;Sons&gt; &quot;Ltd&quot;" in html
    assert 'href="/leads/5/?tab=plan&amp;x=&lt;1&gt;"' in html
    assert '<span class="small muted">&lt;b&gt;</span>' in html
