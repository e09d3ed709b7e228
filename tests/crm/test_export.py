"""Exporting the lead list: as filtered, only what the user may see, as CSV and XLSX, and safe
to open in a spreadsheet (no formula runs from a lead's text)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from crm import exports, services
from crm.models import AuditEntry, Lead
from tests.factories import lead_new

if TYPE_CHECKING:
    from django.http import HttpResponse

    from tests.conftest import Company


def csv_table(response: HttpResponse) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")  # type: ignore[attr-defined]
    assert body.startswith("\ufeff")  # so that Excel reads UTF-8
    return list(csv.reader(io.StringIO(body[1:])))


def xlsx_body(response: HttpResponse) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)  # type: ignore[attr-defined]
    return response.content


def xlsx_table(response: HttpResponse) -> list[list[Any]]:
    book = load_workbook(io.BytesIO(xlsx_body(response)), read_only=True)
    sheet = book.worksheets[0]
    table = [list(row) for row in sheet.iter_rows(values_only=True)]
    book.close()
    return table


def companies(table: list[list[Any]]) -> set[str]:
    return {row[1] for row in table[1:]}


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("rep_a1", {"Alpha Robotics"}),
        ("rep_b1", {"Bravo Medical"}),
        ("manager_a", {"Alpha Robotics", "华润科技有限公司", "Pool Foods"}),
        ("manager_b", {"Bravo Medical"}),
        ("director", {"Alpha Robotics", "华润科技有限公司", "Pool Foods", "Bravo Medical"}),
        ("other_director", set()),
        ("admin", {"Alpha Robotics", "华润科技有限公司", "Pool Foods", "Bravo Medical"}),
    ],
)
def test_export_has_only_the_leads_the_user_may_see(
    company: Company, client_for: Any, role: str, expected: set[str]
) -> None:
    client = client_for(company.people[role])
    assert companies(csv_table(client.get(reverse("lead-export-csv")))) == expected
    assert companies(xlsx_table(client.get(reverse("lead-export-xlsx")))) == expected


def test_export_follows_the_lead_list_filters(company: Company, client_for: Any) -> None:
    client = client_for(company.manager_a)
    pool = csv_table(client.get(reverse("lead-export-csv") + "?owner=none"))
    assert companies(pool) == {"Pool Foods"}
    search = xlsx_table(client.get(reverse("lead-export-xlsx") + "?q=华润&sort=-value"))
    assert companies(search) == {"华润科技有限公司"}
    # An owner outside the user's view is not a valid filter: nothing leaks, nothing exported.
    other = client.get(reverse("lead-export-csv") + f"?owner={company.rep_b1.pk}")
    assert other.status_code == 302


def test_lead_list_links_to_the_export_with_its_query(company: Company, client_for: Any) -> None:
    client = client_for(company.manager_a)
    page = client.get(reverse("lead-list") + "?stage=open&q=Pool&page=1").content.decode()
    assert reverse("lead-export-csv") + "?stage=open&amp;q=Pool" in page
    assert reverse("lead-export-xlsx") + "?stage=open&amp;q=Pool" in page
    # The htmx region carries the links too, so they follow the filters as they change.
    partial = client.get(reverse("lead-list") + "?q=Alpha", headers={"HX-Request": "true"})
    assert reverse("lead-export-csv") + "?q=Alpha" in partial.content.decode()


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_formula_injection_is_neutralised(company: Company, client_for: Any, start: str) -> None:
    payload = f'{start}HYPERLINK("http://evil.example","click")'
    lead = lead_new(
        company.manager_a, payload, contact_name=f"{start}1+1", notes="=cmd|' /C calc'!A0"
    )
    client = client_for(company.manager_a)
    row = next(r for r in csv_table(client.get(reverse("lead-export-csv"))) if r[0] == str(lead.pk))
    assert row[1] == "'" + payload
    assert row[2] == f"'{start}1+1"
    assert row[exports.COLUMNS.index("notes")] == "'=cmd|' /C calc'!A0"
    sheet = xlsx_table(client.get(reverse("lead-export-xlsx")))
    cells = next(r for r in sheet if r[0] == lead.pk)
    # In XLSX the text is stored as a string, as written, with no quote mark to show in Excel.
    # (XML turns a carriage return into a line feed when the workbook is read back.)
    assert cells[1][1:] == payload[1:] and cells[1][0] in (start, "\n")
    assert cells[2][1:] == "1+1"
    assert cells[exports.COLUMNS.index("notes")] == "=cmd|' /C calc'!A0"
    # The workbook holds no formula at all: every text cell is a string.
    body = xlsx_body(client.get(reverse("lead-export-xlsx")))
    book = load_workbook(io.BytesIO(body))
    sheet_cells = [c for row in book.worksheets[0].iter_rows() for c in row]
    assert all(c.data_type != "f" for c in sheet_cells)
    assert b"<f>" not in zipfile.ZipFile(io.BytesIO(body)).read("xl/worksheets/sheet1.xml")


def test_numbers_and_dates_stay_typed_in_xlsx(company: Company, client_for: Any) -> None:
    services.lead_update(
        actor=company.manager_a,
        lead=company.lead_a_pool,
        data={
            "value": Decimal("1234.5"),
            "next_step": "Call",
            "next_step_due": dt.date(2026, 5, 4),
        },
    )
    client = client_for(company.manager_a)
    sheet = xlsx_table(client.get(reverse("lead-export-xlsx") + "?owner=none"))
    header, row = sheet[0], sheet[1]
    assert header[:3] == ["ID", "Company", "Contact person"]
    assert row[exports.COLUMNS.index("value")] == 1234.5
    assert str(row[exports.COLUMNS.index("next_step_due")]).startswith("2026-05-04")


def test_export_speaks_the_users_language_and_is_audited(company: Company, client_for: Any) -> None:
    client = client_for(company.rep_a1, language="zh-hans")
    table = csv_table(client.get(reverse("lead-export-csv")))
    assert table[0][1] == "公司"
    assert AuditEntry.objects.filter(action="lead.exported", actor=company.rep_a1).exists()


def test_export_query_count_does_not_grow_with_leads(
    company: Company, client_for: Any, django_assert_max_num_queries: Any
) -> None:
    for i in range(30):
        lead_new(company.manager_a, f"Company {i}")
    client = client_for(company.manager_a)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("lead-export-csv"))
        table = csv_table(response)
    assert len(table) == 1 + Lead.objects.filter(team=company.team_a).count()
