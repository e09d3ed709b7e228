"""Leads out: the lead list as the user filtered it, as CSV or XLSX, with only the leads the user
may see (the rows come from selectors.lead_list, which starts from permissions).

In CSV, every text cell that a spreadsheet would read as a formula (= + - @, a tab or a
carriage return first) is prefixed with a single quote, so a lead named "=HYPERLINK(...)" stays
text. In XLSX no quote is needed or shown: every text cell is stored as a string (an inline
string, so the workbook streams in constant memory), which Excel never evaluates.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from html import escape
from typing import IO, Any

from django.db.models import DateField, DateTimeField, Field, QuerySet
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from crm.labels import choice_labels
from crm.models import ChickenRibReason, Company, Contact, Lead, Team, User
from crm.services.leads import EDITABLE_FIELDS

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# The fields a person types (the lead services' own list), with where the lead stands and who
# holds it after the money, then the bookkeeping times.
_MONEY_ENDS = EDITABLE_FIELDS.index("currency") + 1
COLUMNS: tuple[str, ...] = (
    "id",
    *EDITABLE_FIELDS[:_MONEY_ENDS],
    *("stage", "owner", "team"),
    *EDITABLE_FIELDS[_MONEY_ENDS:],
    *("created_at", "updated_at", "last_activity_at"),
)


def neutralise(value: object) -> str:
    """Any cell as text a spreadsheet shows as text and never runs as a formula (None is "").
    The one formula-injection guard: the lead export and the cockpit's CSV both use it."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def header() -> list[str]:
    return [
        "ID"
        if name == "id"
        else str(capfirst(getattr(Lead._meta.get_field(name), "verbose_name", name)))
        for name in COLUMNS
    ]


def _labels(name: str) -> dict[Any, str]:
    """A choice field's labels in the current language, as get_FOO_display shows them."""
    field = Lead._meta.get_field(name)
    assert isinstance(field, Field)
    return choice_labels(field.flatchoices)


# The columns whose cell is not the field's own value: the lead's holder and team by name (looked
# up once per person and team), labels, yes/no and local times (see rows()).
NAMED = {"owner": "owner_id", "team": "team_id"}
TIMES = ("created_at", "updated_at", "last_activity_at")


def rows(leads: QuerySet[Lead]) -> Iterator[list[Any]]:
    """The leads as typed cells (text, numbers, dates) in COLUMNS order, streamed from one
    query of plain values (no model instances). What every row shares is worked out once per
    export, in the reader's language and zone: the stage and source labels, the chicken-rib
    reasons' labels, yes and no, and the names of the people and teams (one query each)."""
    fields = [NAMED.get(name, name) for name in COLUMNS]
    visible = leads.order_by()
    names = {
        "owner": {u.pk: str(u) for u in User.objects.filter(pk__in=visible.values("owner_id"))},
        "team": {t.pk: str(t) for t in Team.objects.filter(pk__in=visible.values("team_id"))},
    }
    labels = {"source": _labels("source"), "stage": _labels("stage")}
    reasons = choice_labels(ChickenRibReason.choices)
    yes, no = _("yes"), _("no")
    zone = timezone.get_current_timezone()

    def local(moment: dt.datetime | None) -> dt.datetime | None:
        # Spreadsheets have no time zones: the reader's local time, without the zone.
        return moment.astimezone(zone).replace(tzinfo=None) if moment else None

    def looked_up(table: dict[Any, str], *, blank: bool = False) -> Callable[[Any], Any]:
        if blank:  # a person or team by id; none is an empty cell
            return lambda pk: table.get(pk, "") if pk else ""
        return lambda code: table.get(code, code)  # a label, or the code itself

    def yes_no(flag: bool) -> str:
        return yes if flag else no

    def reasons_of(codes: list[str] | None) -> str:
        return ", ".join(reasons.get(code, code) for code in codes or ())

    cells: list[Callable[[Any], Any] | None] = []
    for name in COLUMNS:
        if name in names:
            cells.append(looked_up(names[name], blank=True))
        elif name in labels:
            cells.append(looked_up(labels[name]))
        elif name == "is_chicken_rib":
            cells.append(yes_no)
        elif name == "chicken_rib_reasons":
            cells.append(reasons_of)
        elif name in TIMES:
            cells.append(local)
        else:
            cells.append(None)
    pairs = [(i, cell) for i, cell in enumerate(cells) if cell is not None]
    for values in leads.values_list(*fields).iterator(chunk_size=2000):
        row = list(values)
        for i, cell in pairs:
            row[i] = cell(row[i])
        yield row


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int | Decimal):
        return str(value)
    return neutralise(value)


def _csv_row(row: Iterable[Any]) -> list[Any]:
    """_csv_cell over a row, with the common cells (text, empty, numbers, local times) inline:
    the CSV writer turns numbers into text itself."""
    cells: list[Any] = []
    add = cells.append
    for value in row:
        kind = type(value)
        if kind is str:
            add("'" + value if value.startswith(FORMULA_STARTS) else value)
        elif value is None:
            add("")
        elif kind is int or kind is Decimal:
            add(value)
        elif kind is dt.datetime and value.tzinfo is None and value.year >= 1000:
            add(value.isoformat(" ", "minutes"))  # %Y-%m-%d %H:%M, without strftime's cost
        else:
            add(_csv_cell(value))
    return cells


def csv_lines(table: Iterable[list[Any]], head: list[str]) -> Iterator[str]:
    """CSV text, a few hundred lines at a time (one chunk per line made the response's own
    per-chunk work a third of a 100k-row export), with a BOM first so that Excel reads UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([neutralise(h) for h in head])
    yield "\ufeff" + buffer.getvalue()
    rows = iter(table)
    while batch := list(itertools.islice(rows, 500)):
        buffer.seek(0)
        buffer.truncate()
        writer.writerows([_csv_row(row) for row in batch])
        yield buffer.getvalue()


def csv_text(table: Iterable[list[Any]], head: list[str]) -> str:
    return "".join(csv_lines(table, head))


# --- XLSX: the workbook written by hand ----------------------------------------------------
# A workbook is a zip of XML parts; only the sheet grows with the rows, and it is written into
# the zip as it is made, 500 rows at a time (constant memory). Written by hand because the
# libraries miss issue 22's 15 s: for 100k lead rows (bench/xlsx_writers.py, writer alone, CPU)
# openpyxl's write-only mode takes 28 s and XlsxWriter's constant_memory mode 10 s (with the
# query, 13-14 s on a quiet machine), and XlsxWriter there writes a text that starts with <r>
# and ends with </r> into the XML unescaped: a lead named "<r>Tom & Jerry</r>" would make a
# workbook Excel refuses. This takes 2.3 s. Every text cell is an inline string
# (t="inlineStr"), which Excel shows as written and never evaluates: no formula, no quote mark.
# Dates and times are numbers with a date style, numbers are numbers.

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_OPENXML = "application/vnd.openxmlformats-"
_CONTENT_TYPES = (
    _XML + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    f'<Default Extension="rels" ContentType="{_OPENXML}package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml"'
    f' ContentType="{_OPENXML}officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml"'
    f' ContentType="{_OPENXML}officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml"'
    f' ContentType="{_OPENXML}officedocument.spreadsheetml.styles+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    _XML + f'<Relationships xmlns="{_PACKAGE_RELS}">'
    f'<Relationship Id="rId1" Type="{_RELS}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_BOOK_RELS = (
    _XML + f'<Relationships xmlns="{_PACKAGE_RELS}">'
    f'<Relationship Id="rId1" Type="{_RELS}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_RELS}/styles" Target="styles.xml"/>'
    "</Relationships>"
)
# Three cell styles: 0 as it comes, 1 a date, 2 a date and time (s="1", s="2" in the sheet).
_STYLES = (
    _XML + f'<styleSheet xmlns="{_MAIN}">'
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/>'
    '<numFmt numFmtId="165" formatCode="yyyy-mm-dd hh:mm:ss"/></numFmts>'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
# What a text needs before it goes into the XML: characters XML cannot hold (removed), markup
# and carriage returns (escaped; XML would read a bare CR back as a line feed), Excel's own
# _xHHHH_ escapes (its underscore escaped, so the text shows as typed), and spaces at an end
# (kept with xml:space). Most cells have none of these and go in as they are.
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NEEDS_CARE = re.compile(
    r"[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]|_x[0-9A-Fa-f]{4}_|^\s|\s$"
)
_EXCEL_ESCAPE = re.compile(r"_(x[0-9A-Fa-f]{4}_)")
# The most a cell holds, in UTF-16 units (an emoji counts two); Excel will not open a longer one.
_TEXT_MAX = 32767
_SHEET_NAME_BANNED = re.compile(r"[\[\]:*?/\\]")
_DAY_ZERO = dt.date(1899, 12, 30).toordinal()  # serial day 0 in Excel's 1900 date system
# Excel has no date before 1900 and its serials are a day off before 1 March 1900 (its
# 29 February 1900): dates before 1901 go as text (2026-03-05), which our import reads back.
_SERIALS_START = 1901


def _fits(value: str) -> str:
    """The text cut to what a cell holds, never between the two halves of an emoji."""
    units = value.encode("utf-16-le")
    if len(units) <= 2 * _TEXT_MAX:
        return value
    return units[: 2 * _TEXT_MAX].decode("utf-16-le", errors="ignore")


def _text(value: str) -> str:
    """The XML of a text cell: <is><t>…</t></is>."""
    if len(value) > _TEXT_MAX // 2 or _NEEDS_CARE.search(value):
        value = _fits(_ILLEGAL.sub("", value))
        ends = value[:1].isspace() or value[-1:].isspace()
        value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        value = _EXCEL_ESCAPE.sub(r"_x005F_\1", value).replace("\r", "&#13;")
        if ends:
            return f'<is><t xml:space="preserve">{value}</t></is>'
    return f"<is><t>{value}</t></is>"


def _column_letters(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _sheet_rows(table: Iterable[list[Any]], head: list[str]) -> Iterator[str]:
    """The <row> elements of the sheet, the header first; an empty cell is left out."""
    columns = [_column_letters(i) for i in range(len(head))]

    def row_xml(number: int, row: Iterable[Any]) -> str:
        cells = [f'<row r="{number}">']
        add = cells.append
        for column, value in zip(columns, row, strict=False):
            kind = type(value)
            if kind is str:
                if value:
                    add(f'<c r="{column}{number}" t="inlineStr">{_text(value)}</c>')
            elif value is None:
                continue
            elif kind is dt.datetime and value.year >= _SERIALS_START:
                seconds = value.hour * 3600 + value.minute * 60 + value.second
                serial = value.toordinal() - _DAY_ZERO + seconds / 86400
                add(f'<c r="{column}{number}" s="2"><v>{serial!r}</v></c>')
            elif kind is dt.date and value.year >= _SERIALS_START:
                add(f'<c r="{column}{number}" s="1"><v>{value.toordinal() - _DAY_ZERO}</v></c>')
            elif kind is int or kind is float:
                add(f'<c r="{column}{number}"><v>{value!r}</v></c>')
            elif kind is Decimal:
                add(f'<c r="{column}{number}"><v>{value:f}</v></c>')
            elif kind is bool:
                add(f'<c r="{column}{number}" t="b"><v>{int(value)}</v></c>')
            elif isinstance(value, dt.date):  # before 1901: 1899-05-04 (10:30:00)
                add(f'<c r="{column}{number}" t="inlineStr">{_text(str(value))}</c>')
            elif text := str(value):  # anything else (a lazy translation, say) as its text
                add(f'<c r="{column}{number}" t="inlineStr">{_text(text)}</c>')
        add("</row>")
        return "".join(cells)

    yield row_xml(1, (str(h) for h in head))
    for number, row in enumerate(table, 2):
        yield row_xml(number, row)


def date_widths() -> dict[int, int]:
    """The lead export's date and date-and-time columns by position, with their widths, from the
    fields' types: a column empty in the first rows (expected close, tender date) is one too."""
    widths = {}
    for i, name in enumerate(COLUMNS):
        field = Lead._meta.get_field(NAMED.get(name, name))
        if isinstance(field, DateTimeField):
            widths[i] = 19
        elif isinstance(field, DateField):
            widths[i] = 11
    return widths


def _column_widths(first_rows: list[list[Any]], count: int, widths: dict[int, int]) -> str:
    """<cols>: wide enough for a date or a date and time (at Excel's default width they show
    as ########), from `widths` and the dates in the first rows; other columns keep the
    default."""
    widths = dict(widths)
    for row in first_rows:
        for i, value in enumerate(row[:count]):
            if isinstance(value, dt.datetime):
                widths[i] = 19
            elif isinstance(value, dt.date):
                widths.setdefault(i, 11)
    spans = "".join(
        f'<col min="{i + 1}" max="{i + 1}" width="{w}" customWidth="1"/>'
        for i, w in sorted(widths.items())
    )
    return f"<cols>{spans}</cols>" if spans else ""


def _sheet_name(title: str) -> str:
    name = _SHEET_NAME_BANNED.sub(" ", _ILLEGAL.sub("", str(title))).strip(" '")[:31]
    return escape(name.strip(" '") or "Sheet1", quote=True)


def xlsx_file(
    table: Iterable[list[Any]], head: list[str], title: str, widths: dict[int, int] | None = None
) -> IO[bytes]:
    """An XLSX workbook of one sheet, in a temporary file (rewound; closing it deletes it).
    `widths`: the date columns' widths by position (date_widths()), where they are known.
    Memory stays flat whatever the number of rows: the sheet is compressed into the file as it
    is written, a batch of rows at a time. Text cells are strings: "=HYPERLINK(...)" shows as
    written and never runs."""
    rows = iter(table)
    first = list(itertools.islice(rows, 100))  # to size the date columns
    handle = tempfile.TemporaryFile()  # noqa: SIM115 (the response closes it)
    try:
        columns = _column_widths(first, len(head), widths or {})
        _write_book(handle, itertools.chain(first, rows), head, title=title, columns=columns)
    except BaseException:
        handle.close()
        raise
    handle.seek(0)
    return handle


def _write_book(
    handle: IO[bytes], rows: Iterable[list[Any]], head: list[str], *, title: str, columns: str
) -> None:
    # Level 1: the sheet's XML repeats itself, so the fastest deflate is nearly as small.
    with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as book:
        book.writestr("[Content_Types].xml", _CONTENT_TYPES)
        book.writestr("_rels/.rels", _ROOT_RELS)
        book.writestr(
            "xl/workbook.xml",
            _XML + f'<workbook xmlns="{_MAIN}" xmlns:r="{_RELS}"><sheets>'
            f'<sheet name="{_sheet_name(title)}" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        book.writestr("xl/_rels/workbook.xml.rels", _BOOK_RELS)
        book.writestr("xl/styles.xml", _STYLES)
        with book.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(f'{_XML}<worksheet xmlns="{_MAIN}">'.encode())
            sheet.write(f"{columns}<sheetData>".encode())
            batch: list[str] = []
            for xml in _sheet_rows(rows, head):
                batch.append(xml)
                if len(batch) == 500:
                    sheet.write("".join(batch).encode())
                    batch.clear()
            sheet.write("".join(batch).encode())
            sheet.write(b"</sheetData></worksheet>")


def xlsx_bytes(table: Iterable[list[Any]], head: list[str], title: str) -> bytes:
    """The workbook of xlsx_file as bytes (for small tables)."""
    with xlsx_file(table, head, title) as handle:
        return handle.read()


# --- Companies and contacts ------------------------------------------------------------------


def company_header() -> list[str]:
    return [
        str(_("ID")),
        str(_("Company")),
        str(_("Unified social credit code")),
        str(_("Industry")),
        str(_("City")),
        str(_("Address")),
        str(_("Website")),
    ]


def company_rows(companies: QuerySet[Company]) -> Iterator[list[Any]]:
    fields = ("pk", "name", "uscc", "industry", "city", "address", "website")
    for values in companies.values_list(*fields).iterator(chunk_size=2000):
        yield list(values)


def contact_header() -> list[str]:
    return [
        str(_("ID")),
        str(_("Name")),
        str(_("Company")),
        str(_("Title")),
        str(_("Department")),
        str(_("Mobile")),
        str(_("Phone")),
        str(_("Email")),
        str(_("WeChat ID")),
    ]


def contact_rows(contacts: QuerySet[Contact]) -> Iterator[list[Any]]:
    fields = ("pk", "name", "company__name", "title", "department", "mobile", "phone", "email")
    for values in contacts.values_list(*fields, "wechat").iterator(chunk_size=2000):
        yield list(values)
