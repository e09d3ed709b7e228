"""Checking an import's rows: every mapped cell read into a field value by that field's own
check (money, dates, yes/no, choices in English or Chinese), the row then checked by
crm.services.lead_build exactly as a lead typed into the form would be, and duplicates found
against the team's leads and earlier rows of the file. The outcome (`_Checked`) says what each
row will do; the rows that create leads are handed in batches to the caller's `write` (see
crm.imports.running), and nothing else is written here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from array import array
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils import timezone, translation
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from crm import services
from crm.imports import values
from crm.imports.mapping import IMPORTABLE_FIELDS, _norm, field_label
from crm.imports.reading import _records, _text, max_rows
from crm.models import (
    ChickenRibReason,
    Currency,
    DuplicatePolicy,
    ImportJob,
    Lead,
    Source,
    Team,
    User,
)

PROGRESS_EVERY = 500
# The rows to create are written in batches of this many as the file is checked.
WRITE_EVERY = 1000
# The rows with errors whose cells the report repeats (each row's first error carries them).
REPORT_ROWS = 20_000

TRUE_WORDS = {"1", "y", "yes", "true", "x", "是", "对", "√", "✓"}
FALSE_WORDS = {"0", "n", "no", "false", "否", "不是", ""}
# A text cell longer than its field holds is that row's error; notes (a text field with no limit
# of its own) stop where the lead form's would.
NOTES_MAX = 10_000

# Picklist values of other CRMs' exports and Chinese spreadsheets, as the source they mean.
SOURCE_SYNONYMS: dict[str, str] = {
    "inbound": "brand",
    "direct traffic": "brand",
    "walk-in": "brand",
    "phone inquiry": "brand",
    "来电咨询": "brand",
    "客户来电": "brand",
    "主动咨询": "brand",
    "展会": "trade_show",
    "trade show": "trade_show",
    "tradeshow": "trade_show",
    "exhibition": "trade_show",
    "messe": "trade_show",
    "官网": "website",
    "web": "website",
    "website": "website",
    "web site": "website",
    "organic search": "website",
    "seo": "website",
    "web form": "website",
    "网站": "website",
    "官方网站": "website",
    "百度搜索": "website",
    "advertisement": "marketing",
    "paid search": "marketing",
    "paid social": "marketing",
    "social media": "marketing",
    "email marketing": "marketing",
    "seminar - internal": "marketing",
    "webinar": "marketing",
    "campaign": "marketing",
    "广告": "marketing",
    "市场活动": "marketing",
    "线上推广": "marketing",
    "cold call": "prospecting",
    "outbound": "prospecting",
    "电话陌拜": "prospecting",
    "电话营销": "prospecting",
    "陌拜": "cold_visit",
    "陌生拜访": "cold_visit",
    "上门拜访": "cold_visit",
    "扫街": "cold_visit",
    "转介绍": "referral",
    "referral": "referral",
    "employee referral": "referral",
    "external referral": "referral",
    "partner": "referral",
    "seminar - partner": "referral",
    "partner referral": "referral",
    "referrals": "referral",
    "search engine": "website",
    "newsletter": "marketing",
    "facebook": "marketing",
    "linkedin": "marketing",
    "合作伙伴": "referral",
    "老客户介绍": "referral",
    "客户介绍": "referral",
}
PICKLISTS = ("source", "currency")

# --- Cell values to field values --------------------------------------------------------------


def _choice_lookup(choices: Sequence[tuple[str, Any]], extra: Mapping[str, str]) -> dict[str, str]:
    lookup = {_norm(value): value for value, _label in choices}
    for language in ("en", "zh-hans"):
        with translation.override(language):
            lookup.update({_norm(str(label)): value for value, label in choices})
    lookup.update({_norm(key): value for key, value in extra.items()})
    return lookup


@dataclass
class Lookups:
    source: dict[str, str]
    currency: dict[str, str]
    reason: dict[str, str]
    # The file's decisions: the amount column's number style and the dates' order.
    number_style: str = values.POINT
    date_order: str = values.DMY
    # A picklist column's own values → the value chosen on the preview ("" = other).
    chosen: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def build(cls, job: ImportJob | None = None) -> Lookups:
        lookups = cls(
            source=_choice_lookup(Source.choices, SOURCE_SYNONYMS),
            currency=_choice_lookup(
                Currency.choices,
                {
                    "¥": "CNY",
                    "￥": "CNY",
                    "rmb": "CNY",
                    "人民币": "CNY",
                    "元": "CNY",
                    "$": "USD",
                    "美元": "USD",
                    "€": "EUR",
                    "欧元": "EUR",
                },
            ),
            reason=_choice_lookup(ChickenRibReason.choices, {}),
        )
        if job is not None:
            decisions = file_decisions(job)
            lookups.number_style = decisions["number_style"]
            lookups.date_order = decisions["date_order"]
            lookups.chosen = {
                name: {_norm(k): v for k, v in chosen.items()}
                for name, chosen in job.answers.get("values", {}).items()
            }
        return lookups

    def propose(self, name: str, text: str) -> str:
        """The value a picklist cell most likely means: exact (a value or label in either
        language), a known synonym, or a very close spelling; "" when none (other)."""
        from rapidfuzz import fuzz, process

        lookup: dict[str, str] = getattr(self, name)
        key = _norm(text)
        if key in lookup:
            return lookup[key]
        found = process.extractOne(key, list(lookup), scorer=fuzz.ratio, score_cutoff=88)
        return lookup[found[0]] if found else ""


def file_decisions(job: ImportJob) -> dict[str, str]:
    """The amount column's number style and the file's date order: the user's answer on the
    preview where the file left it open, else what the whole file showed."""
    profile, answers = job.profile or {}, job.answers or {}
    value_column = next((c for c, name in job.mapping.items() if name == "value"), None)
    style = values.POINT
    if value_column is not None:
        style = answers.get("numbers", {}).get(value_column) or profile.get("numbers", {}).get(
            value_column, values.POINT
        )
    order = answers.get("date_order") or profile.get("date_order", values.DMY)
    return {"number_style": style, "date_order": order}


def _parse_bool(cell: Any) -> bool:
    if isinstance(cell, bool):
        return cell
    word = _norm(_text(cell))
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(_("Enter yes or no."))


def _parse_choice(cell: Any, lookup: Mapping[str, str]) -> str:
    value = lookup.get(_norm(_text(cell)))
    if value is None:
        raise ValueError(_("Unknown value “%(value)s”.") % {"value": _text(cell)[:50]})
    return value


def _parse_picklist(name: str, cell: Any, lookups: Lookups) -> str:
    """A picklist cell as the value chosen for it on the preview, else as proposed; "" is
    other (the caller keeps the original)."""
    text = _text(cell)
    chosen = lookups.chosen.get(name, {})
    key = _norm(text)
    value = chosen[key] if key in chosen else lookups.propose(name, text)
    if not value and name == "currency":
        raise ValueError(_("Unknown currency “%(value)s”.") % {"value": text[:50]})
    return value


def _parse_reasons(cell: Any, lookup: Mapping[str, str]) -> list[str]:
    parts = [p for p in re.split(r"[,;、，；/|\n]+", _text(cell)) if p.strip()]
    return [_parse_choice(part, lookup) for part in parts]


def _date(cell: Any, lookups: Lookups) -> dt.date:
    return values.parse_date(cell, lookups.date_order)


# One check per field that is more than text: the cell in, the field's value out, or ValueError
# with the message the user sees. Any other field keeps the cell's text.
FIELD_CHECKS: dict[str, Callable[[Any, Lookups], Any]] = {
    "value": lambda cell, lookups: values.parse_number(cell, lookups.number_style),
    "expected_close": _date,
    "tender_date": _date,
    "next_step_due": _date,
    "is_chicken_rib": lambda cell, _lookups: _parse_bool(cell),
    "source": lambda cell, lookups: _parse_picklist("source", cell, lookups),
    "currency": lambda cell, lookups: _parse_picklist("currency", cell, lookups),
    "chicken_rib_reasons": lambda cell, lookups: _parse_reasons(cell, lookups.reason),
}


def _max_length(name: str) -> int:
    return getattr(Lead._meta.get_field(name), "max_length", None) or NOTES_MAX


def _check_text(name: str, cell: Any) -> str:
    text = _text(cell)
    if text[:1] == "'" and text[1:2] in ("=", "+", "-", "@"):
        text = text[1:]  # our own CSV export's guard against formulas, taken off again
    limit = _max_length(name)
    if len(text) > limit:
        raise ValueError(
            _("Longer than %(limit)s characters (it has %(count)s); shorten it.")
            % {"limit": f"{limit:,}", "count": f"{len(text):,}"}
        )
    return text


def _join(name: str, first: str, second: str) -> str:
    """Two columns feeding one field: a first and last name (姓 and 名 without a space), or
    two note columns on their own lines."""
    if name == "notes":
        return f"{first}\n{second}"
    both_chinese = _CJK.search(first[-1:]) and _CJK.search(second[:1])
    return f"{first}{second}" if both_chinese else f"{first} {second}"


_CJK = re.compile(r"[\u4e00-\u9fff]")


def convert_row(
    cells: Sequence[Any], mapping: Mapping[int, str], lookups: Lookups
) -> tuple[dict[str, Any], dict[str, str]]:
    """The row's non-empty mapped cells as field values, and the cells that could not be read
    (field → message). A picklist value mapped to "other" leaves the field to the import's
    default and keeps the original in the notes."""
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    others: list[str] = []
    for index, name in mapping.items():
        cell = cells[index] if index < len(cells) else None
        if cell is None or (isinstance(cell, str) and not cell.strip()):
            continue
        try:
            if name in FIELD_CHECKS:
                value = FIELD_CHECKS[name](cell, lookups)
            else:
                value = _check_text(name, cell)
                if name in data:
                    value = _check_text(name, _join(name, data[name], value))
        except ValueError as error:
            errors[name] = str(error)
            continue
        if name in PICKLISTS and not value:
            others.append(
                _("%(field)s in the file: %(value)s")
                % {"field": capfirst(field_label(name)), "value": _text(cell)[:100]}
            )
            continue
        data[name] = value
    if others:
        notes = "\n".join([data.get("notes", ""), *others]).strip()
        data["notes"] = notes[:NOTES_MAX]
    if data.get("chicken_rib_reasons") and "is_chicken_rib" not in data:
        data["is_chicken_rib"] = True
    return data, errors


# --- Duplicates -------------------------------------------------------------------------------

# (what matched, a digest of it): 100,000 rows have 400,000 keys, so the dicts hold 8-byte
# digests (blake2b; a collision is a 1 in 2^64 chance), not the normalised text.
Key = tuple[str, bytes]


def _digest(kind: str, value: str) -> bytes:
    return hashlib.blake2b(f"{kind}\x1f{value}".encode(), digest_size=8).digest()


def _person(data: Mapping[str, Any]) -> str:
    return _norm(str(data.get("contact_name") or ""))


def _keys(data: Mapping[str, Any]) -> list[Key]:
    """What makes two leads the same within a team: phone, email, the same contact person at
    the same company, or the company name (see _other_person: not when the contact persons
    differ, as a second contact at a company is not a duplicate)."""
    keys = []
    digits = re.sub(r"\D", "", str(data.get("phone") or ""))
    if len(digits) >= 5:
        keys.append(("phone", _digest("phone", digits)))
    email = _norm(str(data.get("email") or ""))
    if email:
        keys.append(("email", _digest("email", email)))
    company = _norm(str(data.get("company") or ""))
    person = _person(data)
    if company and person:
        keys.append(("contact_name", _digest("contact_name", f"{company}\x1f{person}")))
    if company:
        keys.append(("company", _digest("company", company)))
    return keys


def _other_person(key: Key, person: str, theirs: str) -> bool:
    """True when `key` matched on the company alone and both rows name different people: the
    second contact at a company (as every CRM's export has them) is a new lead there, not a
    duplicate."""
    return key[0] == "company" and bool(person) and bool(theirs) and person != theirs


def _person_id(person: str) -> int:
    """A contact person as a signed 64-bit digest (0 for none), as the file's rows keep them."""
    if not person:
        return 0
    return int.from_bytes(_digest("person", person), signed=True) or 1


def _same_person_or_none(key: Key, person_id: int, theirs: int) -> bool:
    """_other_person's opposite, on the digests of the persons (see _person_id)."""
    return not (key[0] == "company" and person_id and theirs and person_id != theirs)


def _existing_keys(team: Team) -> dict[bytes, tuple[int, str, str]]:
    """Every duplicate key's digest of the team's leads → (lead id, company, contact person)."""
    existing: dict[bytes, tuple[int, str, str]] = {}
    for pk, phone, email, company, contact in Lead.objects.filter(team=team).values_list(
        "pk", "phone", "email", "company", "contact_name"
    ):
        data = {"phone": phone, "email": email, "company": company, "contact_name": contact}
        for _kind, digest in _keys(data):
            existing.setdefault(digest, (pk, company, _person(data)))
    return existing


# --- The whole file ---------------------------------------------------------------------------


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
