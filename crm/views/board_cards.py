"""The pipeline board's cards as HTML, written in Python (issue 22): 140 cards through the
template engine were three quarters of the board's time (a manager's board at 10k leads: 300 of
420 ms in 10 profiled requests), as the lead list's rows were (crm/views/lead_rows.py).

The HTML is what templates/crm/board.html wrote card by card until then, byte for byte
(`python bench/lead_lists.py --check` compares the three people's boards in both languages):
the same escaping (texts and values escaped, translations as `{% translate %}` writes them), the
same `floatformat:"0g"`, the same plural for the days idle. A change to a card's look is made
here, in CARD.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from html import escape

from django.template.defaultfilters import floatformat
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _gettext
from django.utils.translation import ngettext as _ngettext

from crm.models import Lead
from crm.pipeline import Stage
from crm.selectors import BoardColumn
from crm.web import url_around_id


def gettext(message: str) -> str:
    """Translated text, escaped as `{% translate %}` wrote it."""
    return escape(_gettext(message))


def ngettext(singular: str, plural: str, number: int) -> str:
    """Translated text with a count, escaped as the template wrote it."""
    return escape(_ngettext(singular, plural, number))


CARD = """
      <li class="board-card{rotting}{idle_class}" id="card-{pk}"
          {move} data-stage="{stage}">
        <a href="{url}">{company}</a>
        {rib}
        {stalled}
        <div class="small muted">{currency} {value} · {owner}</div>
        {dates}
        <div class="card-move" id="move-{pk}" aria-live="polite"></div>
      </li>
      """
DATES = """<div class="small card-dates">
          <span class="idle{idle_class}">{idle}</span>
          {next_due}
        </div>"""
_url = url_around_id  # reversed once per board, each lead's id put between the halves


def board_cards(
    columns: Iterable[BoardColumn], today: dt.date
) -> list[tuple[BoardColumn, SafeString]]:
    """Each column with its cards' `<li>`s, in the active language. Reads the leads' own
    columns, their owner and the selector's rotting / idle_days / idle_level."""
    detail, move = _url("lead-detail"), _url("lead-board-move")
    rib = f'<span class="tag rib">{gettext("Chicken rib")}</span>'
    stalled = f'<span class="tag warn">{gettext("stalled")}</span>'
    unassigned = gettext("Unassigned")
    no_next_step = f'<span class="muted">{gettext("no next step")}</span>'
    out = []
    for column in columns:
        cards = []
        for lead in column.leads:
            cards.append(
                _card(
                    lead, column.stage, today, detail, move, rib, stalled, unassigned, no_next_step
                )
            )
        out.append((column, SafeString("".join(cards))))
    return out


def _card(
    lead: Lead,
    stage: str,
    today: dt.date,
    detail: tuple[str, str],
    move: tuple[str, str],
    rib: str,
    stalled: str,
    unassigned: str,
    no_next_step: str,
) -> str:
    level = getattr(lead, "idle_level", "")
    idle_class = f" idle-{escape(str(level))}" if level else ""
    dates = ""
    if lead.is_open:
        days = lead.idle_days  # type: ignore[attr-defined]
        idle = ngettext("idle %(days)s day", "idle %(days)s days", days) % {"days": days}
        if lead.next_step_due:
            overdue = " overdue" if lead.next_step_due < today else ""
            when = gettext("next step %(date)s") % {"date": lead.next_step_due.strftime("%m-%d")}
            next_due = f'<span class="next-due{overdue}">{when}</span>'
        else:
            next_due = no_next_step
        dates = DATES.format(idle_class=idle_class, idle=idle, next_due=next_due)
    moves = (
        f'draggable="true" data-move-url="{move[0]}{lead.pk}{move[1]}"'
        if stage != Stage.WON
        else ""
    )
    return CARD.format(
        rotting=" rotting" if lead.rotting else "",  # type: ignore[attr-defined]
        idle_class=idle_class,
        pk=lead.pk,
        move=moves,
        stage=escape(stage),
        url=f"{detail[0]}{lead.pk}{detail[1]}",
        company=escape(str(lead.company)),
        rib=rib if lead.is_chicken_rib else "",
        stalled=stalled if lead.rotting else "",  # type: ignore[attr-defined]
        currency=escape(str(lead.currency)),
        value=floatformat(lead.value, "0g"),
        owner=escape(str(lead.owner)) if lead.owner is not None else unassigned,
        dates=dates,
    )
