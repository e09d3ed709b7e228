"""What the mapping page asks about the file's values, and the answers it keeps: the amount
column's number style and the dates' order when the whole file left them open, and for each
mapped picklist column (source, currency) each distinct value with the match proposed for it,
remembered per set of header names (ImportValueMap) for the next export from the same CRM.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.imports import values
from crm.imports.cells import PICKLISTS, Lookups
from crm.imports.mapping import _norm, header_key
from crm.models import ImportJob, ImportValueMap

DATE_FIELDS = ("expected_close", "tender_date", "next_step_due")


@dataclass
class Picklist:
    column: str
    name: str
    # (the file's value, the proposed or remembered choice; "" = other)
    values: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Questions:
    number_column: str | None = None
    number_examples: list[str] = field(default_factory=list)
    ask_date_order: bool = False
    date_examples: list[str] = field(default_factory=list)
    picklists: list[Picklist] = field(default_factory=list)


def _examples(texts: list[str], keep: Any) -> list[str]:
    return [text for text in texts if keep(text)][:3]


def questions(job: ImportJob, mapping: Mapping[str, str]) -> Questions:
    """What to ask for this mapping (column index → field)."""
    profile = job.profile or {}
    distinct: dict[str, list[str]] = profile.get("values", {})
    asked = Questions()
    for column, name in mapping.items():
        if name == "value" and profile.get("numbers", {}).get(column) == values.ASK:
            asked.number_column = column
            asked.number_examples = _examples(
                distinct.get(column, []), lambda t: values.number_evidence(t) == values.ASK
            )
        if name in DATE_FIELDS and profile.get("date_order") == values.ASK:
            asked.ask_date_order = True
            asked.date_examples += _examples(
                distinct.get(column, []), lambda t: values.date_evidence(t) == values.ASK
            )
    remembered = _remembered(job)
    lookups = Lookups.build()
    for column, name in mapping.items():
        if name in PICKLISTS and column in distinct:
            mine = remembered.get(name, {})
            proposals = [
                (text, mine[_norm(text)] if _norm(text) in mine else lookups.propose(name, text))
                for text in distinct[column]
            ]
            asked.picklists.append(Picklist(column=column, name=name, values=proposals))
    return asked


def _remembered(job: ImportJob) -> dict[str, dict[str, str]]:
    rows = ImportValueMap.objects.filter(
        created_by_id=job.created_by_id, header_key=header_key(job.header)
    ).values_list("field", "values")
    return {name: {_norm(k): v for k, v in chosen.items()} for name, chosen in rows}


def answers_clean(
    job: ImportJob, mapping: Mapping[str, str], posted: Mapping[str, Any], errors: dict[str, str]
) -> dict[str, Any]:
    """The answers for this mapping, with an error where a question is left open."""
    asked = questions(job, mapping)
    answers: dict[str, Any] = {"numbers": {}, "values": {}}
    if asked.number_column is not None:
        style = posted.get("numbers", {}).get(asked.number_column)
        if style not in (values.POINT, values.COMMA):
            errors["numbers"] = _("Say how the amounts are written: the file does not show it.")
        answers["numbers"][asked.number_column] = style
    if asked.ask_date_order:
        order = posted.get("date_order")
        if order not in (values.DMY, values.MDY):
            errors["date_order"] = _("Say whether the dates are day first or month first.")
        answers["date_order"] = order
    for picklist in asked.picklists:
        chosen = posted.get("values", {}).get(picklist.name, {})
        answers["values"][picklist.name] = {
            text: chosen.get(text, proposed) for text, proposed in picklist.values
        }
    return answers


@transaction.atomic
def answers_remember(job: ImportJob) -> None:
    """Keep the picklist choices for the next file with the same header names."""
    key = header_key(job.header)
    for name, chosen in (job.answers.get("values") or {}).items():
        ImportValueMap.objects.update_or_create(
            created_by_id=job.created_by_id,
            header_key=key,
            field=name,
            defaults={"values": chosen, "updated_at": timezone.now()},
        )
