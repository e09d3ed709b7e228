"""The XLSX writer (crm.exports.xlsx_file, written by hand for speed): what a spreadsheet reads
back from it. Texts stay texts as typed (no formula, no quote mark), numbers stay numbers, dates
stay dates; every part is well-formed XML in the order Excel requires; memory does not grow with
the rows."""

from __future__ import annotations

import datetime as dt
import io
import re
import tracemalloc
import xml.etree.ElementTree as ET
import zipfile
from decimal import Decimal
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils.escape import unescape

from crm import exports

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
TEXTS = {
    "formula": '=HYPERLINK("http://evil.example","click")',
    "plus": "+1",
    "minus": "-2",
    "at": "@x",
    "tab": "\tindented",
    "lines": "line one\nline two",
    "carriage return": "one\rtwo\r\n",
    "markup": "<b>Tom & Jerry</b> ]]> \"q\" 'a'",
    "rich-looking": "<r><t>x</t></r>",
    "excel escape": "_x0041_",
    "excel escape lower": "a_x000d_b",
    "padded": "  both ends  ",
    "chinese": "北京华润科技有限公司 王小明",
    "emoji": "签约 🎉",
}


def book_of(table: list[list[Any]], head: list[str] | None = None, title: str = "Leads") -> bytes:
    head = head or [f"H{i}" for i in range(max(len(row) for row in table))]
    return exports.xlsx_bytes(table, head, title)


def read(body: bytes) -> list[list[Any]]:
    book = load_workbook(io.BytesIO(body))
    rows = [[cell.value for cell in row] for row in book.worksheets[0].iter_rows()]
    assert all(c.data_type != "f" for row in book.worksheets[0].iter_rows() for c in row)
    return rows


def test_texts_read_back_as_typed_without_a_quote_mark() -> None:
    body = book_of([list(TEXTS.values())], head=list(TEXTS))
    head, row = read(body)
    assert head == list(TEXTS)
    # openpyxl leaves Excel's _xHHHH_ escapes as they are in the file; Excel shows them
    # unescaped (crm.imports reads them so): "_x0041_" shows as typed, not as "A".
    shown = dict(zip(TEXTS, [unescape(cell) for cell in row], strict=True))
    assert shown == TEXTS
    sheet = zipfile.ZipFile(io.BytesIO(body)).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet and "'=HYPERLINK" not in sheet
    assert '<t xml:space="preserve">  both ends  </t>' in sheet


def test_what_a_cell_cannot_hold_is_left_out() -> None:
    long = "长" * 40_000
    emojis = "🎉" * 20_000  # two UTF-16 units each, as Excel counts
    [_, row] = read(book_of([["a\x00b\x07c\x1bd\ufffe", long, emojis]]))
    assert row[0] == "abcd"
    assert row[1] == "长" * 32_767
    assert row[2] == "🎉" * 16_383


def test_numbers_and_dates_stay_typed() -> None:
    moment = dt.datetime(2026, 3, 5, 14, 7, 59)
    table = [
        [
            7,
            Decimal("1234567.89"),
            0.5,
            dt.date(2026, 3, 5),
            moment,
            True,
            None,
            "",
            dt.date(1901, 1, 1),
            dt.date(1899, 5, 4),
            dt.datetime(1850, 1, 2, 10, 30),
            -3,
        ]
    ]
    body = book_of(table)
    book = load_workbook(io.BytesIO(body))
    cells = next(book.worksheets[0].iter_rows(min_row=2))
    values = [c.value for c in cells]
    assert values[:6] == [7, 1234567.89, 0.5, dt.datetime(2026, 3, 5), moment, True]
    assert [c.data_type for c in cells[:6]] == ["n", "n", "n", "d", "d", "b"]
    assert cells[3].number_format == "yyyy-mm-dd"
    assert cells[4].number_format == "yyyy-mm-dd hh:mm:ss"
    assert values[6:8] == [None, None]  # no cell at all, not an empty string
    assert values[8] == dt.datetime(1901, 1, 1)
    # Before 1901 Excel's serials are wrong or missing: the date as text, as the import reads it.
    assert values[9:11] == ["1899-05-04", "1850-01-02 10:30:00"]
    assert values[11] == -3
    # Wide enough for a date and a date with its time (at the default width: ########).
    widths = book.worksheets[0].column_dimensions
    assert (widths["D"].width, widths["E"].width) == (11, 19)


def test_every_part_is_well_formed_and_the_sheet_is_in_excels_order() -> None:
    head = [f"Column {i}" for i in range(30)]  # past Z: AA, AB, …
    table = [[f"{r}-{c}" if (r + c) % 3 else None for c in range(30)] for r in range(300)]
    body = book_of(table, head=head)
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert archive.testzip() is None
    names = archive.namelist()
    assert names[0] == "[Content_Types].xml"
    parts = {name: ET.fromstring(archive.read(name)) for name in names}
    types = parts["[Content_Types].xml"]
    overrides = {e.get("PartName") for e in types if e.get("PartName")}
    assert overrides == {"/xl/workbook.xml", "/xl/worksheets/sheet1.xml", "/xl/styles.xml"}
    sheet = parts["xl/worksheets/sheet1.xml"]
    assert [child.tag for child in sheet] == [MAIN + "sheetData"]  # no dates: no <cols>
    rows = sheet.find(MAIN + "sheetData")
    assert rows is not None
    numbers = [int(row.get("r", "0")) for row in rows]
    assert numbers == list(range(1, 302))
    for row in rows:
        refs = [re.fullmatch(r"([A-Z]+)(\d+)", c.get("r", "")) for c in row]
        assert all(ref and ref[2] == row.get("r") for ref in refs)
        columns = [exports._column_letters(head.index(h)) for h in head]
        positions = [columns.index(ref[1]) for ref in refs if ref]
        assert positions == sorted(positions) and len(set(positions)) == len(positions)
    back = read(body)
    assert back[0] == head
    assert back[1:] == table
    assert exports._column_letters(26) == "AA" and exports._column_letters(701) == "ZZ"


def test_the_sheet_title_is_one_excel_accepts() -> None:
    def title_of(title: str) -> str:
        return load_workbook(io.BytesIO(book_of([["x"]], title=title))).sheetnames[0]

    assert title_of("线索") == "线索"
    assert title_of("Q1/Q2: [leads]*?\\") == "Q1 Q2   leads"
    assert title_of("'quoted' & <x>") == "quoted' & <x>"
    assert title_of("A" * 40) == "A" * 31
    assert title_of("/:*") == "Sheet1"


def _peak(rows: int) -> int:
    line = ["北京华润科技有限公司", "王小明", 12, Decimal("3.5"), dt.datetime(2026, 3, 5, 9, 0)]
    tracemalloc.start()
    try:
        with exports.xlsx_file((list(line) for _ in range(rows)), ["a", "b", "c", "d", "e"], "L"):
            return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_rows() -> None:
    small, large = _peak(2_000), _peak(20_000)
    assert large < small * 1.2 + 64 * 1024, (small, large)
