"""The lead list's 50 rows as HTML, written in Python (issue 22): the template engine spent more
on the rows than the rest of the list's work together (the same 50 rows: 0.85 ms here, 7.6 ms as
a row template; bench/README.md, "The lead lists").

The HTML is what templates/crm/lead_list.html wrote row by row until then, byte for byte (`python
bench/lead_lists.py --check` compares 48 pages); the values go through the same escaping and the
same filters (`floatformat:"0g"`, `truncatechars:40`, dates in the reader's zone as `Y-m-d`). A
change to a row's look is made here, in ROW.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from html import escape

from django.template.defaultfilters import floatformat
from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from crm.labels import choice_labels
from crm.models import Lead, Source
from crm.pipeline import OPEN_STAGES, Stage
from crm.web import url_around_id

ROW = """<tr>
  <td><a href="{url}">{company}</a>{rib}<div class="muted small">{contact}</div></td>
  <td><span class="stage stage-{stage}">{stage_label}</span></td>
  <td class="num">{currency} {value}</td>
  <td>{owner}</td>
  <td>{source}</td>
  <td>{next_step}</td>
  <td class="small">{updated}</td>
</tr>
"""


@dataclass(slots=True)
class ListedLead:
    """What a row reads of a lead, for a list that reads them as values (the lead list: its 50
    leads and their owners made into model instances took 2 ms, issue 22). `owner` is the
    owner's name as User.__str__ writes it, None for a lead in the team pool."""

    owner: str | None
    pk: int
    company: str
    contact_name: str
    is_chicken_rib: bool
    stage: str
    currency: str
    value: Decimal
    source: str
    next_step: str
    next_step_due: dt.date | None
    updated_at: dt.datetime

    @property
    def is_open(self) -> bool:
        return self.stage in OPEN_STAGES


def lead_rows(leads: Iterable[Lead | ListedLead]) -> SafeString:
    """The `<tr>`s of the leads, in the active language and time zone. Reads the leads' own
    columns and their owner (select it with the leads), nothing else."""
    stages, sources = choice_labels(Stage.choices), choice_labels(Source.choices)
    url_head, url_tail = url_around_id("lead-detail")
    rib = (
        f' <span class="tag rib" title="{escape(_("Chicken-rib lead"))}">'
        f"{escape(_('Chicken rib'))}</span>"
    )
    unassigned = f'<span class="muted">{escape(_("Unassigned"))}</span>'
    no_next_step = f'<span class="tag warn no-next-step">{escape(_("No next step"))}</span>'
    zone = timezone.get_current_timezone()
    rows = []
    for lead in leads:
        if lead.next_step:
            # Truncator fetches its "…" translation on every call; 40 characters or fewer it
            # returns the text as it is, in NFC (as truncatechars did).
            text = unicodedata.normalize("NFC", lead.next_step)
            next_step = escape(text if len(text) <= 40 else Truncator(text).chars(40))
            if lead.next_step_due:
                next_step += f' <span class="muted small">· {lead.next_step_due.isoformat()}</span>'
        else:
            next_step = no_next_step if lead.is_open else ""
        rows.append(
            ROW.format(
                url=f"{url_head}{lead.pk}{url_tail}",
                company=escape(str(lead.company)),
                rib=rib if lead.is_chicken_rib else "",
                contact=escape(str(lead.contact_name)),
                stage=escape(str(lead.stage)),
                stage_label=escape(stages.get(lead.stage, str(lead.stage))),
                currency=escape(str(lead.currency)),
                value=floatformat(lead.value, "0g"),
                owner=escape(str(lead.owner)) if lead.owner else unassigned,
                source=escape(sources.get(lead.source, str(lead.source))),
                next_step=next_step,
                updated=lead.updated_at.astimezone(zone).date().isoformat(),
            )
        )
    return SafeString("".join(rows))
