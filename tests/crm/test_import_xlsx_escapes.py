"""Excel's _xHHHH_ escapes in an imported workbook: a carriage return and the escaped
underscore of a typed "_x0041_" are read as Excel shows them, and a "_x0041_" that another
tool wrote as it was typed stays "_x0041_" (it is not the letter A), in shared strings (what
Excel saves) as in inline strings (what openpyxl and Kaopu's export write)."""

from __future__ import annotations

import io
import re
import zipfile

from openpyxl import Workbook

from crm.imports.reading import _xlsx_rows


def _workbook(texts: list[str]) -> bytes:
    book = Workbook()
    book.active.append(texts)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _with_shared_strings(content: bytes, escaped: list[str]) -> bytes:
    """The workbook with its first row's cells as shared strings holding `escaped` as Excel
    writes them (already escaped, as in Excel's xl/sharedStrings.xml)."""
    source = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            data = source.read(name).decode()
            if name == "xl/worksheets/sheet1.xml":
                data = re.sub(
                    r'<c r="([A-Z]+1)" t="inlineStr"><is><t>.*?</t></is></c>',
                    lambda m: f'<c r="{m.group(1)}" t="s"><v>{ord(m.group(1)[0]) - 65}</v></c>',
                    data,
                )
            elif name == "[Content_Types].xml":
                data = data.replace(
                    "</Types>",
                    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                    'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
                )
            elif name == "xl/_rels/workbook.xml.rels":
                data = data.replace(
                    "</Relationships>",
                    '<Relationship Id="rIdS" Type="http://schemas.openxmlformats.org/'
                    'officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
                    "</Relationships>",
                )
            target.writestr(name, data)
        items = "".join(f"<si><t>{text}</t></si>" for text in escaped)
        target.writestr(
            "xl/sharedStrings.xml",
            '<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org'
            f'/spreadsheetml/2006/main" count="{len(escaped)}" uniqueCount="{len(escaped)}">'
            f"{items}</sst>",
        )
    return out.getvalue()


def _first_row(content: bytes) -> list[str]:
    with _xlsx_rows(content) as rows:
        return list(next(iter(rows)))


def test_excel_saved_shared_strings_read_as_excel_shows_them() -> None:
    # What Excel saves for a typed "Acme _x0041_ Co" and for "a⏎b" with a carriage return.
    content = _with_shared_strings(_workbook(["x", "y"]), ["Acme _x005F_x0041_ Co", "a_x000D_b"])
    shown = _first_row(content)
    assert shown[0] == "Acme _x0041_ Co"
    assert shown[1] == "a\rb"


def test_a_typed_escape_written_as_typed_stays_as_typed() -> None:
    # openpyxl (and tools built on it) write the text as it is, in an inline string.
    assert _first_row(_workbook(["Acme _x0041_ Co", "宏达 _x4E2D_"])) == [
        "Acme _x0041_ Co",
        "宏达 _x4E2D_",
    ]
