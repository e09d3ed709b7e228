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
import tempfile
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import IO, Any

from django.db.models import Model, QuerySet
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from crm.models import ChickenRibReason, Company, Contact, Lead
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


def _local(moment: dt.datetime | None) -> dt.datetime | None:
    # Spreadsheets have no time zones: write the reader's local time, without the zone.
    return timezone.localtime(moment).replace(tzinfo=None) if moment else None


def _reasons(lead: Lead) -> str:
    labels = dict(ChickenRibReason.choices)
    return ", ".join(str(labels.get(code, code)) for code in lead.chicken_rib_reasons)


# A column's cell where it is not the field's own value: labels, names, yes/no, local times.
CELLS: dict[str, Callable[[Lead], Any]] = {
    "source": Lead.get_source_display,
    "stage": Lead.get_stage_display,
    "owner": lambda lead: str(lead.owner) if lead.owner_id else "",
    "team": lambda lead: str(lead.team),
    "is_chicken_rib": lambda lead: _("yes") if lead.is_chicken_rib else _("no"),
    "chicken_rib_reasons": _reasons,
    "created_at": lambda lead: _local(lead.created_at),
    "updated_at": lambda lead: _local(lead.updated_at),
    "last_activity_at": lambda lead: _local(lead.last_activity_at),
}


def _cell(lead: Lead, name: str) -> Any:
    if name in CELLS:
        return CELLS[name](lead)
    value = getattr(lead, name)
    return str(value) if isinstance(value, Model) else value  # a related row by its name


def lead_values(lead: Lead) -> list[Any]:
    """One lead as typed cells (text, numbers, dates), in COLUMNS order."""
    return [_cell(lead, name) for name in COLUMNS]


def rows(leads: QuerySet[Lead]) -> Iterator[list[Any]]:
    for lead in leads.iterator(chunk_size=2000):
        yield lead_values(lead)


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


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(table: Iterable[list[Any]], head: list[str]) -> Iterator[str]:
    """CSV text, line by line, with a BOM first so that Excel reads it as UTF-8."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow([neutralise(h) for h in head])
    for row in table:
        yield writer.writerow([_csv_cell(value) for value in row])


def csv_text(table: Iterable[list[Any]], head: list[str]) -> str:
    return "".join(csv_lines(table, head))


def xlsx_file(table: Iterable[list[Any]], head: list[str], title: str) -> IO[bytes]:
    """An XLSX workbook in a temporary file (rewound; closing it deletes it), written in
    openpyxl's write-only mode with inline strings, so memory stays flat whatever the number of
    rows. Text cells are typed as strings: "=HYPERLINK(...)" shows as written and never runs."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31] or "Sheet1")

    def cell(value: Any) -> Any:
        if isinstance(value, Promise):
            value = str(value)
        if not isinstance(value, str):
            return value
        text = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
        text.data_type = "s"  # a formula-looking text stays text
        return text

    sheet.append([cell(h) for h in head])
    for row in table:
        sheet.append([cell(value) for value in row])
    handle = tempfile.TemporaryFile()  # noqa: SIM115 (the response closes it)
    book.save(handle)
    handle.seek(0)
    return handle


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
