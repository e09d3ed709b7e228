"""Reading an uploaded lead file: recognise CSV or XLSX, decode CSV as Chinese Excel and other
tools write it (UTF-8 with or without a BOM, GBK/GB18030, UTF-16; comma, semicolon or tab
separated; CRLF or LF), stream XLSX with openpyxl in read-only mode, read the header and count
the rows against the size limits. Nothing here touches the database.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from crm.imports.values import Profiler

if TYPE_CHECKING:
    from crm.models import ImportJob

MAX_COLUMNS = 200


def max_bytes() -> int:
    """The biggest file accepted (KAOPU_IMPORT_MAX_BYTES)."""
    return int(settings.KAOPU_IMPORT_MAX_BYTES)


def max_rows() -> int:
    """The most data rows a file may have (KAOPU_IMPORT_MAX_ROWS)."""
    return int(settings.KAOPU_IMPORT_MAX_ROWS)


@dataclass
class Sniffed:
    file_format: str
    encoding: str = ""
    delimiter: str = ""
    header: list[str] = field(default_factory=list)
    row_count: int = 0
    profile: dict[str, Any] = field(default_factory=dict)


def _legacy_encoding(content: bytes) -> str:
    """A file that is not UTF-8 was written by Excel in the machine's code page: GB18030 (a
    superset of GBK and GB2312) on a Chinese Windows, Windows-1252 on a Western one. Many
    Windows-1252 bytes also decode as GB18030 (into nonsense), so the choice is charset-
    normalizer's, which weighs which of the two reads as language."""
    from charset_normalizer import from_bytes

    best = from_bytes(content[:200_000], cp_isolation=["gb18030", "cp1252"]).best()
    return "cp1252" if best is not None and best.encoding == "cp1252" else "gb18030"


def _decode(content: bytes) -> tuple[str, str]:
    """The text and the encoding it was written in."""
    if content.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    elif content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    else:
        try:
            content.decode("utf-8")
            candidates = ["utf-8"]
        except UnicodeDecodeError:
            candidates = [_legacy_encoding(content)]
    for encoding in candidates:
        try:
            return content.decode(encoding)[:20_000], encoding
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


def _csv_rows(content: bytes, encoding: str, delimiter: str) -> Iterator[list[Any]]:
    # Decoded as it is read: a 40 MB file is never also held as one 80 MB string.
    text = io.TextIOWrapper(io.BytesIO(content), encoding=encoding, newline="")
    yield from csv.reader(text, delimiter=delimiter)


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
        yield (_as_shown(row) for row in sheet.iter_rows(values_only=True))  # type: ignore[union-attr]
    finally:
        book.close()


# Excel's escapes in a cell's text (_xHHHH_): a control character (a carriage return is
# _x000D_) or the escaped underscore of a typed "_x0041_" (_x005F_x0041_). Nothing else: a
# shared string reaches us with openpyxl's "x005F_" already removed, so a typed "_x0041_" is
# "_x0041_" by then and must stay so; one pass, so _x005F_x000D_ gives "_x000D_", not a CR.
_EXCEL_ESCAPE = re.compile(r"_x(00[01][0-9A-Fa-f]|005[Ff])_")


def _as_shown(row: Sequence[Any]) -> Sequence[Any]:
    """The row's texts as Excel shows them: Excel's escapes above, which openpyxl leaves in an
    inline string (our exports write those) and in part in a shared string."""
    if not any(type(cell) is str and "_x" in cell for cell in row):
        return row
    return [_EXCEL_ESCAPE.sub(_unescaped, cell) if type(cell) is str else cell for cell in row]


def _unescaped(match: re.Match[str]) -> str:
    return chr(int(match.group(1), 16))


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
        rows = _csv_rows(content, job_or_sniffed.encoding, job_or_sniffed.delimiter)
        yield ((line, cells) for line, cells in enumerate(rows, 1) if not _blank(cells))


def _header(cells: Sequence[Any]) -> list[str]:
    names = []
    for index, cell in enumerate(cells, 1):
        name = "" if cell is None else str(cell).strip()
        names.append(name or _("Column %(number)d") % {"number": index})
    return names


def _text(cell: Any) -> str:
    """A cell as the text a person typed into it."""
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))  # phone numbers typed into Excel come back as floats
    if isinstance(cell, dt.datetime):
        return cell.date().isoformat() if cell.time() == dt.time() else cell.isoformat(" ")
    if isinstance(cell, dt.date):
        return cell.isoformat()
    return str(cell).strip()


def _format(file_name: str, content: bytes) -> Sniffed:
    """The file's format, and for CSV its encoding and delimiter."""
    if file_name.lower().endswith(".xls") and not content.startswith(b"PK"):
        raise ValidationError(
            _("Old .xls files are not supported. Save it as .xlsx or as CSV UTF-8."), code="xls"
        )
    if _is_xlsx(file_name, content):
        return Sniffed(file_format="xlsx")
    if b"\x00" in content[:4096] and not content.startswith(
        (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
    ):
        raise ValidationError(_("This does not look like a CSV or XLSX file."), code="binary")
    text, encoding = _decode(content)
    return Sniffed(file_format="csv", encoding=encoding, delimiter=_delimiter(text))


def sniff(*, file_name: str, content: bytes) -> Sniffed:
    """Recognise the file's format, encoding and delimiter, read its header and count its rows.
    Raises ValidationError (in the user's language) for anything over the limits."""
    sniffed = _format(file_name, content)
    limit = max_rows()
    try:
        with _records(sniffed, content) as records:
            first = next(records, None)
            if first is None:
                raise ValidationError(_("The file is empty."), code="empty")
            sniffed.header = _header(first[1])
            profiler = Profiler(len(sniffed.header))
            for count, (_line, cells) in enumerate(records, 1):
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
                profiler.add([_text(cell) for cell in cells])
            sniffed.profile = profiler.result()
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
