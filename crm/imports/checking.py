"""Checking an import's rows: every row read into field values (crm.imports.cells), then
checked by crm.services.lead_build exactly as a lead typed into the form would be, and
duplicates found against the team's leads and earlier rows of the file (their keys in
crm.imports.duplicates). The outcome (`_Checked`) says what each row will do; the rows that
create leads are handed in batches to the caller's `write` (see crm.imports.running), and
nothing else is written here.
"""

from __future__ import annotations

import datetime as dt
from array import array
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from crm import services
from crm.imports.cells import Lookups, convert_row
from crm.imports.duplicates import (
    _existing_keys,
    _keys,
    _other_person,
    _person,
    _person_id,
    _same_person_or_none,
)
from crm.imports.mapping import IMPORTABLE_FIELDS, field_label
from crm.imports.reading import _records, _text, max_rows
from crm.models import DuplicatePolicy, ImportJob, Lead, User

PROGRESS_EVERY = 500
# The rows to create are written in batches of this many as the file is checked.
WRITE_EVERY = 1000
# The rows with errors whose cells the report repeats (each row's first error carries them).
REPORT_ROWS = 20_000


@dataclass
class _Checked:
    """What the rows do. The rows that make a lead are written in batches while the file is
    read (see _check's `write`), so only the ones not yet written are held with their lead."""

    # Every row that makes a lead, in file order: its line and a digest of its contact person
    # (0 for none), what a later row of the file is compared with. Arrays, not a list of
    # tuples: 8 bytes a row instead of ~150 (15 MB for 100,000 rows).
    lines: array[int] = field(default_factory=lambda: array("l"))
    persons: array[int] = field(default_factory=lambda: array("q"))
    # The rows of `lines` from index `taken` on, not yet handed to `write`: [data, lead], the
    # lead built by the check (None after a later row was merged into it: built again).
    pending: list[list[Any]] = field(default_factory=list)
    taken: int = 0
    written: int = 0
    updates: dict[int, tuple[list[int], dict[str, Any]]] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    error_lines: set[int] = field(default_factory=set)
    skipped: int = 0
    # Duplicate key → index into `lines`, for rows that repeat an earlier row of the file.
    in_file: dict[bytes, int] = field(default_factory=dict)

    def take(self) -> list[list[Any]]:
        """The pending rows, handed over (to be written, or dropped) and no longer held."""
        batch, self.pending = self.pending, []
        self.taken += len(batch)
        return batch


def _error(line: int, field_name: str, message: str, column: str = "") -> dict[str, Any]:
    return {
        "line": line,
        "column": column,
        "field": field_label(field_name) if field_name in IMPORTABLE_FIELDS else "",
        "message": message,
    }


def _row_errors(
    job: ImportJob, actor: User, data: dict[str, Any], now: dt.datetime
) -> tuple[dict[str, str], Lead | None]:
    """The row's field errors as the lead form would give them (field → message), or the lead
    built from it, unsaved, ready for the insert."""
    errors: dict[str, str] = {}
    try:
        return errors, services.lead_build(actor=actor, team=job.team, data=data, now=now)
    except ValidationError as error:
        for name, messages in error.message_dict.items():
            errors.setdefault(name, " ".join(messages))
    return errors, None


def _same_as_lead(
    job: ImportJob,
    result: _Checked,
    line: int,
    row: dict[str, Any],
    what: str,
    lead_id: int,
    company: str,
) -> None:
    """A row matching one of the team's leads updates it, or is skipped."""
    if job.on_duplicate == DuplicatePolicy.UPDATE:
        # Only the row's own cells: an empty cell leaves the lead's field alone.
        lines, merged = result.updates.get(lead_id, ([], {}))
        result.updates[lead_id] = ([*lines, line], merged | row)
        message = _("Same %(field)s as the lead “%(company)s”: it will be updated.")
    else:
        result.skipped += 1
        message = _("Same %(field)s as the lead “%(company)s”: skipped.")
    result.duplicates.append(
        {
            "line": line,
            "field": field_label(what),
            "lead_id": lead_id,
            "message": message % {"field": field_label(what), "company": company},
        }
    )


def _same_as_line(
    job: ImportJob, result: _Checked, line: int, row: dict[str, Any], what: str, index: int
) -> None:
    """A row matching an earlier row of the file is merged into it, or is skipped."""
    first_line = result.lines[index]
    if job.on_duplicate == DuplicatePolicy.UPDATE:
        # With this policy no row is written before the file is read (see _check).
        entry = result.pending[index - result.taken]
        entry[0], entry[1] = entry[0] | row, None
        message = _("Same %(field)s as line %(line)d: merged into it.")
    else:
        result.skipped += 1
        message = _("Same %(field)s as line %(line)d: skipped.")
    result.duplicates.append(
        {
            "line": line,
            "field": field_label(what),
            "lead_id": None,
            "message": message % {"field": field_label(what), "line": first_line},
        }
    )


def _place(
    job: ImportJob,
    result: _Checked,
    existing: Mapping[bytes, tuple[int, str, str]],
    line: int,
    row: dict[str, Any],
    data: dict[str, Any],
    lead: Lead | None,
) -> None:
    """Decide what a valid row does: update (or skip for) a lead, merge into (or skip for) an
    earlier row, or create a lead."""
    keys = _keys(data)
    person = _person(data)
    person_id = _person_id(person)
    match = next(
        (
            (key, existing[key[1]])
            for key in keys
            if key[1] in existing and not _other_person(key, person, existing[key[1]][2])
        ),
        None,
    )
    earlier = next(
        (
            (key, result.in_file[key[1]])
            for key in keys
            if key[1] in result.in_file
            and _same_person_or_none(key, person_id, result.persons[result.in_file[key[1]]])
        ),
        None,
    )
    if match is not None:
        (what, _value), (lead_id, company, _their_person) = match
        _same_as_lead(job, result, line, row, what, lead_id, company)
    elif earlier is not None:
        (what, _value), index = earlier
        _same_as_line(job, result, line, row, what, index)
    else:
        index = len(result.lines)  # one int object for the row's keys, not one per key
        for key in keys:
            result.in_file.setdefault(key[1], index)
        result.lines.append(line)
        result.persons.append(person_id)
        result.pending.append([data, lead])


def checked_key(job_id: int) -> str:
    """The cache key of how many rows of a job are checked: the check runs inside the import's
    transaction, which the progress page cannot see into."""
    return f"import-checked-{job_id}"


def _check(
    job: ImportJob,
    actor: User,
    content: bytes,
    *,
    now: dt.datetime | None = None,
    write: Callable[[_Checked], None] | None = None,
) -> _Checked:
    """Read and check every row, note duplicates and decide what each row does. `write` is
    given the rows to create every WRITE_EVERY of them, so a big file is never held whole —
    except when duplicates update: a later row may still be merged into any earlier one, so
    the caller writes them all at the end. Progress goes to the cache as it goes."""
    mapping = {int(column): name for column, name in job.mapping.items()}
    columns = {name: job.header[index] for index, name in mapping.items()}
    lookups = Lookups.build(job)
    width = len(job.header)
    now = now or timezone.now()
    streams = write is not None and job.on_duplicate != DuplicatePolicy.UPDATE
    result = _Checked()
    existing = _existing_keys(job.team)
    limit = max_rows()
    with _records(job, content) as records:
        next(records, None)
        for count, (line, cells) in enumerate(records, 1):
            if count > limit:
                raise ValidationError(
                    _("The file has more than %(limit)s rows.") % {"limit": f"{limit:,}"}
                )
            if count % PROGRESS_EVERY == 0:
                cache.set(checked_key(job.pk), count, timeout=3600)
            row, cell_errors = convert_row(cells, mapping, lookups)
            extra = [c for c in cells[width:] if c is not None and str(c).strip()]
            if extra:
                cell_errors[""] = ngettext(
                    "This row has %(count)d cell more than the header has columns (%(cells)s): "
                    "its values may have shifted. Check the quotes and separators.",
                    "This row has %(count)d cells more than the header has columns (%(cells)s): "
                    "its values may have shifted. Check the quotes and separators.",
                    len(extra),
                ) % {"count": len(extra), "cells": "; ".join(_text(c)[:30] for c in extra[:3])}
            data = {"source": job.default_source} | row
            lead_errors, lead = _row_errors(job, actor, data, now)
            for name, message in lead_errors.items():
                cell_errors.setdefault(name, message)
            if cell_errors:
                result.error_lines.add(line)
                for number, (name, message) in enumerate(cell_errors.items()):
                    entry = _error(line, name, message, columns.get(name, ""))
                    if number == 0 and len(result.error_lines) <= REPORT_ROWS:
                        # The row as it was, so the report can be fixed and imported again.
                        entry["cells"] = [_text(cell)[:2000] for cell in cells]
                    result.errors.append(entry)
                continue
            _place(job, result, existing, line, row, data, lead)
            if streams and len(result.pending) >= WRITE_EVERY:
                assert write is not None
                write(result)
    return result
