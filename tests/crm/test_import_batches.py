"""A big import writes its leads in batches while it checks the rows (issue 20): the bar moves
through both halves during the run, a batch costs the same few queries whatever its size, and
whatever refuses the import (a bad row in all-or-nothing mode, a team the importer no longer
manages) leaves nothing behind from the batches already written."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from django.db import connection

from crm import imports
from crm.imports import checking
from crm.models import (
    Company as CompanyRecord,
)
from crm.models import (
    Contact,
    DomainEvent,
    DuplicatePolicy,
    ImportMode,
    ImportState,
    Lead,
    LeadContact,
    LeadEvent,
    LeadEventKind,
    Role,
    Source,
)
from tests.crm.test_import import csv_bytes, imported, rows, run, upload

if TYPE_CHECKING:
    from tests.conftest import Company


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of 10 rows and the checked count every 5, so 40 rows make several batches."""
    monkeypatch.setattr(checking, "WRITE_EVERY", 10)
    monkeypatch.setattr(checking, "PROGRESS_EVERY", 5)


def test_the_bar_moves_through_both_halves_while_the_rows_are_saved(
    company: Company, small_batches: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = imports.import_upload(
        actor=company.manager_a, upload=upload("a.csv", csv_bytes(rows(40)))
    )
    job = imports.import_configure(
        actor=company.manager_a,
        job=job,
        mapping=job.mapping,
        mode=ImportMode.VALID_ROWS,
        on_duplicate=DuplicatePolicy.SKIP,
        default_source=Source.MARKETING,
    )
    seen: list[tuple[int, int, int]] = []  # (checked, saved, percent) as the page would show
    convert = checking.convert_row

    def watched(*args: Any) -> Any:
        running = type(job).objects.get(pk=job.pk)
        seen.append((imports.checked(running), imports.saved(running), imports.progress(running)))
        return convert(*args)

    monkeypatch.setattr(checking, "convert_row", watched)
    done = imports.import_run(job_id=job.pk)
    assert done is not None and done.created_count == 40
    checked = [c for c, _s, _p in seen]
    saved = [s for _c, s, _p in seen]
    percents = [p for _c, _s, p in seen]
    assert checked == sorted(checked) and checked[-1] == 40  # counted every 5 rows
    # Three batches of 10 are handed over before the end; the third may still be on the
    # writer's thread when the last row is checked, the first two are saved.
    assert saved == sorted(saved) and saved[-1] in (20, 30)
    assert percents == sorted(percents) and 0 < percents[-1] < 100
    assert percents[-1] == 50 + saved[-1] * 50 // 40
    # Once done, the counters are gone and the page says 100 %.
    assert imports.progress(done) == 100 and imports.saved(done) == 0


def test_a_batch_costs_the_same_queries_whatever_the_number_of_rows(
    company: Company, django_assert_max_num_queries: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def job_of(count: int, start: int) -> int:
        job = imports.import_upload(
            actor=company.manager_a, upload=upload("a.csv", csv_bytes(rows(count, start)))
        )
        job = imports.import_configure(
            actor=company.manager_a,
            job=job,
            mapping=job.mapping,
            mode=ImportMode.VALID_ROWS,
            on_duplicate=DuplicatePolicy.SKIP,
            default_source=Source.MARKETING,
        )
        return job.pk

    monkeypatch.setattr(checking, "WRITE_EVERY", 1_000)
    small, big = job_of(20, 0), job_of(600, 100)
    # 23: claim, read, lock, the team's keys, the pool check, the batch (companies found and made,
    # the leads, contacts found and made, their links, history, events), audit, the job, then
    # the team's lead tally recounted (a DELETE and an INSERT … SELECT, whatever the batches). On
    # PostgreSQL a batch of COPY_FROM rows or more is copied, each of its five new tables (all
    # but the links) after one query for its ids: 5 more.
    with django_assert_max_num_queries(23):
        imports.import_run(job_id=small)
    with django_assert_max_num_queries(23 + (5 if connection.vendor == "postgresql" else 0)):
        imports.import_run(job_id=big)
    assert len(imported(company)) == 620


def test_all_or_nothing_leaves_nothing_of_the_batches_already_written(
    company: Company, small_batches: None
) -> None:
    table = rows(40)
    table[33][5] = "a lot"  # line 35, after three batches went in
    events, history = DomainEvent.objects.count(), LeadEvent.objects.count()
    job = run(company.manager_a, csv_bytes(table))
    assert (job.state, job.created_count, job.error_count) == (ImportState.DONE, 0, 1)
    assert job.errors[0]["line"] == 35
    assert "Nothing was imported" in job.last_error
    assert imported(company) == []
    assert not CompanyRecord.objects.filter(name__startswith="客户").exists()
    assert not Contact.objects.filter(name__startswith="联系人").exists()
    assert (DomainEvent.objects.count(), LeadEvent.objects.count()) == (events, history)


def test_leads_written_in_batches_have_their_company_contact_and_history(
    company: Company, small_batches: None
) -> None:
    table = [*rows(25), ["客户3号有限公司", "另一个人", "13700000003", "", "展会", "5", ""]]
    job = run(company.manager_a, csv_bytes(table), mode=ImportMode.VALID_ROWS)
    assert job.created_count == 26
    leads = imported(company)
    assert all(lead.account_id for lead in leads)
    # The second contact at 客户3号 is a lead at the same company record, with its own contact.
    same = [lead for lead in leads if lead.company == "客户3号有限公司"]
    assert len(same) == 2 and same[0].account_id == same[1].account_id
    assert {link.contact.name for link in LeadContact.objects.filter(lead__in=same)} == {
        "联系人3",
        "另一个人",
    }
    assert LeadEvent.objects.filter(lead__in=leads, kind=LeadEventKind.CREATED).count() == 26


def test_a_row_merged_into_an_earlier_one_across_batches(
    company: Company, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checking, "WRITE_EVERY", 2)
    table = rows(6)
    table.append(["客户0号有限公司", "", "", "c0@example.cn", "", "", "merged note"])  # line 8
    job = run(
        company.manager_a,
        csv_bytes(table),
        mode=ImportMode.VALID_ROWS,
        on_duplicate=DuplicatePolicy.UPDATE,
    )
    assert (job.created_count, job.updated_count, job.skipped_count) == (6, 0, 0)
    assert "line 2" in job.duplicates[0]["message"]
    assert Lead.objects.get(company="客户0号有限公司").notes == "merged note"


def test_a_team_no_longer_managed_imports_nothing_and_still_reports_every_row(
    company: Company, small_batches: None
) -> None:
    table = rows(30)
    table[21][5] = "a lot"  # line 23
    job = imports.import_upload(actor=company.manager_a, upload=upload("a.csv", csv_bytes(table)))
    job = imports.import_configure(
        actor=company.manager_a,
        job=job,
        mapping=job.mapping,
        mode=ImportMode.VALID_ROWS,
        on_duplicate=DuplicatePolicy.SKIP,
        default_source=Source.MARKETING,
    )
    # Meanwhile an admin made the importer a rep.
    company.manager_a.role = Role.REP
    company.manager_a.save()
    done = imports.import_run(job_id=job.pk)
    assert done is not None and done.state == ImportState.DONE
    assert imported(company) == []
    assert done.created_count == 0
    assert [e["line"] for e in done.errors] == [0, 23]
    assert "Only a manager or an admin" in done.errors[0]["message"]


def test_the_file_read_in_pieces_is_the_file(
    company: Company, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crm.imports import running

    # Pieces of 64 bytes: the rows' Chinese characters (3 bytes each) fall across them.
    monkeypatch.setattr(running, "CONTENT_PIECE", 64)
    content = csv_bytes(rows(30))
    assert len(content) % 64 and len(content) > 64 * 20
    job = run(company.manager_a, content, mode=ImportMode.VALID_ROWS)
    assert (job.created_count, job.error_count) == (30, 0)
    assert {lead.company for lead in imported(company)} == {f"客户{i}号有限公司" for i in range(30)}
    # A file of exactly one piece: the second read is empty and ends it.
    monkeypatch.setattr(running, "CONTENT_PIECE", len(content))
    Lead.objects.filter(created_by=company.manager_a, company__startswith="客户").delete()
    assert run(company.manager_a, content, mode=ImportMode.VALID_ROWS).created_count == 30
