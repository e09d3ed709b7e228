"""A lead's timeline entries as HTML, written in Python (issue 22): 50 entries through the
template engine were most of the lead page's time, as the list's rows and the board's cards were
(crm/views/lead_rows.py, crm/views/board_cards.py).

The HTML is what templates/crm/_timeline.html wrote entry by entry until then, byte for byte
(tests/crm/test_timeline_entries.py renders the old template beside it): values escaped as
`{{ }}` escapes them (a deleted person reads "deleted user"), `{% translate %}` escaped,
`{% blocktranslate %}` with its values escaped and its text not, times in the reader's zone
(`date:'c'` and `date:"Y-m-d H:i"`), `truncatechars:200`. A change to an entry's look is made
here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from typing import Any

from django.utils import timezone
from django.utils.formats import localize
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from crm.labels import choice_labels
from crm.models import Activity, LeadEvent, Report
from crm.selectors import TimelineEntry
from crm.templatetags.kaopu_text import join_words
from crm.web import url_around_id

ENTRY = """
  <li class="tl-{kind}{extra}">
    <time datetime="{iso}">{when}</time>
    {body}
  </li>
  """
_MISSING = object()


Labels = dict[str, dict[Any, str]]


def _label(labels: Labels, choices: str, value: Any) -> Any:
    """What get_FOO_display() gives: the choice's label, or the value when it is none."""
    return labels[choices].get(value, value)


def _out(value: Any) -> str:
    """A value as `{{ value }}` writes it: localized, then escaped ("None" for None)."""
    return escape(str(localize(value)))


def _who(item: Any, person: str) -> str:
    """The `person` of an entry (its name, `<person>_name`, as crm.selectors.lead_timeline read
    it), escaped; one whose account was deleted (the foreign key is set to null) reads "deleted
    user", not "None"."""
    name = getattr(item, f"{person}_name")
    return _out(name) if name is not None else escape(_("deleted user"))


def _key(changes: Any, key: str) -> Any:
    """`item.changes.key` as the template looked it up: missing is empty."""
    if isinstance(changes, Mapping) and key in changes:
        return changes[key]
    return _MISSING


def _key_out(changes: Any, key: str) -> str:
    value = _key(changes, key)
    return "" if value is _MISSING else _out(value)


def _report(report: Report, url: str, labels: Labels) -> str:
    text = Truncator(str(report.status_now or report.ask)).chars(200)
    quality = _("quality %(score)s/100") % {"score": _out(report.quality_score)}
    acknowledged = f" · {escape(_('acknowledged'))}" if report.acknowledged_at else ""
    kind = _out(_label(labels, "report", report.kind))
    return (
        f'\n      <strong><a href="{url}">{kind}</a></strong>'
        f' <span class="muted">— {_who(report, "author")} · {quality}{acknowledged}</span>'
        f'\n      <p class="prewrap">{escape(text)}</p>\n    '
    )


def _activity(activity: Activity, labels: Labels) -> str:
    people = activity.with_whom  # type: ignore[attr-defined]
    whom = ""
    if people:
        names = escape(join_words(people))
        whom = f' <span class="with-whom">{_("with %(names)s") % {"names": names}}</span>'
    return (
        f"\n      <strong>{_out(_label(labels, 'activity', activity.kind))}</strong>"
        f" · {_out(_label(labels, 'outcome', activity.outcome))}"
        f' <span class="muted">— {_who(activity, "author")}</span>{whom}'
        f"\n      {_plain(activity.note)}\n    "
    )


def _event(event: LeadEvent, labels: Labels) -> str:
    kind, changes = event.kind, event.changes
    if kind == "handed_down":
        head = _("%(by)s handed this lead down to %(to)s") % {
            "by": _who(event, "actor"),
            "to": _who(event, "to_user"),
        }
        return f"\n      <strong>{head}</strong>\n      {_quoted(event.note)}\n    "
    if kind == "reassigned":
        head = _("%(by)s reassigned this lead from %(from)s to %(to)s") % {
            "by": _who(event, "actor"),
            "from": _who(event, "from_user"),
            "to": _who(event, "to_user"),
        }
        return f"\n      <strong>{head}</strong>\n      {_quoted(event.note)}\n    "
    if kind == "returned":
        moved = ""
        team = _key(changes, "moved_to_team")
        if team is not _MISSING and team:
            moved = '<span class="muted">{}</span>'.format(
                _("%(rep)s moved to %(team)s.")
                % {"rep": _who(event, "from_user"), "team": _out(team)}
            )
        return (
            f"\n      <strong>{escape(_('Returned to the team pool'))}</strong>"
            f"\n      {moved}\n      {_plain(event.note)}\n    "
        )
    if kind == "stage_changed":
        head = _("Stage: %(from)s → %(to)s") % {
            "from": _out(_label(labels, "stage", event.from_stage)),
            "to": _out(_label(labels, "stage", event.to_stage)),
        }
        return (
            f'\n      <strong>{head}</strong> <span class="muted">— {_who(event, "actor")}</span>'
            f"\n      {_plain(event.note)}\n    "
        )
    if kind == "next_step":
        source = _key(changes, "source")
        via = ""
        if source == "report":
            via = " · " + _("from report #%(n)s") % {"n": _key_out(changes, "report_id")}
        elif source == "decision":
            via = " · " + _("the manager's decision on report #%(n)s") % {
                "n": _key_out(changes, "report_id")
            }
        elif source == "activity":
            via = f" · {escape(_('with an activity'))}"
        text = _key_out(changes, "next_step")
        due = _key(changes, "next_step_due")
        if due is not _MISSING and due:
            text += f" · {_out(due)}"
        parked = _key(changes, "parked_until")
        if parked is not _MISSING and parked:
            text += " · " + _("parked until %(date)s") % {"date": _out(parked)}
        return (
            f"\n      <strong>{escape(_('Next step set'))}</strong>"
            f' <span class="muted">— {_who(event, "actor")}{via}</span>'
            f'\n      <p class="prewrap">{text}</p>\n    '
        )
    if kind == "created":
        return (
            f"\n      <strong>{escape(_('Lead created'))}</strong>"
            f' <span class="muted">— {_who(event, "actor")}</span>\n    '
        )
    edited = event.changed_labels()
    joined = escape(join_words(edited)) if edited else ""
    return (
        f"\n      <strong>{escape(_('Lead edited'))}</strong>"
        f' <span class="muted">— {_who(event, "actor")}: {joined}</span>\n    '
    )


def _plain(note: str) -> str:
    return f'<p class="prewrap">{escape(note)}</p>' if note else ""


def _quoted(note: str) -> str:
    return f'<p class="prewrap">“{escape(note)}”</p>' if note else ""


def timeline_entries(entries: Iterable[TimelineEntry]) -> SafeString:
    """The `<li>`s of the entries, in the active language and time zone. Reads what
    crm.selectors.lead_timeline selected with them, nothing else."""
    zone = timezone.get_current_timezone()
    # The choices' labels once a page, not get_FOO_display() per entry (which hashes each
    # lazy label, translating it: two thirds of the entries' time).
    labels = {
        "activity": choice_labels(Activity._meta.get_field("kind").flatchoices),
        "outcome": choice_labels(Activity._meta.get_field("outcome").flatchoices),
        "report": choice_labels(Report._meta.get_field("kind").flatchoices),
        "stage": choice_labels(LeadEvent._meta.get_field("to_stage").flatchoices),
    }
    url_head, url_tail = url_around_id("report-detail")
    html = []
    for entry in entries:
        item = entry.item
        when = timezone.localtime(entry.when, zone) if timezone.is_aware(entry.when) else entry.when
        if entry.kind == "report":
            assert isinstance(item, Report)
            body = _report(item, f"{url_head}{item.pk}{url_tail}", labels)
        elif entry.kind == "activity":
            assert isinstance(item, Activity)
            body = _activity(item, labels)
        else:
            assert isinstance(item, LeadEvent)
            body = _event(item, labels)
        if entry.kind == "event":
            extra = f" tl-{_out(item.kind)}"
        else:
            extra = f" tl-outcome-{_out(getattr(item, 'outcome', ''))}"
        html.append(
            ENTRY.format(
                kind=_out(entry.kind),
                extra=extra,
                iso=when.isoformat(),
                when=when.strftime("%Y-%m-%d %H:%M"),
                body=body,
            )
        )
    return SafeString("".join(html))
