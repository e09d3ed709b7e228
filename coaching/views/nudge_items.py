"""The nudge center's subjects and their snooze and dismiss forms as HTML, written in Python
(issue 22): a card lists up to 53 subjects, each with two forms, and as the template's
`{% partial card-item %}` / `{% partial act-forms %}` they were most of the page's request (880
`{% with %}` nodes a page).

The HTML is what templates/coaching/nudges.html's partials "card-item" and "act-forms" wrote
until then, byte for byte (tests/coaching/test_nudge_items.py renders the old partials beside
these): translated text and values escaped as `{% translate %}` and `{{ }}` escape them, one
CSRF token a page as `{% csrf_token %}` writes it. A form refused with errors is still the
template's partial "act-forms-errors" (one a page at most). A change to a subject's look is
made here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.forms import Form
from django.template.loader import get_template
from django.urls import reverse
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from coaching.cards import Card, CardItem
from coaching.forms import SnoozeForm
from crm.web import url_around_id

_link = url_around_id  # reversed once per page, each nudge's id put between the halves


def _e(value: Any) -> str:
    return str(conditional_escape(value))


class NudgeForms:
    """The page's snooze and dismiss forms: its translations, the snooze periods and the CSRF
    token are written once, so each subject costs only its URLs and ids."""

    def __init__(self, csrf_token: Any) -> None:
        token = str(csrf_token) if csrf_token else ""
        self.token = token
        self.csrf = (
            str(format_html('<input type="hidden" name="csrfmiddlewaretoken" value="{}">', token))
            if token and token != "NOTPROVIDED"
            else ""
        )
        self.snooze_head, self.snooze_tail = _link("coach-nudge-snooze")
        self.dismiss_head, self.dismiss_tail = _link("coach-nudge-dismiss")
        snooze, dismiss = _e(_("Snooze")), _e(_("Dismiss"))
        options = "".join(
            f'<option value="{_e(value)}">{_e(label)}</option>'
            for value, label in SnoozeForm().fields["period"].choices  # type: ignore[attr-defined]
        )
        self.parts = (
            f'<details><summary>{snooze}</summary>\n  <form method="post" action="',  # snooze_url
            '" hx-post="',  # snooze_url
            '" hx-target="#nudge-list" hx-swap="outerHTML" class="inline-form">\n'
            f"    {self.csrf}\n"
            '    <div class="field"><label for="snooze-period-',  # uid
            f'">{_e(_("Snooze for"))}</label>\n'
            '      <select name="period" id="snooze-period-',  # uid
            f'">{options}</select></div>\n    <div class="field"><label for="snooze-until-',  # uid
            f'">{_e(_("Until"))}</label><input type="date" name="until" id="snooze-until-',  # uid
            '"></div>\n    <div class="field"><label for="snooze-reason-',  # uid
            f'">{_e(_("Reason"))}</label><input type="text" name="reason" id="snooze-reason-',
            '" maxlength="300"></div>\n'
            f'    <button type="submit">{snooze}</button>\n'
            "  </form>\n"
            f"</details>\n<details><summary>{dismiss}</summary>\n"
            '  <form method="post" action="',  # dismiss_url
            '" hx-post="',  # dismiss_url
            '" hx-target="#nudge-list" hx-swap="outerHTML" class="inline-form">\n'
            f"    {self.csrf}\n"
            '    <div class="field"><label for="dismiss-reason-',  # uid
            f'">{_e(_("Why dismiss?"))}</label><input type="text" name="reason" '
            'id="dismiss-reason-',  # uid
            '" maxlength="300" required></div>\n'
            f'    <button type="submit">{dismiss}</button>\n'
            "  </form>\n"
            "</details>",
        )

    def plain(self, snooze_url: str, dismiss_url: str, uid: str) -> str:
        """The partial "act-forms": `snooze_url` and `dismiss_url` escaped, `uid` escaped."""
        p = self.parts
        s, d = snooze_url, dismiss_url
        return (
            f"{p[0]}{s}{p[1]}{s}{p[2]}{uid}{p[3]}{uid}{p[4]}{uid}{p[5]}{uid}{p[6]}{uid}{p[7]}"
            f"{uid}{p[8]}{d}{p[9]}{d}{p[10]}{uid}{p[11]}{uid}{p[12]}"
        )

    def refused(self, snooze_url: str, dismiss_url: str, s_form: Form, d_form: Form) -> str:
        """The partial "act-forms-errors", through the template (a refused form, rare)."""
        template = get_template("coaching/nudges.html#act-forms-errors")
        context = {
            "csrf_token": self.token,
            "snooze_url": snooze_url,
            "dismiss_url": dismiss_url,
            "s_form": s_form,
            "d_form": d_form,
        }
        return str(template.render(context))

    def nudge(
        self, pk: int, *, error_nudge: Any = None, s_form: Any = None, d_form: Any = None
    ) -> SafeString:
        """One nudge's forms (error_nudge: the nudge whose refused forms are shown)."""
        snooze_url = f"{self.snooze_head}{pk}{self.snooze_tail}"
        dismiss_url = f"{self.dismiss_head}{pk}{self.dismiss_tail}"
        if error_nudge == pk:
            return SafeString(self.refused(_raw(snooze_url), _raw(dismiss_url), s_form, d_form))
        return SafeString(self.plain(snooze_url, dismiss_url, str(pk)))

    def card(
        self, rule_id: str, *, error_card: Any = None, s_form: Any = None, d_form: Any = None
    ) -> SafeString:
        """A whole card's forms (error_card: the card whose refused forms are shown)."""
        snooze_url = reverse("coach-card-snooze", args=[rule_id])
        dismiss_url = reverse("coach-card-dismiss", args=[rule_id])
        if error_card == rule_id:
            return SafeString(self.refused(snooze_url, dismiss_url, s_form, d_form))
        return SafeString(self.plain(_e(snooze_url), _e(dismiss_url), _e("card-" + str(rule_id))))


def _raw(escaped_url: str) -> SafeString:
    """An URL already escaped here, marked safe so the template does not escape it again."""
    return SafeString(escaped_url)


def card_items(
    items: Iterable[CardItem],
    forms: NudgeForms,
    *,
    error_nudge: Any = None,
    s_form: Any = None,
    d_form: Any = None,
) -> SafeString:
    """The partial "card-item" for each subject, one after the other (inside `<ol>`)."""
    out = []
    for item in items:
        pk = item.nudge.pk
        tags = f' <span class="small muted">{_e(item.tags_text)}</span>' if item.tags else ""
        actions = forms.nudge(pk, error_nudge=error_nudge, s_form=s_form, d_form=d_form)
        out.append(
            f'<li id="nudge-{pk}">\n'
            f'  <a href="{_e(item.action_url)}">{_e(item.title)}</a>{tags}\n'
            f'  <span class="nudge-actions">{actions}</span>\n'
            "</li>"
        )
    return SafeString("".join(out))


def card_parts(card: Card, forms: NudgeForms, context: dict[str, Any]) -> dict[str, SafeString]:
    """A card's subjects ("shown", "folded": the first 50 folded) and its forms ("actions"), as
    nudges.html writes them around."""
    error_nudge = context.get("error_nudge")
    s_form, d_form = context.get("snooze_form"), context.get("dismiss_form")
    parts = {"shown": SafeString(""), "folded": SafeString("")}
    if card.count > 1:
        parts["shown"] = card_items(
            card.shown, forms, error_nudge=error_nudge, s_form=s_form, d_form=d_form
        )
        parts["folded"] = card_items(
            card.folded[:50], forms, error_nudge=error_nudge, s_form=s_form, d_form=d_form
        )
        actions = forms.card(
            card.rule_id,
            error_card=context.get("error_card"),
            s_form=context.get("card_snooze_form"),
            d_form=context.get("card_dismiss_form"),
        )
    else:
        actions = forms.nudge(
            card.top.nudge.pk, error_nudge=error_nudge, s_form=s_form, d_form=d_form
        )
    parts["actions"] = SafeString(actions)
    return parts
