"""My day's three lists as HTML, written in Python (issue 22): 45 items through the template
engine were a third of a manager's My day on PostgreSQL, as the lead list's rows were
(crm/views/lead_rows.py).

The HTML is what templates/crm/my_day.html wrote item by item until then, byte for byte (`python
bench/lead_lists.py --check` compares the three people's My days in both languages): texts and
values escaped, translations escaped too (`{% translate %}` wrote them as they are: the same
bytes while no translation holds & < > " '), dates in the reader's zone.
The template calls them through `{% my_day_items %}` (crm/templatetags/kaopu_my_day.py); a
change to an item's look is made here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from html import escape

from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.translation import gettext

from crm.models import Lead, LeadEvent
from crm.templatetags.kaopu_text import age
from crm.web import url_around_id

DUE = """<li><a href="{url}">{company}</a>
        <div class="small">{next_step} · <span class="{overdue}">{due}</span>{owner}</div></li>"""
STALLED = """<li><a href="{url}">{company}</a>{rib}
        <div class="small">{idle}{owner}</div></li>"""
HANDOFF = """<li><a href="{url}">{company}</a>
        <div class="small">{by_to} · {at}</div>
        {note}</li>"""


def _owner(lead: Lead, user_id: int | None) -> str:
    """ " · the owner" when the lead has one and it is not the reader."""
    if lead.owner_id is None or lead.owner_id == user_id:
        return ""
    return f" · {escape(str(lead.owner))}"


def due_items(leads: Iterable[Lead], *, user_id: int | None, today: dt.date) -> SafeString:
    """The next steps due: the lead, its next step (or that none is written), the date (marked
    when past) and the owner if not the reader."""
    url_head, url_tail = url_around_id("lead-detail")
    none_written = escape(gettext("No next step written"))
    items = []
    for lead in leads:
        due = lead.next_step_due
        items.append(
            DUE.format(
                url=f"{url_head}{lead.pk}{url_tail}",
                company=escape(str(lead.company)),
                next_step=escape(str(lead.next_step)) if lead.next_step else none_written,
                overdue="overdue" if due is not None and due < today else "",
                due=due.isoformat() if due is not None else "",
                owner=_owner(lead, user_id),
            )
        )
    return SafeString("".join(items))


def stalled_items(leads: Iterable[Lead], *, user_id: int | None) -> SafeString:
    """The stalled leads: the lead (a chicken rib marked), how long idle, the owner if not the
    reader. Each lead carries with_idle_since's `idle_since`."""
    url_head, url_tail = url_around_id("lead-detail")
    rib = f' <span class="tag rib">{escape(gettext("Chicken rib"))}</span>'
    idle_for = gettext("idle for %(since)s")
    items = []
    for lead in leads:
        since: dt.datetime = lead.idle_since  # type: ignore[attr-defined]
        items.append(
            STALLED.format(
                url=f"{url_head}{lead.pk}{url_tail}",
                company=escape(str(lead.company)),
                rib=rib if lead.is_chicken_rib else "",
                idle=idle_for % {"since": escape(age(since))},
                owner=_owner(lead, user_id),
            )
        )
    return SafeString("".join(items))


def handoff_items(events: Iterable[LeadEvent]) -> SafeString:
    """The week's hand-offs: the lead, who handed it to whom, when (in the reader's zone) and
    the note if any."""
    url_head, url_tail = url_around_id("lead-detail")
    by_to = gettext("%(by)s → %(to)s")
    zone = timezone.get_current_timezone()
    items = []
    for event in events:
        note = f'<div class="small muted">“{escape(event.note)}”</div>' if event.note else ""
        items.append(
            HANDOFF.format(
                url=f"{url_head}{event.lead_id}{url_tail}",
                company=escape(str(event.lead.company)),
                by_to=by_to % {"by": escape(str(event.actor)), "to": escape(str(event.to_user))},
                at=event.created_at.astimezone(zone).strftime("%m-%d %H:%M"),
                note=note,
            )
        )
    return SafeString("".join(items))
