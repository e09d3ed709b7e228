"""The lead export writes each cell as the lead's page shows it (labels in the reader's language,
people and teams by name, times in the reader's zone), now that it streams plain values and
works the labels and names out once per export instead of once per row."""

from __future__ import annotations

import io
import re
import zipfile
from typing import TYPE_CHECKING, Any

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm import exports, services
from crm.models import ChickenRibReason, Lead, Source
from tests.crm.test_export import csv_table, xlsx_table

if TYPE_CHECKING:
    from tests.conftest import Company

pytestmark = pytest.mark.django_db
CJK = re.compile(r"[\u4e00-\u9fff]")


def test_cells_read_as_the_lead_page_shows_them(company: Company, client_for: Any) -> None:
    rep = company.rep_a1
    rep.display_name = "王小明"
    rep.time_zone = "America/New_York"
    rep.save(update_fields=["display_name", "time_zone"])
    services.lead_update(
        actor=company.manager_a,
        lead=company.lead_a1,
        data={
            "source": Source.TRADE_SHOW,
            "is_chicken_rib": True,
            "chicken_rib_reasons": ["competitor", "no_budget"],
        },
    )
    lead = Lead.objects.select_related("owner", "team").get(pk=company.lead_a1.pk)
    client = client_for(rep, language="zh-hans")
    table = csv_table(client.get(reverse("lead-export-csv")))
    cells = dict(zip(exports.COLUMNS, next(r for r in table if r[0] == str(lead.pk)), strict=True))
    sheet = xlsx_table(client.get(reverse("lead-export-xlsx")))
    xlsx_row = next(r for r in sheet if r[0] == lead.pk)
    typed = dict(zip(exports.COLUMNS, xlsx_row + [None] * len(exports.COLUMNS), strict=False))

    with translation.override("zh-hans"):
        stage, source = str(lead.get_stage_display()), str(lead.get_source_display())
        labels = dict(ChickenRibReason.choices)
        reasons = ", ".join(str(labels[code]) for code in ("competitor", "no_budget"))
        yes, no = str(_("yes")), str(_("no"))
    assert all(CJK.search(text) for text in (stage, source, reasons, yes, no))
    for row in (cells, typed):
        assert row["stage"] == stage
        assert row["source"] == source
        assert row["owner"] == "王小明"
        assert row["team"] == "Team A"
        assert row["is_chicken_rib"] == yes
        assert row["chicken_rib_reasons"] == reasons
    # The reader's zone, without the zone: New York is 12 or 13 hours behind Shanghai.
    local = timezone.localtime(lead.created_at, rep.zone).replace(tzinfo=None)
    assert cells["created_at"] == local.strftime("%Y-%m-%d %H:%M")
    assert typed["created_at"].replace(microsecond=0) == local.replace(microsecond=0)
    # A lead in the pool has no owner: an empty cell, not "None".
    manager = client_for(company.manager_a, language="zh-hans")
    pool = csv_table(manager.get(reverse("lead-export-csv") + "?owner=none"))
    assert pool[1][exports.COLUMNS.index("owner")] == ""
    assert pool[1][exports.COLUMNS.index("is_chicken_rib")] == no


def test_date_columns_are_wide_enough_even_when_the_first_rows_have_no_date(
    company: Company, client_for: Any
) -> None:
    """A date at Excel's default width shows as ########: every date column of the lead export
    gets a width, also one no lead of the first rows fills (no expected close or tender)."""
    Lead.objects.update(expected_close=None, tender_date=None, next_step_due=None)
    response = client_for(company.manager_a).get(reverse("lead-export-xlsx"))
    content = b"".join(response.streaming_content)
    sheet = zipfile.ZipFile(io.BytesIO(content)).read("xl/worksheets/sheet1.xml").decode()
    widths = {
        int(m[0]): float(m[1])
        for m in re.findall(r'<col min="(\d+)" max="\1" width="([\d.]+)"', sheet)
    }
    for name in ("expected_close", "tender_date", "next_step_due"):
        assert widths.get(exports.COLUMNS.index(name) + 1, 0) >= 10, name
    for name in ("created_at", "updated_at", "last_activity_at"):
        assert widths.get(exports.COLUMNS.index(name) + 1, 0) >= 16, name
