"""Words for numbers and lists, as a person writes them in each language.

- `duration`: days (an int) or a timedelta as "75 days" / "75 天", "2 months 2 weeks" /
  "2 个月零 2 周" for longer spans; never Django's "2 月" (which reads as February).
- `age`: the same for the time since a datetime ("waiting {{ report.submitted_at|age }}").
- `join_list`: list items joined by "、" in Chinese, ", " in English.

The formatting is plain functions (`format_days`, `format_span`, `join_words`) so that the coach
and tests can use it without a template.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django import template
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

register = template.Library()

# Spans of up to this many days read in days ("75 天"); longer ones in months and weeks.
DAYS_UP_TO = 90
DAYS_PER_MONTH = 30


def _months_weeks(days: int) -> str:
    years, rest = divmod(days, 365)
    if years:
        months = rest // DAYS_PER_MONTH
        head = ngettext("%(n)d year", "%(n)d years", years) % {"n": years}
        if not months:
            return head
        tail = ngettext("%(n)d month", "%(n)d months", months) % {"n": months}
        return _("%(larger)s %(smaller)s") % {"larger": head, "smaller": tail}
    months, rest = divmod(days, DAYS_PER_MONTH)
    weeks = rest // 7
    head = ngettext("%(n)d month", "%(n)d months", months) % {"n": months}
    if not weeks:
        return head
    tail = ngettext("%(n)d week", "%(n)d weeks", weeks) % {"n": weeks}
    return _("%(larger)s %(smaller)s") % {"larger": head, "smaller": tail}


def format_days(days: int) -> str:
    """Days in words: "75 days" / "75 天"; "2 months 2 weeks" / "2 个月零 2 周"."""
    days = max(0, int(days))
    if days <= DAYS_UP_TO:
        return ngettext("%(n)d day", "%(n)d days", days) % {"n": days}
    return _months_weeks(days)


def format_span(span: dt.timedelta) -> str:
    """A timedelta in words: minutes and hours under a day, then as format_days."""
    seconds = max(0, int(span.total_seconds()))
    if seconds < 3600:
        minutes = max(1, seconds // 60)
        return ngettext("%(n)d minute", "%(n)d minutes", minutes) % {"n": minutes}
    if seconds < 86400:
        hours = seconds // 3600
        return ngettext("%(n)d hour", "%(n)d hours", hours) % {"n": hours}
    return format_days(seconds // 86400)


def join_words(items: Iterable[Any]) -> str:
    """Items joined as the active language lists them: "、" in Chinese, ", " otherwise."""
    language = (translation.get_language() or "").lower()
    separator = "、" if language.startswith("zh") else ", "
    return separator.join(str(item) for item in items)


@register.filter
def duration(value: int | dt.timedelta | None) -> str:
    """`{{ days|duration }}` or `{{ some_timedelta|duration }}`; empty for None."""
    if value is None or value == "":
        return ""
    if isinstance(value, dt.timedelta):
        return format_span(value)
    return format_days(int(value))


@register.filter
def age(value: dt.datetime | dt.date | None) -> str:
    """The time since a datetime (or date) in words: `waiting {{ r.submitted_at|age }}`."""
    if value is None or value == "":
        return ""
    if isinstance(value, dt.datetime):
        return format_span(timezone.now() - value)
    return format_days((timezone.localdate() - value).days)


@register.filter
def join_list(value: Iterable[Any] | None) -> str:
    """`{{ labels|join_list }}`: "、" between items in Chinese, ", " in English."""
    if not value:
        return ""
    return join_words(value)
