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
from crm.models import DuplicatePolicy, ImportMode, Lead, Source
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
    for original in (tricky, plain):
        back = Lead.objects.get(team=company.team_b, company=original.company)
        for name in services.EDITABLE_FIELDS:
            assert getattr(back, name) == getattr(original, name), name
