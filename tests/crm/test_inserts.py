"""Many rows saved at once (crm.inserts): on PostgreSQL a batch as big as an import's goes
through COPY, and what is read back is what was saved — every kind of column, the text COPY has
to escape, the ids the objects were given — exactly as bulk_create's rows would be."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from django.utils import timezone

from crm import history
from crm.inserts import COPY_FROM, insert_many
from crm.models import DomainEvent, Lead, LeadEvent, LeadEventKind

if TYPE_CHECKING:
    from tests.conftest import Company

pytestmark = pytest.mark.django_db

AWKWARD = [
    "tab\there",
    "line\nbreak",
    "back\\slash",
    "\\N",
    "引号“”和，逗号",
    "'; DROP TABLE x; --",
    "",
]


def _leads(company: Company, count: int) -> list[Lead]:
    now = timezone.now()
    return [
        Lead(
            company=f"{AWKWARD[i % len(AWKWARD)]} 公司{i}",
            contact_name=AWKWARD[(i + 1) % len(AWKWARD)],
            source="website",
            value=Decimal("1234.50") + i,
            expected_close=dt.date(2026, 1 + i % 12, 1 + i % 28) if i % 2 else None,
            is_chicken_rib=bool(i % 3),
            chicken_rib_reasons=["low_budget"] if i % 3 else [],
            notes=AWKWARD[i % len(AWKWARD)] * 3,
            team=company.team_a,
            created_by=company.manager_a,
            created_at=now,
            updated_at=now,
            stage_changed_at=now,
        )
        for i in range(count)
    ]


def _as_saved(lead: Lead) -> tuple[Any, ...]:
    return (
        lead.company,
        lead.contact_name,
        lead.value,
        lead.expected_close,
        lead.is_chicken_rib,
        lead.chicken_rib_reasons,
        lead.notes,
        lead.team_id,
        lead.created_by_id,
        lead.owner_id,
        lead.created_at,
    )


@pytest.mark.parametrize("count", [3, COPY_FROM + 20])
def test_every_column_reads_back_as_saved_under_the_id_each_lead_was_given(
    company: Company, count: int
) -> None:
    leads = _leads(company, count)
    saved = insert_many(leads)
    assert saved == leads and all(lead.pk and not lead._state.adding for lead in leads)
    assert len({lead.pk for lead in leads}) == count
    stored = Lead.objects.in_bulk([lead.pk for lead in leads])
    assert [_as_saved(stored[lead.pk]) for lead in leads] == [_as_saved(lead) for lead in leads]
    # The table's own sequence moved past them: the next lead made the usual way is new.
    after = Lead.objects.create(
        company="after", source="website", team=company.team_a, created_by=company.manager_a
    )
    assert after.pk > max(lead.pk for lead in leads)


def test_history_and_outbox_rows_of_a_big_batch_point_at_their_leads(company: Company) -> None:
    leads = insert_many(_leads(company, COPY_FROM + 5))
    now = timezone.now()
    entries = history.write(
        history.created(lead=lead, actor=company.admin, at=now) for lead in leads
    )
    insert_many([DomainEvent(name="lead_created", payload={"lead_id": lead.pk}) for lead in leads])
    assert sorted(
        LeadEvent.objects.filter(kind=LeadEventKind.CREATED, lead__in=leads).values_list(
            "pk", "lead_id", "actor_id", "changes"
        )
    ) == sorted((entry.pk, entry.lead_id, company.admin.pk, {}) for entry in entries)
    payloads = DomainEvent.objects.filter(name="lead_created").values_list("payload", flat=True)
    assert {p["lead_id"] for p in payloads} >= {lead.pk for lead in leads}
