"""Importing leads from spreadsheets: every encoding and layout Chinese and English Excel
writes, the column mapping (remembered), row checks with a per-line report, the two modes,
duplicates, the limits, and the background path with its progress bar."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from unittest import mock

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook

from crm import imports, tasks
from crm.models import (
    AuditEntry,
    DomainEvent,
    DuplicatePolicy,
    ImportJob,
    ImportMode,
    ImportState,
    Lead,
    LeadEvent,
    LeadEventKind,
    Source,
)

if TYPE_CHECKING:
    from crm.models import User
    from tests.conftest import Company

HEADER = ["公司名称", "联系人", "手机", "邮箱", "来源", "预计金额", "备注"]


def rows(n: int, start: int = 0) -> list[list[str]]:
    return [
        [
            f"客户{i}号有限公司",
            f"联系人{i}",
            f"139{i:08d}",
            f"c{i}@example.cn",
            "展会",
            f"{1000 + i}",
            "鸡肋？不是",
        ]
        for i in range(start, start + n)
    ]


def csv_bytes(
    table: list[list[str]],
    *,
    encoding: str = "utf-8",
    delimiter: str = ",",
    newline: str = "\r\n",
    header: list[str] = HEADER,
) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(table)
    return out.getvalue().encode(encoding)


def xlsx_bytes(table: list[list[Any]], header: list[str] = HEADER) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(header)
    for row in table:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def run(
    actor: User,
    content: bytes,
    *,
    name: str = "leads.csv",
    mode: str = ImportMode.ALL_OR_NOTHING,
    on_duplicate: str = DuplicatePolicy.SKIP,
    mapping: dict[str, str] | None = None,
) -> ImportJob:
    """Upload, map (the suggested mapping unless given) and run an import, as the pages do."""
    job = imports.import_upload(actor=actor, upload=upload(name, content))
    job = imports.import_configure(
        actor=actor,
        job=job,
        mapping=mapping if mapping is not None else job.mapping,
        mode=mode,
        on_duplicate=on_duplicate,
        default_source=Source.MARKETING,
    )
    result = imports.import_run(job_id=job.pk)
    assert result is not None
    return result


def imported(company: Company) -> list[Lead]:
    return list(Lead.objects.filter(created_by=company.manager_a, company__startswith="客户"))


# --- Encodings and layouts ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "delimiter", "newline", "expected"),
    [
        ("utf-8", ",", "\r\n", "utf-8"),
        ("utf-8-sig", ",", "\r\n", "utf-8-sig"),
        ("gbk", ",", "\r\n", "gb18030"),
        ("utf-8", ";", "\n", "utf-8"),
        ("gbk", ";", "\r\n", "gb18030"),
        ("utf-16", "\t", "\r\n", "utf-16"),
    ],
)
def test_csv_in_every_encoding_and_layout(
    company: Company, encoding: str, delimiter: str, newline: str, expected: str
) -> None:
    content = csv_bytes(rows(3), encoding=encoding, delimiter=delimiter, newline=newline)
    job = run(company.manager_a, content)
    assert (job.encoding, job.delimiter) == (expected, delimiter)
    assert job.state == ImportState.DONE, job.last_error
    assert job.created_count == 3
    lead = Lead.objects.get(company="客户1号有限公司")
    assert (lead.contact_name, lead.phone, lead.email) == (
        "联系人1",
        "13900000001",
        "c1@example.cn",
    )
    assert lead.source == Source.TRADE_SHOW
    assert lead.value == Decimal("1001")
    assert lead.notes == "鸡肋？不是"
    # Imported leads land unassigned in the manager's team pool.
    assert (lead.team, lead.owner, lead.stage) == (company.team_a, None, "new")


def test_gb18030_with_characters_outside_gbk(company: Company) -> None:
    # 𠮷 (U+20BB7) and 㐀 exist in GB18030 only; GBK cannot encode them.
    table = [["𠮷野家餐饮㐀有限公司", "𠮷田", "13800000000", "", "", "", ""]]
    with pytest.raises(UnicodeEncodeError):
        csv_bytes(table, encoding="gbk")
    job = run(company.manager_a, csv_bytes(table, encoding="gb18030"))
    assert job.encoding == "gb18030"
    assert job.created_count == 1
    assert Lead.objects.filter(company="𠮷野家餐饮㐀有限公司", contact_name="𠮷田").exists()


def test_crlf_and_a_quoted_cell_with_line_breaks(company: Company) -> None:
    table = [["Acme, Inc.", "Ann", "", "", "", "", "first line\r\nsecond line"]]
    job = run(company.manager_a, csv_bytes(table))
    assert job.created_count == 1
    assert Lead.objects.get(company="Acme, Inc.").notes == "first line\r\nsecond line"


def test_xlsx_with_typed_cells(company: Company) -> None:
    header = ["Company", "Phone", "Value", "Expected close", "Chicken-rib lead (鸡肋)", "Currency"]
    table = [
        ["Delta Foods", 13912345678, 25000.5, dt.datetime(2026, 9, 30), "no", "USD"],
        ["Echo Pharma", "+86 139 1111 2222", "1.5万", "2026/10/01", "", "人民币"],
    ]
    job = run(company.manager_a, xlsx_bytes(table, header), name="线索.xlsx")
    assert job.file_format == "xlsx"
    assert job.created_count == 2, job.errors
    delta = Lead.objects.get(company="Delta Foods")
    assert delta.phone == "13912345678"
    assert delta.value == Decimal("25000.50")
    assert delta.expected_close == dt.date(2026, 9, 30)
    assert delta.currency == "USD"
    echo = Lead.objects.get(company="Echo Pharma")
    assert (echo.value, echo.expected_close, echo.currency) == (
        Decimal("15000"),
        dt.date(2026, 10, 1),
        "CNY",
    )


def test_every_created_lead_has_its_history_and_event(company: Company) -> None:
    before = DomainEvent.objects.filter(name="lead_created").count()
    job = run(company.manager_a, csv_bytes(rows(5)))
    leads = imported(company)
    assert len(leads) == 5
    assert LeadEvent.objects.filter(lead__in=leads, kind=LeadEventKind.CREATED).count() == 5
    assert DomainEvent.objects.filter(name="lead_created").count() == before + 5
    assert AuditEntry.objects.filter(action="lead.imported", object_id=str(job.pk)).exists()


# --- Mapping ------------------------------------------------------------------------------------


def test_mapping_is_guessed_from_chinese_and_english_headers(company: Company) -> None:
    job = imports.import_upload(actor=company.manager_a, upload=upload("a.csv", csv_bytes(rows(1))))
    assert job.mapping == {
        "0": "company",
        "1": "contact_name",
        "2": "phone",
        "3": "email",
        "4": "source",
        "5": "value",
        "6": "notes",
    }


def test_the_users_last_mapping_is_remembered(company: Company) -> None:
    header = ["Kundschaft", "Rufnummer", "Sonstiges"]
    content = csv_bytes([["Foxtrot GmbH", "0301234567", "x"]], header=header)
    first = imports.import_upload(actor=company.manager_a, upload=upload("de.csv", content))
    assert first.mapping == {}  # nothing to guess from these headers
    run(company.manager_a, content, mapping={"0": "company", "1": "phone", "2": ""})
    again = imports.import_upload(actor=company.manager_a, upload=upload("de2.csv", content))
    assert again.mapping == {"0": "company", "1": "phone"}
    # Only for the user who made it.
    other = imports.import_upload(actor=company.manager_b, upload=upload("de.csv", content))
    assert other.mapping == {}


def test_mapping_needs_the_company_column_and_each_field_once(company: Company) -> None:
    job = imports.import_upload(actor=company.manager_a, upload=upload("a.csv", csv_bytes(rows(1))))
    configure = {
        "actor": company.manager_a,
        "job": job,
        "mode": ImportMode.VALID_ROWS,
        "on_duplicate": DuplicatePolicy.SKIP,
        "default_source": Source.MARKETING,
    }
    with pytest.raises(imports.ValidationError) as missing:
        imports.import_configure(mapping={"1": "contact_name"}, **configure)
    assert "company" in missing.value.messages[0]
    with pytest.raises(imports.ValidationError) as twice:
        imports.import_configure(mapping={"0": "company", "1": "company"}, **configure)
    assert "two columns" in twice.value.messages[0]
    job.refresh_from_db()
    assert job.state == ImportState.UPLOADED


# --- Row checks and the two modes ---------------------------------------------------------------


def _ten_thousand_with_one_bad_row() -> bytes:
    table = rows(10_000)
    table[4_321][5] = "a lot"  # line 4,323: the header is line 1
    return csv_bytes(table)


def test_all_or_nothing_imports_nothing_and_reports_the_line(company: Company) -> None:
    job = run(company.manager_a, _ten_thousand_with_one_bad_row())
    assert job.state == ImportState.DONE
    assert job.created_count == 0
    assert job.error_count == 1
    assert imported(company) == []
    [error] = job.errors
    assert (error["line"], error["column"], error["field"]) == (4323, "预计金额", "estimated value")
    assert "amount" in error["message"]
    assert "Nothing was imported" in job.last_error


def test_valid_rows_mode_imports_the_other_9999(company: Company) -> None:
    job = run(company.manager_a, _ten_thousand_with_one_bad_row(), mode=ImportMode.VALID_ROWS)
    assert job.state == ImportState.DONE
    assert (job.created_count, job.error_count) == (9_999, 1)
    assert job.errors[0]["line"] == 4323
    assert len(imported(company)) == 9_999
    assert not Lead.objects.filter(company="客户4321号有限公司").exists()
    assert bytes(job.content) == b""  # the file is not kept once the job is done


def test_row_errors_name_line_field_and_message_in_the_users_language(
    company: Company,
) -> None:
    company.manager_a.language = "zh-hans"
    company.manager_a.save()
    header = ["Company", "Email", "Next step due", "Source", "Chicken-rib reasons"]
    table = [
        ["", "a@example.com", "", "", ""],  # line 2: no company
        ["Golf", "not-an-email", "", "", ""],  # line 3
        ["Hotel", "", "2026-13-40", "", ""],  # line 4: bad date
        ["India", "", "2026-05-01", "", ""],  # line 5: a due date without a next step
        ["Juliet", "", "", "carrier pigeon", ""],  # line 6: unknown source
        ["Kilo", "", "", "", "Competitor entrenched、no_budget"],  # line 7: fine
    ]
    job = run(company.manager_a, csv_bytes(table, header=header), mode=ImportMode.VALID_ROWS)
    lines = {(e["line"], e["field"]) for e in job.errors}
    assert lines == {(2, "公司"), (3, "邮箱"), (4, "下一步截止日期"), (5, "下一步")}
    assert job.created_count == 2
    juliet = Lead.objects.get(company="Juliet")
    assert juliet.source == job.default_source and "carrier pigeon" in juliet.notes
    kilo = Lead.objects.get(company="Kilo")
    assert kilo.is_chicken_rib
    assert kilo.chicken_rib_reasons == ["competitor", "no_budget"]
    assert all(e["message"] and e["message"].isascii() is False for e in job.errors)


def test_the_error_report_downloads_as_csv(company: Company, client_for: Any) -> None:
    job = run(company.manager_a, _ten_thousand_with_one_bad_row())
    response = client_for(company.manager_a).get(reverse("lead-import-errors", args=[job.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = response.content.decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == ["Line", "Column", "Field", "Problem", *HEADER]
    assert table[1][:3] == ["4323", "预计金额", "estimated value"]
    # The refused row itself, as it was in the file, to be fixed and imported again.
    expected = rows(1, start=4321)[0]
    expected[5] = "a lot"
    assert table[1][4:] == expected
    # Nobody else's report.
    other = client_for(company.manager_b).get(reverse("lead-import-errors", args=[job.pk]))
    assert other.status_code == 404


# --- Duplicates ---------------------------------------------------------------------------------


def _duplicates_file(company: Company) -> bytes:
    table = [
        ["Pool Foods Ltd", "New Contact", "13800000001", "", "", "5000", ""],  # new
        ["pool  foods", "Changed", "", "", "", "7777", ""],  # company of lead_a_pool
        ["Other Co", "", "", "POOL@example.com", "", "", ""],  # email of lead_a_pool
        ["Again Co", "", "13800000001", "", "", "", "merged note"],  # phone of line 2
        ["Bravo Medical", "", "", "", "", "", ""],  # team B's lead: not a duplicate here
    ]
    return csv_bytes(table)


def test_duplicates_are_skipped(company: Company) -> None:
    pool = company.lead_a_pool
    pool.email = "pool@example.com"
    pool.save()
    job = run(company.manager_a, _duplicates_file(company), on_duplicate=DuplicatePolicy.SKIP)
    assert (job.created_count, job.updated_count, job.skipped_count) == (2, 0, 3)
    assert {d["line"] for d in job.duplicates} == {3, 4, 5}
    pool.refresh_from_db()
    assert pool.contact_name == ""
    assert Lead.objects.filter(company="Bravo Medical", team=company.team_a).exists()
    assert not Lead.objects.filter(company__in=["Other Co", "Again Co"]).exists()
    # Skipping one of two rows matching the file's own line 2 ...
    dup = next(d for d in job.duplicates if d["line"] == 5)
    assert "line 2" in dup["message"]


def test_duplicates_update_the_existing_lead(company: Company) -> None:
    pool = company.lead_a_pool
    pool.email = "pool@example.com"
    pool.save()
    job = run(company.manager_a, _duplicates_file(company), on_duplicate=DuplicatePolicy.UPDATE)
    assert (job.created_count, job.updated_count, job.skipped_count) == (2, 1, 0)
    pool.refresh_from_db()
    # Both matching rows (lines 3 and 4) update it; empty cells leave fields alone.
    assert pool.contact_name == "Changed"
    assert pool.value == Decimal("7777")
    assert pool.company == "Other Co"  # the last row's company wins
    assert pool.events.filter(kind=LeadEventKind.UPDATED).count() == 1
    merged = Lead.objects.get(company="Again Co")  # line 5 merged into line 2
    assert (merged.contact_name, merged.notes) == ("New Contact", "merged note")


# --- Limits and bad files -----------------------------------------------------------------------


def test_size_limit_in_the_users_language(company: Company, client_for: Any, settings: Any) -> None:
    settings.KAOPU_IMPORT_MAX_BYTES = 1024
    client = client_for(company.manager_a, language="zh-hans")
    response = client.post(
        reverse("lead-import"), {"file": upload("big.csv", csv_bytes(rows(100)))}
    )
    assert response.status_code == 422
    body = response.content.decode()
    assert "1.0 KB" in body
    assert "文件大小为" in body
    assert not ImportJob.objects.exists()


def test_row_limit(company: Company, settings: Any) -> None:
    settings.KAOPU_IMPORT_MAX_ROWS = 50
    with pytest.raises(imports.ValidationError) as error:
        imports.import_upload(actor=company.manager_a, upload=upload("a.csv", csv_bytes(rows(51))))
    assert "more than 50 rows" in error.value.messages[0]
    job = imports.import_upload(
        actor=company.manager_a, upload=upload("a.csv", csv_bytes(rows(50)))
    )
    assert job.row_count == 50


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "Old .xls"),
        ("broken.xlsx", b"PK\x03\x04 not really a zip", "not an XLSX file"),
        ("empty.csv", b"", "empty"),
        ("header.csv", "公司\r\n".encode(), "no rows"),
        ("latin.csv", "Company\r\nCaf\xe9 \x81\xff\r\n".encode("latin-1"), "cannot read"),
    ],
)
def test_unreadable_files_are_refused_with_a_reason(
    company: Company, name: str, content: bytes, message: str
) -> None:
    with pytest.raises(imports.ValidationError) as error:
        imports.import_upload(actor=company.manager_a, upload=upload(name, content))
    assert message in " ".join(error.value.messages)


def test_only_managers_and_admins_import(company: Company, client_for: Any) -> None:
    for user in (company.rep_a1, company.director):
        response = client_for(user).get(reverse("lead-import"))
        assert response.status_code == 302
        with pytest.raises(imports.ValidationError):
            imports.import_upload(actor=user, upload=upload("a.csv", csv_bytes(rows(1))))
    # An admin chooses the team.
    job = imports.import_upload(
        actor=company.admin, upload=upload("a.csv", csv_bytes(rows(1))), team=company.team_b
    )
    assert job.team == company.team_b


def test_a_job_is_only_its_owners(company: Company, client_for: Any) -> None:
    job = imports.import_upload(actor=company.manager_a, upload=upload("a.csv", csv_bytes(rows(1))))
    for user in (company.manager_b, company.admin, company.rep_a1):
        assert client_for(user).get(job.get_absolute_url()).status_code == 404


# --- The pages, small file: upload, map, result -------------------------------------------------


def test_the_whole_flow_on_the_pages(company: Company, client_for: Any) -> None:
    client = client_for(company.manager_a)
    page = client.get(reverse("lead-list"))
    assert reverse("lead-import") in page.content.decode()
    response = client.post(reverse("lead-import"), {"file": upload("a.csv", csv_bytes(rows(3)))})
    assert response.status_code == 302
    job = ImportJob.objects.get()
    mapping_page = client.get(response["Location"])
    body = mapping_page.content.decode()
    assert "客户0号有限公司" in body  # the preview
    assert 'value="company" selected' in body  # the suggested mapping
    form = {f"col_{i}": field for i, field in job.mapping.items()}
    form |= {"mode": "valid_rows", "on_duplicate": "skip", "default_source": "marketing"}
    done = client.post(job.get_absolute_url(), form)
    assert done.status_code == 302
    result = client.get(done["Location"]).content.decode()
    assert "3 leads created" in result
    assert len(imported(company)) == 3


# --- Big files: the background path -------------------------------------------------------------


def test_big_files_are_queued_not_run_in_the_request(
    company: Company, client_for: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.KAOPU_IMPORT_BACKGROUND_ROWS = 5
    client = client_for(company.manager_a)
    client.post(reverse("lead-import"), {"file": upload("a.csv", csv_bytes(rows(20)))})
    job = ImportJob.objects.get()
    form = {f"col_{i}": field for i, field in job.mapping.items()}
    form |= {"mode": "valid_rows", "on_duplicate": "skip", "default_source": "marketing"}
    with (
        mock.patch.object(tasks, "publish_import") as publish,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(job.get_absolute_url(), form)
        page = client.get(response["Location"]).content.decode()
    job.refresh_from_db()
    assert job.state == ImportState.PENDING
    assert imported(company) == []
    assert "<progress" in page and "every 1s" in page
    _wait_for(lambda: publish.called)
    publish.assert_called_once_with(job.pk)

    # The worker runs the task: one service call with the job's id.
    assert tasks.run_import(job.pk) == ImportState.DONE
    assert len(imported(company)) == 20
    # Delivered twice (acks_late): the second run changes nothing.
    assert tasks.run_import(job.pk) == "not waiting"
    assert len(imported(company)) == 20


def _wait_for(predicate: Any, timeout: float = 5) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert predicate()


def test_a_broker_that_is_down_costs_the_request_nothing(company: Company, caplog: Any) -> None:
    with mock.patch.object(
        tasks.run_import, "apply_async", side_effect=ConnectionRefusedError("no broker")
    ):
        tasks.publish_import(12345)
    assert "the sweep will start it" in caplog.text


def test_progress_partial_updates_while_running(company: Company, client_for: Any) -> None:
    job = imports.import_upload(
        actor=company.manager_a, upload=upload("a.csv", csv_bytes(rows(40)))
    )
    ImportJob.objects.filter(pk=job.pk).update(state=ImportState.RUNNING, processed=10)
    client = client_for(company.manager_a)
    url = reverse("lead-import-progress", args=[job.pk])
    partial = client.get(url, headers={"HX-Request": "true"})
    body = partial.content.decode()
    assert partial.status_code == 200
    assert "<html" not in body  # the region only
    assert 'id="import-progress"' in body
    assert 'value="12"' in body  # 10 of 40 rows checked: 12 % (checking is half the work)
    assert "Checked 10 of 40 rows" in body
    assert 'hx-trigger="every 1s"' in body
    assert "HX-Refresh" not in partial
    # While the leads are saved (in one transaction) the bar still moves, through the cache.
    ImportJob.objects.filter(pk=job.pk).update(processed=40)
    cache.set(f"import-saved-{job.pk}", 20)
    saving = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert 'value="75"' in saving and "Saved 20 of 40 rows" in saving

    ImportJob.objects.filter(pk=job.pk).update(state=ImportState.PENDING)
    imports.import_run(job_id=job.pk)
    finished = client.get(url, headers={"HX-Request": "true"})
    assert finished["HX-Refresh"] == "true"
    assert "every 1s" not in finished.content.decode()
    assert 'value="100"' in finished.content.decode()
    assert client_for(company.manager_b).get(url).status_code == 404


def test_the_sweep_picks_up_lost_and_dead_jobs(company: Company) -> None:
    from django.utils import timezone

    now = timezone.now()
    make = lambda: imports.import_upload(  # noqa: E731
        actor=company.manager_a, upload=upload("a.csv", csv_bytes(rows(2)))
    )
    lost, fresh, dead, dead_often, abandoned = make(), make(), make(), make(), make()
    ImportJob.objects.filter(pk=abandoned.pk).update(created_at=now - dt.timedelta(days=8))
    ImportJob.objects.filter(pk=lost.pk).update(
        state=ImportState.PENDING, queued_at=now - dt.timedelta(minutes=5)
    )
    ImportJob.objects.filter(pk=fresh.pk).update(state=ImportState.PENDING, queued_at=now)
    ImportJob.objects.filter(pk=dead.pk).update(
        state=ImportState.RUNNING, started_at=now - dt.timedelta(hours=1), attempts=1
    )
    ImportJob.objects.filter(pk=dead_often.pk).update(
        state=ImportState.RUNNING, started_at=now - dt.timedelta(hours=1), attempts=3
    )
    assert sorted(imports.import_sweep(now=now)) == sorted([lost.pk, dead.pk])
    dead_often.refresh_from_db()
    assert dead_often.state == ImportState.FAILED
    assert not ImportJob.objects.filter(pk=abandoned.pk).exists()
    assert ImportJob.objects.filter(pk=fresh.pk, state=ImportState.PENDING).exists()

    with mock.patch.object(tasks.run_import, "delay") as delay:
        assert tasks.sweep_imports() == 2
    assert {call.args[0] for call in delay.call_args_list} == {lost.pk, dead.pk}


def test_a_crash_while_running_imports_nothing_and_can_run_again(company: Company) -> None:
    job = imports.import_upload(actor=company.manager_a, upload=upload("a.csv", csv_bytes(rows(5))))
    job = imports.import_configure(
        actor=company.manager_a,
        job=job,
        mapping=job.mapping,
        mode=ImportMode.VALID_ROWS,
        on_duplicate=DuplicatePolicy.SKIP,
        default_source=Source.MARKETING,
    )
    with mock.patch.object(imports.audit, "record", side_effect=RuntimeError("disk full")):
        failed = imports.import_run(job_id=job.pk)
    assert failed is not None and failed.state == ImportState.FAILED
    assert "unexpected error" in failed.last_error
    assert imported(company) == []
