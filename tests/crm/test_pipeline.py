"""The pipeline: the transitions table is the only judge of a stage change, every change is
written to the lead's history, and the domain events go out once, on commit only."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm import events, services
from crm.forms import StageForm
from crm.models import DomainEvent, Lead, LeadEvent, LeadEventKind, Source
from crm.pipeline import CLOSED_STAGES, OPEN_STAGES, TRANSITIONS, Stage, can_move

if TYPE_CHECKING:
    from tests.conftest import Company


def _put_at(lead: Lead, stage: str) -> Lead:
    """Place a lead at `stage` directly (a lost lead always carries a reason)."""
    Lead.objects.filter(pk=lead.pk).update(
        stage=stage, lost_reason="Budget cut" if stage == Stage.LOST else ""
    )
    return Lead.objects.get(pk=lead.pk)


def _walk(lead: Lead, actor: Any, *stages: str, reason: str = "") -> Lead:
    for stage in stages:
        lead = services.lead_change_stage(actor=actor, lead=lead, to_stage=stage, reason=reason)
    return lead


def test_every_stage_is_in_the_transitions_table() -> None:
    assert set(TRANSITIONS) == set(Stage.values)
    assert set(OPEN_STAGES) | set(CLOSED_STAGES) == set(Stage.values)
    assert not set(OPEN_STAGES) & set(CLOSED_STAGES)


def test_the_service_allows_exactly_what_the_table_allows(company: Company) -> None:
    lead = company.lead_a1
    mismatches: list[str] = []
    for from_stage in Stage.values:
        for to_stage in Stage.values:
            _put_at(lead, from_stage)
            events_before = LeadEvent.objects.filter(lead=lead).count()
            try:
                with transaction.atomic():
                    services.lead_change_stage(
                        actor=company.rep_a1, lead=lead, to_stage=to_stage, reason="Budget cut"
                    )
            except ValidationError:
                allowed = False
            else:
                allowed = True
            stored = Lead.objects.get(pk=lead.pk).stage
            new_events = LeadEvent.objects.filter(lead=lead).count() - events_before
            if allowed != can_move(from_stage, to_stage):
                mismatches.append(f"{from_stage} → {to_stage}: service allowed={allowed}")
            expected_stage, expected_events = (to_stage, 1) if allowed else (from_stage, 0)
            if (stored, new_events) != (expected_stage, expected_events):
                mismatches.append(
                    f"{from_stage} → {to_stage}: stored {stored} with {new_events} new events"
                )
    assert mismatches == []


def test_the_stage_form_offers_exactly_what_the_table_allows(company: Company) -> None:
    mismatches: list[str] = []
    for from_stage in Stage.values:
        lead = _put_at(company.lead_a1, from_stage)
        offered = {
            value for value, _label in StageForm(lead=lead).fields["to_stage"].widget.choices
        }
        allowed = {to for to in Stage.values if can_move(from_stage, to)}
        if offered != allowed:
            mismatches.append(f"{from_stage}: offers {sorted(offered)}, allowed {sorted(allowed)}")
    assert mismatches == []


def test_a_won_lead_page_offers_no_stage_change(
    company: Company, client_for: Callable[..., Client]
) -> None:
    lead = _walk(company.lead_a1, company.rep_a1, Stage.QUALIFIED, Stage.PROPOSAL, Stage.WON)
    html = client_for(company.rep_a1).get(lead.get_absolute_url()).content.decode()
    assert "This lead is won: its stage no longer changes." in html
    assert reverse("lead-change-stage", args=[lead.pk]) not in html


def test_the_service_refuses_an_unknown_stage(company: Company) -> None:
    with pytest.raises(ValidationError) as refused:
        services.lead_change_stage(actor=company.rep_a1, lead=company.lead_a1, to_stage="closed")
    assert refused.value.message_dict == {"to_stage": ["Unknown stage."]}
    assert Lead.objects.get(pk=company.lead_a1.pk).stage == Stage.NEW


def test_the_service_names_the_refused_move(company: Company) -> None:
    with pytest.raises(ValidationError) as refused:
        services.lead_change_stage(
            actor=company.rep_a1, lead=company.lead_a1, to_stage=Stage.PROPOSAL
        )
    assert refused.value.message_dict == {"to_stage": ["A lead cannot move from New to Proposal."]}


def test_lost_needs_a_reason(company: Company) -> None:
    lead = company.lead_a1
    for reason in ("", "   "):
        with pytest.raises(ValidationError) as refused:
            services.lead_change_stage(
                actor=company.rep_a1, lead=lead, to_stage=Stage.LOST, reason=reason
            )
        assert refused.value.message_dict == {"reason": ["Say why the lead was lost."]}
    fresh = Lead.objects.get(pk=lead.pk)
    assert (fresh.stage, fresh.lost_reason, fresh.closed_at) == (Stage.NEW, "", None)
    assert not LeadEvent.objects.filter(lead=lead, kind=LeadEventKind.STAGE_CHANGED).exists()


def test_lost_stores_the_reason_and_closes_the_lead(
    company: Company, client_for: Callable[..., Client]
) -> None:
    lead = company.lead_a1
    before = timezone.now()
    response = client_for(company.rep_a1).post(
        reverse("lead-change-stage", args=[lead.pk]),
        {"to_stage": Stage.LOST, "reason": "  Chose a local supplier  "},
    )
    assert response.status_code == 302
    fresh = Lead.objects.get(pk=lead.pk)
    assert fresh.stage == Stage.LOST
    assert fresh.lost_reason == "Chose a local supplier"
    assert fresh.closed_at is not None and fresh.closed_at >= before
    page = client_for(company.rep_a1).get(lead.get_absolute_url()).content.decode()
    assert "Chose a local supplier" in page


def test_won_closes_the_lead(company: Company) -> None:
    lead = _walk(company.lead_a1, company.rep_a1, Stage.QUALIFIED, Stage.PROPOSAL)
    assert lead.closed_at is None
    lead = _walk(lead, company.rep_a1, Stage.WON)
    fresh = Lead.objects.get(pk=lead.pk)
    assert fresh.stage == Stage.WON
    assert fresh.closed_at is not None
    assert not fresh.is_open


def test_reopening_a_lost_lead_clears_the_reason_and_the_close(company: Company) -> None:
    lead = _walk(company.lead_a1, company.rep_a1, Stage.LOST, reason="No budget this year")
    assert lead.closed_at is not None

    lead = _walk(lead, company.rep_a1, Stage.CONTACTED)

    fresh = Lead.objects.get(pk=lead.pk)
    assert (fresh.stage, fresh.lost_reason, fresh.closed_at) == (Stage.CONTACTED, "", None)
    assert fresh.is_open


def test_moving_along_the_pipeline_stamps_the_stage_change(company: Company) -> None:
    lead = company.lead_a1
    before = timezone.now()
    lead = _walk(lead, company.rep_a1, Stage.CONTACTED)
    fresh = Lead.objects.get(pk=lead.pk)
    assert fresh.stage_changed_at >= before
    assert fresh.updated_at >= before


SIGNALS = {
    "stage_changed": events.lead_stage_changed,
    "won": events.lead_won,
    "lost": events.lead_lost,
}


def outbox(lead: Lead) -> list[str]:
    """The stage events recorded for `lead` in the domain-event outbox, oldest first."""
    names = ("lead_stage_changed", "lead_won", "lead_lost")
    rows = DomainEvent.objects.filter(name__in=names).order_by("id")
    return [row.name for row in rows if row.payload.get("lead_id") == lead.pk]


@pytest.fixture
def sent() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every stage-related domain event sent while the test runs, in order."""
    received: list[tuple[str, dict[str, Any]]] = []
    receivers = {}
    for name, signal in SIGNALS.items():

        def receiver(sender: object, _name: str = name, **payload: Any) -> None:
            payload.pop("signal", None)
            received.append((_name, payload))

        receivers[name] = receiver
        signal.connect(receiver, weak=False)
    yield received
    for name, signal in SIGNALS.items():
        signal.disconnect(receivers[name])


def test_won_sends_stage_changed_and_won_once_on_commit(
    company: Company,
    client_for: Callable[..., Client],
    sent: list[tuple[str, dict[str, Any]]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    lead = _put_at(company.lead_a1, Stage.NEGOTIATION)
    rep = client_for(company.rep_a1)

    with django_capture_on_commit_callbacks(execute=True):
        response = rep.post(reverse("lead-change-stage", args=[lead.pk]), {"to_stage": Stage.WON})
        assert response.status_code == 302
        assert sent == [], "sent before the transaction committed"

    base = {"lead_id": lead.pk, "actor_id": company.rep_a1.pk}
    assert sent == [
        ("stage_changed", base | {"from_stage": Stage.NEGOTIATION, "to_stage": Stage.WON}),
        ("won", base | {"handed_by_id": company.manager_a.pk}),
    ]
    assert outbox(lead) == ["lead_stage_changed", "lead_won"]


def test_lost_sends_stage_changed_and_lost_once_on_commit(
    company: Company,
    sent: list[tuple[str, dict[str, Any]]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    lead = company.lead_a1
    with django_capture_on_commit_callbacks(execute=True):
        services.lead_change_stage(
            actor=company.manager_a, lead=lead, to_stage=Stage.LOST, reason=" Went bankrupt "
        )
        assert sent == []

    base = {"lead_id": lead.pk, "actor_id": company.manager_a.pk}
    assert sent == [
        ("stage_changed", base | {"from_stage": Stage.NEW, "to_stage": Stage.LOST}),
        ("lost", base | {"reason": "Went bankrupt"}),
    ]
    assert outbox(lead) == ["lead_stage_changed", "lead_lost"]


def test_an_open_move_sends_only_stage_changed(
    company: Company,
    sent: list[tuple[str, dict[str, Any]]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        services.lead_change_stage(
            actor=company.rep_a1, lead=company.lead_a1, to_stage=Stage.CONTACTED
        )
    assert [name for name, _payload in sent] == ["stage_changed"]


@pytest.mark.parametrize("to_stage", [Stage.WON, Stage.LOST, Stage.QUALIFIED])
def test_no_event_is_sent_when_the_transaction_rolls_back(
    company: Company,
    sent: list[tuple[str, dict[str, Any]]],
    django_capture_on_commit_callbacks: Any,
    to_stage: str,
) -> None:
    lead = _put_at(company.lead_a1, Stage.PROPOSAL)

    class Abort(Exception):
        pass

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(Abort),
        transaction.atomic(),
    ):
        services.lead_change_stage(
            actor=company.rep_a1, lead=lead, to_stage=to_stage, reason="Lost to a rival"
        )
        raise Abort

    assert callbacks == []
    assert sent == []
    assert outbox(lead) == []
    fresh = Lead.objects.get(pk=lead.pk)
    assert (fresh.stage, fresh.closed_at) == (Stage.PROPOSAL, None)
    assert not LeadEvent.objects.filter(lead=lead, kind=LeadEventKind.STAGE_CHANGED).exists()


def test_a_refused_move_sends_no_event(
    company: Company,
    sent: list[tuple[str, dict[str, Any]]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(ValidationError),
    ):
        services.lead_change_stage(
            actor=company.rep_a1, lead=company.lead_a1, to_stage=Stage.PROPOSAL
        )
    assert callbacks == []
    assert sent == []


# --- every service writes the lead's history --------------------------------------------


def test_creating_a_lead_writes_a_created_entry(company: Company) -> None:
    lead = services.lead_create(
        actor=company.rep_a2,
        data={"company": "Foxtrot Pumps", "source": Source.REFERRAL, "value": 800},
    )
    history = list(LeadEvent.objects.filter(lead=lead))
    assert len(history) == 1
    assert history[0].kind == LeadEventKind.CREATED
    assert history[0].actor == company.rep_a2
    assert history[0].to_user == company.rep_a2


def test_updating_a_lead_writes_old_and_new_values(
    company: Company, django_capture_on_commit_callbacks: Any
) -> None:
    lead = company.lead_a1
    received: list[dict[str, Any]] = []

    def receiver(sender: object, **payload: Any) -> None:
        payload.pop("signal", None)
        received.append(payload)

    events.lead_updated.connect(receiver, weak=False)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            services.lead_update(
                actor=company.rep_a1,
                lead=lead,
                data={
                    "company": "Alpha Robotics Group",
                    "value": Decimal("2500.00"),
                    "source": Source.BRAND,  # unchanged: not in the history
                    "next_step": "Demo",
                },
            )
    finally:
        events.lead_updated.disconnect(receiver)

    entry = LeadEvent.objects.filter(lead=lead, kind=LeadEventKind.UPDATED).get()
    assert entry.actor == company.rep_a1
    assert entry.changes == {
        "company": ["Alpha Robotics", "Alpha Robotics Group"],
        "value": ["1000.00", "2500.00"],
        "next_step": ["", "Demo"],
    }
    assert received == [
        {
            "lead_id": lead.pk,
            "actor_id": company.rep_a1.pk,
            "changed": ["company", "next_step", "value"],
        }
    ]


def test_an_update_that_changes_nothing_writes_no_history(company: Company) -> None:
    lead = company.lead_a1
    before = LeadEvent.objects.filter(lead=lead).count()
    services.lead_update(
        actor=company.rep_a1,
        lead=lead,
        data={"company": "Alpha Robotics", "value": Decimal("1000")},
    )
    assert LeadEvent.objects.filter(lead=lead).count() == before


def test_changing_the_stage_writes_from_to_and_reason(company: Company) -> None:
    lead = _walk(company.lead_a1, company.rep_a1, Stage.LOST, reason="Price too high")
    entry = LeadEvent.objects.filter(lead=lead, kind=LeadEventKind.STAGE_CHANGED).get()
    assert (entry.actor, entry.from_stage, entry.to_stage, entry.note) == (
        company.rep_a1,
        Stage.NEW,
        Stage.LOST,
        "Price too high",
    )


def test_the_timeline_shows_the_history_newest_first(
    company: Company, client_for: Callable[..., Client]
) -> None:
    lead = _walk(company.lead_a1, company.rep_a1, Stage.CONTACTED, Stage.QUALIFIED)
    html = client_for(company.rep_a1).get(lead.get_absolute_url()).content.decode()
    qualified = html.index("Stage: Contacted → Qualified")
    contacted = html.index("Stage: New → Contacted")
    handed = html.index("manager_a handed this lead down to rep_a1")
    created = html.index("Lead created")
    assert qualified < contacted < handed < created
