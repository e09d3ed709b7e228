"""The report inbox's items as HTML, written in Python (issue 22): a page of 30 reports through
the template engine was most of the inbox's time (as the lead list's rows were,
crm/views/lead_rows.py).

The HTML is what templates/crm/report_inbox.html wrote report by report until then, byte for
byte (the manager's and the +2's inbox, each tab, page 2, whole page and htmx region, in both
languages, compared before and after): texts and values escaped, translations
escaped too (`{% translate %}` wrote them as they are: the same bytes while no translation
holds & < > " '), the same `truncatechars:140`, times in the reader's zone. A change to an
item's look is made here, in ITEM.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from django.template.defaultfilters import truncatechars
from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.translation import gettext, ngettext

from crm.models import AskState, Report
from crm.models.people import NAME_COLUMNS
from crm.templatetags.kaopu_text import join_list
from crm.web import url_around_id

ITEM = """
  <li class="{unread}">
    <a href="{url}">
      {dot}
      <strong>{author}</strong> · {kind}{about}
    </a>
    <div class="small muted">{at} · {quality}{late}
      {ask}
      {acknowledged}
      {replies}</div>
    <div class="small">{text}</div>
    {weak}
  </li>
  """

# What an item shows (ITEM): the report's own columns, its author's name, its lead's company.
INBOX_COLUMNS = (
    *("author", "lead", "kind", "read_at", "submitted_at", "quality_score", "on_time"),
    *("ask_state", "ask_kind", "acknowledged_at", "status_now", "ask", "quality_issues"),
    *(f"author__{name}" for name in NAME_COLUMNS),
    "lead__company",
)


def inbox_items(reports: Iterable[Report]) -> SafeString:
    """The `<li>`s of the reports (annotated with report_inbox's `reply_count`), in the active
    language and time zone."""
    url_head, url_tail = url_around_id("report-detail")
    unread = escape(gettext("Unread"))
    dot = f'<span class="dot" title="{unread}"><span class="visually-hidden">{unread}</span></span>'
    general = f" · {escape(gettext('general update'))}"
    late = f' · <span class="overdue">{escape(gettext("late"))}</span>'
    joint_visit = f' · <span class="tag warn">{escape(gettext("asks for a joint visit"))}</span>'
    open_ask = f' · <span class="tag warn">{escape(gettext("open ask"))}</span>'
    acknowledged = f" · {escape(gettext('acknowledged'))}"
    weaknesses = escape(gettext("Weaknesses:"))
    quality = gettext("quality %(score)s/100")
    zone = timezone.get_current_timezone()
    items = []
    for report in reports:
        ask = ""
        if report.ask_state == AskState.OPEN:
            ask = joint_visit if report.ask_kind == "joint_visit" else open_ask
        count: int = report.reply_count  # type: ignore[attr-defined]
        replies = ""
        if count:
            replies = " · " + ngettext("%(counter)s reply", "%(counter)s replies", count) % {
                "counter": count
            }
        weak = ""
        if report.quality_issues:
            labels = escape(join_list(report.quality_issue_labels()))
            weak = f'<div class="small weak-line">{weaknesses} {labels}</div>'
        items.append(
            ITEM.format(
                unread="" if report.read_at else "unread",
                url=f"{url_head}{report.pk}{url_tail}",
                dot="" if report.read_at else dot,
                author=escape(str(report.author)),
                kind=escape(str(report.get_kind_display())),
                about=f" · {escape(str(report.lead.company))}" if report.lead else general,
                at=report.submitted_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
                if report.submitted_at
                else "",
                quality=quality % {"score": escape(str(report.quality_score))},
                late=late if report.on_time is False else "",
                ask=ask,
                acknowledged=acknowledged if report.acknowledged_at else "",
                replies=replies,
                text=escape(truncatechars(report.status_now or report.ask, 140)),
                weak=weak,
            )
        )
    return SafeString("".join(items))
