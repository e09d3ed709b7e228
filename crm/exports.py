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

from django.db.models import Field, QuerySet
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.text import capfirst
from django.utils.translation import gettext as _

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
    return {value: str(label) for value, label in field.flatchoices}


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
    reasons = {code: str(label) for code, label in ChickenRibReason.choices}
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
