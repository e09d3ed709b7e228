"""Other CRMs' and spreadsheets' exports import on the first try, and never change a number.

tests/data/imports/ holds exports written from the vendors' documented export columns
(Salesforce, HubSpot, Pipedrive, Zoho, Odoo, 纷享销客) and Chinese and European spreadsheets;
expected.yaml says for each what the preview asks, what the manager answers, how many leads
come in, which lines are reported, and the values some leads get. One test reads the table.
The round trip of Kaopu's own export is here too.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from crm import imports, services
from crm.imports.questions import questions
from crm.models import Company as CompanyRecord
from crm.models import DuplicatePolicy, ImportJob, ImportMode, Lead, Source
from crm.permissions import managed_team

if TYPE_CHECKING:
    from tests.conftest import Company

DATA = Path(__file__).resolve().parent.parent / "data" / "imports"
TABLE: list[dict[str, Any]] = yaml.safe_load((DATA / "expected.yaml").read_text("utf-8"))


def _asked(job: Any) -> list[str]:
    asked = questions(job, job.mapping)
    names = ["numbers"] if asked.number_column is not None else []
    return names + (["date_order"] if asked.ask_date_order else [])


def _answers(job: Any, case: dict[str, Any]) -> dict[str, Any]:
    given = case.get("answers") or {}
    value_column = next((c for c, name in job.mapping.items() if name == "value"), None)
    numbers = {value_column: given["numbers"]} if "numbers" in given else {}
    return {"numbers": numbers, "date_order": given.get("date_order"), "values": {}}


def _field(lead: Lead, name: str) -> str:
    value = getattr(lead, name)
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return "" if value is None else str(value)


@pytest.mark.parametrize("case", TABLE, ids=[case["file"] for case in TABLE])
def test_an_export_imports_on_the_first_try(company: Company, case: dict[str, Any]) -> None:
    manager = company.manager_a
    content = (DATA / case["file"]).read_bytes()
    job = imports.import_upload(actor=manager, upload=SimpleUploadedFile(case["file"], content))
    # The suggested mapping is used as it is: no column chosen by hand.
    assert sorted(set(job.mapping.values())) == sorted(case["fields"]), job.mapping
    assert _asked(job) == case.get("asks", [])
    job = imports.import_configure(
        actor=manager,
        job=job,
        mapping=job.mapping,
        mode=ImportMode.VALID_ROWS,
        on_duplicate=DuplicatePolicy.SKIP,
        default_source=Source.MARKETING,
        answers=_answers(job, case),
    )
    done = imports.import_run(job_id=job.pk)
    assert done is not None
    reported = sorted({error["line"] for error in done.errors})
    assert (done.created_count, reported) == (case["created"], case.get("reported", [])), (
        done.errors
    )
    for company_name, people in (case.get("contacts") or {}).items():
        # Several people at one company: one company record, each a contact there.
        [record] = CompanyRecord.objects.filter(name=company_name)
        assert sorted(record.contacts.values_list("name", flat=True)) == sorted(people)
    for company_name, expected in (case.get("leads") or {}).items():
        leads = Lead.objects.filter(team=managed_team(manager), company=company_name)
        got = [{name: _field(lead, name) for name in expected} for lead in leads]
        assert {k: str(v) for k, v in expected.items()} in got, got


# --- Kaopu's own export comes back as it went out ----------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_our_own_export_imports_back_to_the_same_values(
    company: Company, client_for: Any, fmt: str, language: str
) -> None:
    from tests.factories import lead_new

    tricky = lead_new(
        company.manager_a,
        '=HYPERLINK("http://evil.example","x")',
        contact_name="-Dash 王",
        phone="+86 138 0013 8000",
        email="buyer@example.cn",
        source=Source.REFERRAL,
        value=Decimal("1234567.89"),
        currency="USD",
        expected_close=dt.date(2026, 3, 5),
        tender_date=dt.date(2026, 12, 1),
        competitor="Rival; Co, Ltd",
        next_step="Send the quote",
        next_step_due=dt.date(2026, 2, 13),
        is_chicken_rib=True,
        chicken_rib_reasons=["competitor", "no_budget"],
        notes="line one\nline two, with a comma; and “quotes”",
    )
    plain = lead_new(company.manager_a, "北京简单有限公司", value=Decimal("0.5"))
    # What a spreadsheet would take for a formula, or Excel for its own escapes.
    typed = lead_new(
        company.manager_a,
        "@Acme _x0041_ & <Co>",
        contact_name="+1 Li",
        competitor="-2",
        next_step="=1+1",
        notes="first\r\nsecond\rthird _x000D_",
    )
    for user in (company.manager_a, company.manager_b):
        user.language = language
        user.save()
    exported = client_for(company.manager_a, language=language).get(
        reverse(f"lead-export-{fmt}") + "?owner=none"
    )
    body = b"".join(exported.streaming_content)
    # Imported by the other team's manager: a new pool, nothing to be a duplicate of.
    job = imports.import_upload(
        actor=company.manager_b, upload=SimpleUploadedFile(f"leads.{fmt}", body)
    )
    assert set(job.mapping.values()) == set(services.EDITABLE_FIELDS), job.mapping
    job = imports.import_configure(
        actor=company.manager_b,
        job=job,
        mapping=job.mapping,
        mode=ImportMode.ALL_OR_NOTHING,
        on_duplicate=DuplicatePolicy.SKIP,
        default_source=Source.MARKETING,
    )
    done = imports.import_run(job_id=job.pk)
    assert done is not None and not done.errors, done.errors
    for original in (tricky, plain, typed):
        back = Lead.objects.get(team=company.team_b, company=original.company)
        for name in services.EDITABLE_FIELDS:
            assert getattr(back, name) == getattr(original, name), name


# --- The preview asks what the file leaves open, and remembers picklist choices ----------------


def _mapping_form(job: Any) -> dict[str, str]:
    form = {f"col_{i}": name for i, name in job.mapping.items()}
    return form | {"mode": "valid_rows", "on_duplicate": "skip", "default_source": "marketing"}


def test_the_preview_asks_about_amounts_and_dates_and_will_not_guess(
    company: Company, client_for: Any
) -> None:
    client = client_for(company.manager_a)
    content = (DATA / "ambiguous_amounts_dates.csv").read_bytes()
    response = client.post(reverse("lead-import"), {"file": SimpleUploadedFile("a.csv", content)})
    page = client.get(response["Location"]).content.decode()
    assert "How are the amounts written? (for example 1,200 · 3,500 · 12,750)" in page
    assert "Which comes first in the dates?" in page
    job = ImportJob.objects.get()
    unanswered = client.post(job.get_absolute_url(), _mapping_form(job))
    assert unanswered.status_code == 422
    assert not Lead.objects.filter(company="Tide Marine").exists()
    answered = client.post(
        job.get_absolute_url(), _mapping_form(job) | {"numbers": "comma", "date_order": "DMY"}
    )
    assert answered.status_code == 302
    job.refresh_from_db()
    assert job.created_count == 3, (job.errors, job.last_error, job.answers)
    tide = Lead.objects.get(company="Tide Marine")
    assert (tide.value, tide.expected_close) == (Decimal("3.5"), dt.date(2026, 2, 4))


def test_picklist_values_are_chosen_on_the_preview_and_remembered(
    company: Company, client_for: Any
) -> None:
    client = client_for(company.manager_a, language="zh-hans")
    content = (DATA / "hubspot_contacts.csv").read_bytes()
    client.post(reverse("lead-import"), {"file": SimpleUploadedFile("h.csv", content)})
    job = ImportJob.objects.get()
    page = client.get(job.get_absolute_url()).content.decode()
    assert "“来源”这一列的值" in page
    asked = questions(job, job.mapping).picklists[0]
    assert dict(asked.values) == {
        "Organic Search": "website",
        "Paid Search": "marketing",
        "Direct Traffic": "brand",
        "Offline Sources": "",
    }
    offline = next(i for i, (text, _v) in enumerate(asked.values) if text == "Offline Sources")
    choice = {f"value_{asked.column}_{offline}": "trade_show"}
    assert client.post(job.get_absolute_url(), _mapping_form(job) | choice).status_code == 302
    assert Lead.objects.get(company="Harbor Freight Co").source == "trade_show"
    # Values the form did not send keep their proposed match.
    assert Lead.objects.get(company="Glacier Water").source == "brand"
    # The next export from the same CRM (same header names) is proposed the same way.
    again = imports.import_upload(
        actor=company.manager_a, upload=SimpleUploadedFile("h2.csv", content)
    )
    assert dict(questions(again, again.mapping).picklists[0].values)["Offline Sources"] == (
        "trade_show"
    )


def test_a_western_excel_file_is_read_as_windows_1252(company: Company) -> None:
    content = (DATA / "german_excel_cp1252.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        content.decode("utf-8")
    job = imports.import_upload(
        actor=company.manager_a, upload=SimpleUploadedFile("de.csv", content)
    )
    assert job.encoding == "cp1252"
    assert job.header[1] == "Ansprechpartner" and imports.preview(job)[0][1][0] == (
        "Müller Bäckerei GmbH"
    )


# --- Numbers and dates: what a column's cells prove -------------------------------------------


@pytest.mark.parametrize(
    ("cells", "style", "amounts"),
    [
        (["1.200.000,50", "35,00"], "comma", ["1200000.5", "35"]),
        (["1 200 000,50", "950"], "comma", ["1200000.5", "950"]),
        (["1,200,000.50", "12"], "point", ["1200000.5", "12"]),
        (["1200000,50", "7"], "comma", ["1200000.5", "7"]),
        (
            ["120万", "￥35万", "一百二十万", "1.5万"],
            "point",
            ["1200000", "350000", "1200000", "15000"],
        ),
        (["1,200", "3,500"], "ask", None),  # thousands or decimals: asked, never guessed
        (["1,200", "1.200,50"], "comma", ["1.2", "1200.5"]),  # one cell settles the column
        (["1,200.50", "1.200,50"], "ask", None),  # contradicting cells: asked
    ],
)
def test_a_columns_number_style_comes_from_all_its_cells(
    cells: list[str], style: str, amounts: list[str] | None
) -> None:
    from crm.imports import values

    profiler = values.Profiler(1)
    for cell in cells:
        profiler.add([cell])
    assert profiler.result()["numbers"].get("0", "point") == style
    if amounts is not None:
        assert [str(values.parse_number(cell, style)) for cell in cells] == amounts


@pytest.mark.parametrize(
    ("cells", "order"),
    [
        (["05/03/2026", "25/03/2026"], "DMY"),
        (["05/03/2026", "03/25/2026"], "MDY"),
        (["05/03/2026", "04/02/2026"], "ask"),
        (["2026-03-05", "2026年3月5日", "2026/3/5"], "DMY"),  # year first: nothing to ask
    ],
)
def test_the_files_date_order_comes_from_all_its_dates(cells: list[str], order: str) -> None:
    from crm.imports import values

    profiler = values.Profiler(1)
    for cell in cells:
        profiler.add([cell])
    assert profiler.result()["date_order"] == order
    assert values.parse_date("2026年3月5日", order) == dt.date(2026, 3, 5)
    assert values.parse_date(46086, order) == dt.date(2026, 3, 5)  # an Excel serial date
