"""Checking an import's rows: every mapped cell read into a field value by that field's own
check (money, dates, yes/no, choices in English or Chinese), the row then checked by
crm.services.lead_build exactly as a lead typed into the form would be, and duplicates found
against the team's leads and earlier rows of the file. The outcome (`_Checked`) says what each
row will do; nothing is written here except the job's progress counter.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm import services
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

TRUE_WORDS = {"1", "y", "yes", "true", "x", "是", "对", "√", "✓"}
FALSE_WORDS = {"0", "n", "no", "false", "否", "不是", ""}
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y%m%d")
MONEY_NOISE = re.compile(r"[\s,，¥￥$€]|元|rmb|cny|usd|eur", re.IGNORECASE)

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

    @classmethod
    def build(cls) -> Lookups:
        return cls(
            source=_choice_lookup(
                Source.choices,
                {"inbound": "brand", "展会": "trade_show", "官网": "website", "转介绍": "referral"},
            ),
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


def _parse_date(cell: Any) -> dt.date:
    if isinstance(cell, dt.datetime):
        return cell.date()
    if isinstance(cell, dt.date):
        return cell
    text = _text(cell)
    text = text.split(" ")[0] if re.match(r"^\d{4}-\d{2}-\d{2} ", text) else text
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(_("Enter a date like 2026-03-31."))


def _parse_money(cell: Any) -> Decimal:
    if isinstance(cell, int | float | Decimal) and not isinstance(cell, bool):
        return Decimal(str(cell))
    text = MONEY_NOISE.sub("", unicodedata.normalize("NFKC", _text(cell)))
    factor = Decimal(1)
    if text.endswith("万"):
        text, factor = text[:-1], Decimal(10_000)
    try:
        value = Decimal(text) * factor
    except InvalidOperation:
        raise ValueError(_("Enter an amount such as 12000 or 1.2万.")) from None
    if not value.is_finite():
        raise ValueError(_("Enter an amount such as 12000 or 1.2万."))
    return value


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


def _parse_reasons(cell: Any, lookup: Mapping[str, str]) -> list[str]:
    parts = [p for p in re.split(r"[,;、，；/|\n]+", _text(cell)) if p.strip()]
    return [_parse_choice(part, lookup) for part in parts]


# One check per field that is more than text: the cell in, the field's value out, or ValueError
# with the message the user sees. Any other field keeps the cell's text.
FIELD_CHECKS: dict[str, Callable[[Any, Lookups], Any]] = {
    "value": lambda cell, _lookups: _parse_money(cell),
    "expected_close": lambda cell, _lookups: _parse_date(cell),
    "tender_date": lambda cell, _lookups: _parse_date(cell),
    "next_step_due": lambda cell, _lookups: _parse_date(cell),
    "is_chicken_rib": lambda cell, _lookups: _parse_bool(cell),
    "source": lambda cell, lookups: _parse_choice(cell, lookups.source),
    "currency": lambda cell, lookups: _parse_choice(cell, lookups.currency),
    "chicken_rib_reasons": lambda cell, lookups: _parse_reasons(cell, lookups.reason),
}


def _check_text(cell: Any, _lookups: Lookups) -> str:
    return _text(cell)


def convert_row(
    cells: Sequence[Any], mapping: Mapping[int, str], lookups: Lookups
) -> tuple[dict[str, Any], dict[str, str]]:
    """The row's non-empty mapped cells as field values, and the cells that could not be read
    (field → message)."""
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for index, name in mapping.items():
        cell = cells[index] if index < len(cells) else None
        if cell is None or (isinstance(cell, str) and not cell.strip()):
            continue
        try:
            data[name] = FIELD_CHECKS.get(name, _check_text)(cell, lookups)
        except ValueError as error:
            errors[name] = str(error)
    if data.get("chicken_rib_reasons") and "is_chicken_rib" not in data:
        data["is_chicken_rib"] = True
    return data, errors


# --- Duplicates -------------------------------------------------------------------------------

Key = tuple[str, str]


def _person(data: Mapping[str, Any]) -> str:
    return _norm(str(data.get("contact_name") or ""))


def _keys(data: Mapping[str, Any]) -> list[Key]:
    """What makes two leads the same within a team: phone, email, the same contact person at
    the same company, or the company name (see _other_person: not when the contact persons
    differ, as a second contact at a company is not a duplicate)."""
    keys = []
    digits = re.sub(r"\D", "", str(data.get("phone") or ""))
    if len(digits) >= 5:
        keys.append(("phone", digits))
    email = _norm(str(data.get("email") or ""))
    if email:
        keys.append(("email", email))
    company = _norm(str(data.get("company") or ""))
    person = _person(data)
    if company and person:
        keys.append(("contact_name", f"{company}\x1f{person}"))
    if company:
        keys.append(("company", company))
    return keys


def _other_person(key: Key, person: str, theirs: str) -> bool:
    """True when `key` matched on the company alone and both rows name different people: the
    second contact at a company (as every CRM's export has them) is a new lead there, not a
    duplicate."""
    return key[0] == "company" and bool(person) and bool(theirs) and person != theirs


def _existing_keys(team: Team) -> dict[Key, tuple[int, str, str]]:
    """Every duplicate key of the team's leads → (lead id, company, contact person)."""
    existing: dict[Key, tuple[int, str, str]] = {}
    for pk, phone, email, company, contact in Lead.objects.filter(team=team).values_list(
        "pk", "phone", "email", "company", "contact_name"
    ):
        data = {"phone": phone, "email": email, "company": company, "contact_name": contact}
        for key in _keys(data):
            existing.setdefault(key, (pk, company, _person(data)))
    return existing


# --- The whole file ---------------------------------------------------------------------------


@dataclass
class _Checked:
    creates: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    updates: dict[int, tuple[list[int], dict[str, Any]]] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    error_lines: set[int] = field(default_factory=set)
    skipped: int = 0
    # Duplicate key → index into `creates`, for rows that repeat an earlier row of the file.
    in_file: dict[Key, int] = field(default_factory=dict)


def _error(line: int, field_name: str, message: str, column: str = "") -> dict[str, Any]:
    return {
        "line": line,
        "column": column,
        "field": field_label(field_name) if field_name in IMPORTABLE_FIELDS else "",
        "message": message,
    }


def _row_errors(
    job: ImportJob, actor: User, data: dict[str, Any], now: dt.datetime
) -> dict[str, str]:
    """The row's field errors as the lead form would give them (field → message)."""
    errors: dict[str, str] = {}
    try:
        services.lead_build(actor=actor, team=job.team, data=data, now=now)
    except ValidationError as error:
        for name, messages in error.message_dict.items():
            errors.setdefault(name, " ".join(messages))
    return errors


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
    first_line, first = result.creates[index]
    if job.on_duplicate == DuplicatePolicy.UPDATE:
        result.creates[index] = (first_line, first | row)
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
    existing: Mapping[Key, tuple[int, str, str]],
    line: int,
    row: dict[str, Any],
    data: dict[str, Any],
) -> None:
    """Decide what a valid row does: update (or skip for) a lead, merge into (or skip for) an
    earlier row, or create a lead."""
    keys = _keys(data)
    person = _person(data)
    match = next(
        (
            (key, existing[key])
            for key in keys
            if key in existing and not _other_person(key, person, existing[key][2])
        ),
        None,
    )
    earlier = next(
        (
            (key, result.in_file[key])
            for key in keys
            if key in result.in_file
            and not _other_person(key, person, _person(result.creates[result.in_file[key]][1]))
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
        for key in keys:
            result.in_file.setdefault(key, len(result.creates))
        result.creates.append((line, data))


def _check(job: ImportJob, actor: User, content: bytes) -> _Checked:
    """Read and check every row, note duplicates and decide what each row does. Progress is
    saved as it goes (outside any transaction, so the progress bar sees it)."""
    mapping = {int(column): name for column, name in job.mapping.items()}
    columns = {name: job.header[index] for index, name in mapping.items()}
    lookups = Lookups.build()
    now = timezone.now()
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
                ImportJob.objects.filter(pk=job.pk).update(processed=count)
            row, cell_errors = convert_row(cells, mapping, lookups)
            data = {"source": job.default_source} | row
            for name, message in _row_errors(job, actor, data, now).items():
                cell_errors.setdefault(name, message)
            if cell_errors:
                result.error_lines.add(line)
                for name, message in cell_errors.items():
                    result.errors.append(_error(line, name, message, columns.get(name, "")))
                continue
            _place(job, result, existing, line, row, data)
    return result
