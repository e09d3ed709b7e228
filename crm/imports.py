"""Leads in from a spreadsheet: read a CSV or XLSX file, map its columns to lead fields, check
every row, find duplicates, and create (or update) the leads through crm.services.

CSV comes as Chinese Excel and other tools write it: UTF-8 with or without a BOM, GBK/GB18030,
UTF-16 ("Unicode text"), comma, semicolon or tab separated, CRLF or LF line ends. XLSX is read
with openpyxl in read-only (streaming) mode.

`import_run` is the one service behind both the web request (small files) and the Celery task
(big files): it claims the job with a guarded update, checks every row while recording its
progress, then writes in one transaction — so a re-run, or a run after a crash, never imports
twice.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import io
import logging
import re
import unicodedata
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F, Q
from django.template.defaultfilters import filesizeformat
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from crm import audit, services
from crm.models import (
    ChickenRibReason,
    Currency,
    DuplicatePolicy,
    ImportJob,
    ImportMode,
    ImportState,
    Lead,
    Role,
    Source,
    Team,
    User,
)

log = logging.getLogger(__name__)

MAX_COLUMNS = 200
PROGRESS_EVERY = 500
# A job that has been running this long was lost with its worker: run it again.
STALE_RUNNING = dt.timedelta(minutes=20)
# A job queued this long without starting lost its message (or the broker was down).
STALE_PENDING = dt.timedelta(seconds=30)
MAX_ATTEMPTS = 3
ABANDONED_AFTER = dt.timedelta(days=7)
IMPORTABLE_FIELDS: tuple[str, ...] = services.EDITABLE_FIELDS


def max_bytes() -> int:
    return int(getattr(settings, "KAOPU_IMPORT_MAX_BYTES", 10 * 1024 * 1024))


def max_rows() -> int:
    return int(getattr(settings, "KAOPU_IMPORT_MAX_ROWS", 100_000))


def background_rows() -> int:
    """Files with more data rows than this are imported by a worker, not in the request."""
    return int(getattr(settings, "KAOPU_IMPORT_BACKGROUND_ROWS", 2_000))


def can_import(user: User) -> bool:
    """Managers (into their team's pool) and admins (into a team they choose) import leads."""
    return user.is_authenticated and (user.role == Role.MANAGER or user.is_admin_role)


def runs_in_background(job: ImportJob) -> bool:
    return job.row_count > background_rows()


# --- Reading the file -------------------------------------------------------------------------


@dataclass
class Sniffed:
    file_format: str
    encoding: str = ""
    delimiter: str = ""
    header: list[str] = field(default_factory=list)
    row_count: int = 0


def _decode(content: bytes) -> tuple[str, str]:
    """The text and the encoding it was written in."""
    if content.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    elif content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    else:
        # GB18030 is a superset of GBK (and GB2312): one decoder reads all three.
        candidates = ["utf-8", "gb18030"]
    for encoding in candidates:
        try:
            return content.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise ValidationError(
        _("Kaopu cannot read the characters in this file. Save it as “CSV UTF-8” and try again."),
        code="encoding",
    )


def _delimiter(text: str) -> str:
    first = text.split("\n", 1)[0]
    counts = {sep: first.count(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def _csv_rows(text: str, delimiter: str) -> Iterator[list[Any]]:
    yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)


@contextlib.contextmanager
def _xlsx_rows(content: bytes) -> Iterator[Iterator[Sequence[Any]]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise ValidationError(
            _("This is not an XLSX file Kaopu can read. Save it again as .xlsx or as CSV."),
            code="xlsx",
        ) from error
    try:
        sheet = book.worksheets[0]
        yield sheet.iter_rows(values_only=True)  # type: ignore[union-attr]
    finally:
        book.close()


def _is_xlsx(file_name: str, content: bytes) -> bool:
    return content.startswith(b"PK\x03\x04") or file_name.lower().endswith(".xlsx")


def _blank(cells: Sequence[Any]) -> bool:
    return all(cell is None or str(cell).strip() == "" for cell in cells)


@contextlib.contextmanager
def _records(job_or_sniffed: ImportJob | Sniffed, content: bytes) -> Iterator[Iterator[Any]]:
    """Every non-empty row as (line number, cells); line 1 is the header."""
    if job_or_sniffed.file_format == "xlsx":
        with _xlsx_rows(content) as rows:
            yield ((line, list(cells)) for line, cells in enumerate(rows, 1) if not _blank(cells))
    else:
        text = content.decode(job_or_sniffed.encoding)
        rows = _csv_rows(text, job_or_sniffed.delimiter)
        yield ((line, cells) for line, cells in enumerate(rows, 1) if not _blank(cells))


def _header(cells: Sequence[Any]) -> list[str]:
    names = []
    for index, cell in enumerate(cells, 1):
        name = "" if cell is None else str(cell).strip()
        names.append(name or _("Column %(number)d") % {"number": index})
    return names


def sniff(*, file_name: str, content: bytes) -> Sniffed:
    """Recognise the file's format, encoding and delimiter, read its header and count its rows.
    Raises ValidationError (in the user's language) for anything over the limits."""
    if file_name.lower().endswith(".xls") and not content.startswith(b"PK"):
        raise ValidationError(
            _("Old .xls files are not supported. Save it as .xlsx or as CSV UTF-8."), code="xls"
        )
    if _is_xlsx(file_name, content):
        sniffed = Sniffed(file_format="xlsx")
    else:
        if b"\x00" in content[:4096] and not content.startswith(
            (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
        ):
            raise ValidationError(_("This does not look like a CSV or XLSX file."), code="binary")
        text, encoding = _decode(content)
        sniffed = Sniffed(file_format="csv", encoding=encoding, delimiter=_delimiter(text))
    limit = max_rows()
    try:
        with _records(sniffed, content) as records:
            first = next(records, None)
            if first is None:
                raise ValidationError(_("The file is empty."), code="empty")
            sniffed.header = _header(first[1])
            for count, _record in enumerate(records, 1):
                if count > limit:
                    raise ValidationError(
                        _(
                            "The file has more than %(limit)s rows. Split it into files of at "
                            "most %(limit)s rows."
                        )
                        % {"limit": f"{limit:,}"},
                        code="too_many_rows",
                    )
                sniffed.row_count = count
    except csv.Error as error:
        raise ValidationError(
            _("The CSV file is malformed: %(reason)s") % {"reason": error}, code="csv"
        ) from error
    if len(sniffed.header) > MAX_COLUMNS:
        raise ValidationError(
            _("The file has more than %(limit)d columns.") % {"limit": MAX_COLUMNS},
            code="too_many_columns",
        )
    if sniffed.row_count == 0:
        raise ValidationError(_("The file has a header but no rows to import."), code="no_rows")
    return sniffed


def preview(job: ImportJob, rows: int = 10) -> list[tuple[int, list[str]]]:
    """The first data rows as text, padded to the header's width, for the mapping page."""
    width = len(job.header)
    out: list[tuple[int, list[str]]] = []
    with _records(job, bytes(job.content)) as records:
        next(records, None)
        for line, cells in records:
            texts = [_text(cell) for cell in cells[:width]]
            out.append((line, texts + [""] * (width - len(texts))))
            if len(out) >= rows:
                break
    return out


# --- Mapping columns to fields ----------------------------------------------------------------

# Header names people use for each field, besides the field's own name and labels.
ALIASES: dict[str, tuple[str, ...]] = {
    "company": (
        "company name",
        "customer",
        "account",
        "公司",
        "公司名称",
        "客户",
        "客户名称",
        "单位",
        "企业名称",
    ),
    "contact_name": ("contact", "name", "联系人", "姓名", "联系人姓名"),
    "phone": ("mobile", "tel", "telephone", "电话", "手机", "手机号", "联系电话", "电话号码"),
    "email": ("e-mail", "mail", "邮箱", "电子邮件", "电子邮箱", "邮件"),
    "source": ("lead source", "来源", "线索来源", "渠道"),
    "value": ("amount", "deal value", "金额", "预计金额", "价值", "预算"),
    "currency": ("币种", "货币"),
    "expected_close": ("close date", "预计成交日期", "成交日期"),
    "tender_date": ("招标日期", "投标日期"),
    "competitor": ("竞争对手", "竞品"),
    "next_step": ("下一步", "下一步计划"),
    "next_step_due": ("下一步日期", "下一步截止"),
    "is_chicken_rib": ("chicken rib", "鸡肋", "鸡肋线索"),
    "chicken_rib_reasons": ("鸡肋原因",),
    "notes": ("note", "remarks", "comment", "备注", "说明"),
}


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().casefold()


def field_label(name: str) -> str:
    return str(getattr(Lead._meta.get_field(name), "verbose_name", name))


def _header_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for name in IMPORTABLE_FIELDS:
        names[_norm(name)] = name
        names[_norm(name.replace("_", " "))] = name
        for language in ("en", "zh-hans"):
            with translation.override(language):
                names[_norm(field_label(name))] = name
        for alias in ALIASES.get(name, ()):
            names[_norm(alias)] = name
    return names


def suggested_mapping(*, user: User, header: Sequence[str]) -> dict[str, str]:
    """Column index → field: the user's last mapping where the header names match, otherwise a
    guess from the header's name (English or Chinese)."""
    last = (
        ImportJob.objects.filter(created_by=user)
        .exclude(state=ImportState.UPLOADED)
        .exclude(mapping={})
        .order_by("-created_at", "-id")
        .values_list("header", "mapping")
        .first()
    )
    remembered: dict[str, str] = {}
    if last is not None:
        old_header, old_mapping = last
        for index, name in enumerate(old_header):
            if old_mapping.get(str(index)) in IMPORTABLE_FIELDS:
                remembered[_norm(name)] = old_mapping[str(index)]
    guesses = _header_names()
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for index, name in enumerate(header):
        key = _norm(name)
        choice = remembered.get(key) or guesses.get(key)
        if choice and choice not in used:
            mapping[str(index)] = choice
            used.add(choice)
    return mapping


# --- Cell values to field values --------------------------------------------------------------


def _text(cell: Any) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))  # phone numbers typed into Excel come back as floats
    if isinstance(cell, dt.datetime):
        return cell.date().isoformat() if cell.time() == dt.time() else cell.isoformat(" ")
    if isinstance(cell, dt.date):
        return cell.isoformat()
    return str(cell).strip()


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


TRUE_WORDS = {"1", "y", "yes", "true", "x", "是", "对", "√", "✓"}
FALSE_WORDS = {"0", "n", "no", "false", "否", "不是", ""}
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y%m%d")
MONEY_NOISE = re.compile(r"[\s,，¥￥$€]|元|rmb|cny|usd|eur", re.IGNORECASE)


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
            if name == "value":
                data[name] = _parse_money(cell)
            elif name in ("expected_close", "tender_date", "next_step_due"):
                data[name] = _parse_date(cell)
            elif name == "is_chicken_rib":
                data[name] = _parse_bool(cell)
            elif name == "source":
                data[name] = _parse_choice(cell, lookups.source)
            elif name == "currency":
                data[name] = _parse_choice(cell, lookups.currency)
            elif name == "chicken_rib_reasons":
                data[name] = _parse_reasons(cell, lookups.reason)
            else:
                data[name] = _text(cell)
        except ValueError as error:
            errors[name] = str(error)
    if data.get("chicken_rib_reasons") and "is_chicken_rib" not in data:
        data["is_chicken_rib"] = True
    return data, errors


# --- Duplicates -------------------------------------------------------------------------------


def _keys(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What makes two leads the same within a team: phone, email or company name."""
    keys = []
    digits = re.sub(r"\D", "", str(data.get("phone") or ""))
    if len(digits) >= 5:
        keys.append(("phone", digits))
    email = _norm(str(data.get("email") or ""))
    if email:
        keys.append(("email", email))
    company = _norm(str(data.get("company") or ""))
    if company:
        keys.append(("company", company))
    return keys


# --- The service ------------------------------------------------------------------------------


@transaction.atomic
def import_upload(*, actor: User, upload: UploadedFile, team: Team | None = None) -> ImportJob:
    """Keep an uploaded file as a new import job waiting for its column mapping, after checking
    the size and row limits and that the file can be read."""
    if not can_import(actor):
        raise ValidationError(_("Only managers and admins import leads."))
    if actor.role == Role.MANAGER:
        team = Team.objects.filter(manager=actor).first()
        if team is None:
            raise ValidationError(_("You do not manage a team yet; ask an admin to set it up."))
    elif team is None:
        raise ValidationError({"team": _("Choose the team whose pool the leads go to.")})
    limit = max_bytes()
    size = upload.size or 0
    if size > limit:
        raise ValidationError(
            {
                "file": _(
                    "The file is %(size)s; the limit is %(limit)s. Split it into smaller files."
                )
                % {"size": _megabytes(size), "limit": _megabytes(limit)}
            },
            code="too_big",
        )
    content = upload.read(limit + 1)
    if len(content) > limit:
        raise ValidationError(
            {"file": _("The file is bigger than %(limit)s.") % {"limit": _megabytes(limit)}}
        )
    name = (upload.name or "leads.csv")[-255:]
    try:
        sniffed = sniff(file_name=name, content=content)
    except ValidationError as error:
        raise ValidationError({"file": error.messages}) from error
    job = ImportJob.objects.create(
        created_by=actor,
        team=team,
        file_name=name,
        file_format=sniffed.file_format,
        encoding=sniffed.encoding,
        delimiter=sniffed.delimiter,
        content=content,
        header=sniffed.header,
        row_count=sniffed.row_count,
    )
    job.mapping = suggested_mapping(user=actor, header=sniffed.header)
    job.save(update_fields=["mapping"])
    return job


def _megabytes(size: int) -> str:
    return str(filesizeformat(size)).replace("\xa0", " ")


@transaction.atomic
def import_configure(
    *,
    actor: User,
    job: ImportJob,
    mapping: Mapping[str, str],
    mode: str,
    on_duplicate: str,
    default_source: str,
) -> ImportJob:
    """Fix how the columns map to fields and what to do with errors and duplicates; the job is
    then queued to run."""
    job = ImportJob.objects.select_for_update().get(pk=job.pk, created_by=actor)
    if job.state != ImportState.UPLOADED:
        raise ValidationError(_("This import has already started."))
    errors: dict[str, str] = {}
    clean: dict[str, str] = {}
    seen: dict[str, str] = {}
    for column, name in mapping.items():
        if not name:
            continue
        if name not in IMPORTABLE_FIELDS or not column.isdigit():
            errors["mapping"] = _("Unknown lead field.")
            continue
        if int(column) >= len(job.header):
            errors["mapping"] = _("Unknown column.")
            continue
        if name in seen:
            errors["mapping"] = _("“%(field)s” is chosen for two columns: %(a)s and %(b)s.") % {
                "field": field_label(name),
                "a": seen[name],
                "b": job.header[int(column)],
            }
        seen[name] = job.header[int(column)]
        clean[column] = name
    if "company" not in clean.values() and "mapping" not in errors:
        errors["mapping"] = _("Choose the column that holds the company name.")
    if mode not in ImportMode.values:
        errors["mode"] = _("Choose how to treat rows with errors.")
    if on_duplicate not in DuplicatePolicy.values:
        errors["on_duplicate"] = _("Choose what to do with duplicates.")
    if default_source not in Source.values:
        errors["default_source"] = _("Choose a source for rows without one.")
    if errors:
        raise ValidationError(errors)
    job.mapping = clean
    job.mode = mode
    job.on_duplicate = on_duplicate
    job.default_source = default_source
    job.state = ImportState.PENDING
    job.queued_at = timezone.now()
    job.save(
        update_fields=["mapping", "mode", "on_duplicate", "default_source", "state", "queued_at"]
    )
    return job


@dataclass
class _Checked:
    creates: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    updates: dict[int, tuple[list[int], dict[str, Any]]] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    error_lines: set[int] = field(default_factory=set)
    skipped: int = 0


def _error(line: int, field_name: str, message: str, column: str = "") -> dict[str, Any]:
    return {
        "line": line,
        "column": column,
        "field": field_label(field_name) if field_name in IMPORTABLE_FIELDS else "",
        "message": message,
    }


def _check(job: ImportJob, actor: User, content: bytes) -> _Checked:
    """Read and check every row, note duplicates and decide what each row does. Progress is
    saved as it goes (outside any transaction, so the progress bar sees it)."""
    mapping = {int(column): name for column, name in job.mapping.items()}
    columns = {name: job.header[index] for index, name in mapping.items()}
    lookups = Lookups.build()
    now = timezone.now()
    result = _Checked()
    existing: dict[tuple[str, str], tuple[int, str]] = {}
    for pk, phone, email, company in Lead.objects.filter(team=job.team).values_list(
        "pk", "phone", "email", "company"
    ):
        for key in _keys({"phone": phone, "email": email, "company": company}):
            existing.setdefault(key, (pk, company))
    in_file: dict[tuple[str, str], int] = {}  # key → index into result.creates
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
            try:
                services.lead_build(actor=actor, team=job.team, data=data, now=now)
            except ValidationError as error:
                for name, messages in error.message_dict.items():
                    cell_errors.setdefault(name, " ".join(messages))
            if cell_errors:
                result.error_lines.add(line)
                for name, message in cell_errors.items():
                    result.errors.append(_error(line, name, message, columns.get(name, "")))
                continue
            keys = _keys(data)
            match = next(((key, existing[key]) for key in keys if key in existing), None)
            earlier = next(((key, in_file[key]) for key in keys if key in in_file), None)
            if match is not None:
                (what, _value), (lead_id, company) = match
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
            elif earlier is not None:
                (what, _value), index = earlier
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
            else:
                for key in keys:
                    in_file.setdefault(key, len(result.creates))
                result.creates.append((line, data))
    return result


def _write(job: ImportJob, actor: User, checked: _Checked) -> tuple[int, int]:
    """Create and update the leads (inside the caller's transaction). Returns (created,
    updated)."""
    created = services.lead_bulk_create(
        actor=actor, team=job.team, rows=[data for _line, data in checked.creates]
    )
    updated = 0
    for lead_id, (lines, data) in checked.updates.items():
        try:
            with transaction.atomic():
                services.lead_update(actor=actor, lead=Lead(pk=lead_id), data=data)
        except (ValidationError, Lead.DoesNotExist) as error:
            if job.mode == ImportMode.ALL_OR_NOTHING:
                raise
            messages = (
                error.messages if isinstance(error, ValidationError) else [_("Lead not found.")]
            )
            for line in lines:
                checked.errors.append(_error(line, "", " ".join(messages)))
                checked.error_lines.add(line)
            continue
        updated += 1
    if created or updated:
        audit.record(
            actor=actor,
            action="lead.imported",
            obj=job,
            summary=f"{created} created, {updated} updated from {job.file_name}",
        )
    return created, updated


def import_run(*, job_id: int) -> ImportJob | None:
    """Run a queued import: check every row, then write them all in one transaction (all or
    nothing, or the valid rows only, as the user chose). Claims the job first, so running it
    twice does nothing the second time. Returns the job, or None when it was not waiting."""
    now = timezone.now()
    claimed = ImportJob.objects.filter(pk=job_id, state=ImportState.PENDING).update(
        state=ImportState.RUNNING, started_at=now, processed=0, attempts=F("attempts") + 1
    )
    if not claimed:
        return None
    job = ImportJob.objects.select_related("created_by", "team").get(pk=job_id)
    actor = job.created_by
    with translation.override(actor.language):
        try:
            return _run(job, actor)
        except Exception as error:
            log.exception("lead import %s failed", job_id)
            message = (
                " ".join(error.messages)
                if isinstance(error, ValidationError)
                else _("The import stopped on an unexpected error; nothing was imported.")
            )
            ImportJob.objects.filter(pk=job_id).update(
                state=ImportState.FAILED,
                finished_at=timezone.now(),
                last_error=message,
            )
            job.refresh_from_db()
            return job


def _run(job: ImportJob, actor: User) -> ImportJob:
    content = bytes(job.content)
    checked = _check(job, actor, content)
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job.pk)
        if job.state != ImportState.RUNNING:
            return job
        created = updated = 0
        blocked = job.mode == ImportMode.ALL_OR_NOTHING and bool(checked.error_lines)
        if not blocked:
            try:
                with transaction.atomic():
                    created, updated = _write(job, actor, checked)
            except ValidationError as error:
                checked.errors.append(_error(0, "", " ".join(error.messages)))
                created = updated = 0
                blocked = True
        job.state = ImportState.DONE
        job.finished_at = timezone.now()
        job.processed = job.row_count
        job.created_count = created
        job.updated_count = updated
        job.skipped_count = checked.skipped
        job.error_count = len(checked.error_lines)
        job.errors = sorted(checked.errors, key=lambda e: e["line"])
        job.duplicates = checked.duplicates
        job.last_error = (
            _("Nothing was imported because some rows have errors. Fix them and upload again.")
            if blocked
            else ""
        )
        job.content = b""  # the report is all that is needed now; don't keep a second copy
        job.save()
    return job


def import_sweep(*, now: dt.datetime | None = None) -> list[int]:
    """Jobs that should be running but are not: queued without starting for a while (a lost
    message, or the broker was down when the request queued it), or running far longer than any
    import takes (the worker died; nothing was written, since the writes are one transaction).
    Returns the ids to run; a job that failed too often is marked failed instead. Uploads left
    without a mapping for a week are deleted."""
    now = now or timezone.now()
    # Files uploaded and never mapped are not kept for ever.
    ImportJob.objects.filter(
        state=ImportState.UPLOADED, created_at__lt=now - ABANDONED_AFTER
    ).delete()
    stale = ImportJob.objects.filter(state=ImportState.RUNNING, started_at__lt=now - STALE_RUNNING)
    stale.filter(attempts__gte=MAX_ATTEMPTS).update(
        state=ImportState.FAILED,
        finished_at=now,
        last_error=_("The import stopped several times; nothing was imported."),
    )
    stale.update(state=ImportState.PENDING, queued_at=now - STALE_PENDING)
    return list(
        ImportJob.objects.filter(state=ImportState.PENDING)
        .filter(Q(queued_at__lte=now - STALE_PENDING) | Q(queued_at__isnull=True))
        .order_by("queued_at", "pk")
        .values_list("pk", flat=True)[:100]
    )


def summary(job: ImportJob) -> str:
    """One sentence on what the import did, in the active language."""
    parts = [
        ngettext("%(n)d lead created", "%(n)d leads created", job.created_count)
        % {"n": job.created_count},
        ngettext("%(n)d updated", "%(n)d updated", job.updated_count) % {"n": job.updated_count},
        ngettext("%(n)d duplicate skipped", "%(n)d duplicates skipped", job.skipped_count)
        % {"n": job.skipped_count},
        ngettext("%(n)d row with errors", "%(n)d rows with errors", job.error_count)
        % {"n": job.error_count},
    ]
    return _(", ").join(parts) + _(".")
