"""Moving a rep to another team announces each lead that went back to the pool, exactly as a
manager taking one lead back does, so the coach can let go of the rep's nudges on it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from django.core.exceptions import ValidationError

from crm import events, services
from crm.models import DomainEvent, LeadEvent, LeadEventKind, Source

if TYPE_CHECKING:
    from tests.conftest import Company


def _outbox_after(mark: int) -> list[tuple[str, dict[str, Any]]]:
    rows = DomainEvent.objects.filter(pk__gt=mark).order_by("pk")
    return [(row.name, row.payload) for row in rows]


def _mark() -> int:
    return DomainEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def test_each_returned_lead_is_announced_like_a_return_to_pool(
    company: Company, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    rep, admin = company.rep_a1, company.admin
    second = services.lead_create(
        actor=rep, data={"company": "Open Paper", "source": Source.TRADE_SHOW}
    )
    mark = _mark()
    sent: list[dict[str, Any]] = []

    def receiver(sender: object, **payload: Any) -> None:
        payload.pop("signal", None)
        sent.append(payload)

    events.lead_handed_down.connect(receiver, weak=False)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert services.rep_move_team(actor=admin, user=rep, team=company.team_b) == 2
    finally:
        events.lead_handed_down.disconnect(receiver)

    expected = [
        {
            "lead_id": pk,
            "actor_id": admin.pk,
            "to_user_id": None,
            "from_user_id": rep.pk,
            "note": "",
        }
        for pk in sorted((company.lead_a1.pk, second.pk))
    ]
    rows = _outbox_after(mark)
    returned = sorted(
        (payload for name, payload in rows if name == "lead_handed_down"),
        key=lambda p: p["lead_id"],
    )
    assert returned == expected
    # The in-process signals go out once the transaction commits, one per lead.
    assert sorted(sent, key=lambda p: p["lead_id"]) == expected
    # The team move itself is still recorded, after the leads it returned.
    assert rows[-1][0] == "rep_moved_team"
    # The same payload lead_return_to_pool sends for one lead.
    services.rep_move_team(actor=admin, user=rep, team=company.team_a)
    lead = company.lead_a1
    services.lead_hand_off(actor=company.manager_a, lead_ids=[lead.pk], to_user=rep)
    mark = _mark()
    services.lead_return_to_pool(actor=company.manager_a, lead=lead)
    assert _outbox_after(mark) == [
        (
            "lead_handed_down",
            {
                "lead_id": lead.pk,
                "actor_id": company.manager_a.pk,
                "to_user_id": None,
                "from_user_id": rep.pk,
                "note": "",
            },
        )
    ]


def test_a_rep_without_open_leads_moves_with_only_the_team_event(company: Company) -> None:
    rep = company.rep_a1
    services.lead_return_to_pool(actor=company.manager_a, lead=company.lead_a1)
    mark = _mark()
    assert services.rep_move_team(actor=company.admin, user=rep, team=company.team_b) == 0
    assert [name for name, _payload in _outbox_after(mark)] == ["rep_moved_team"]
    assert LeadEvent.objects.filter(kind=LeadEventKind.RETURNED, from_user=rep).count() == 1


def test_the_pool_team_has_one_answer(company: Company) -> None:
    assert services.lead_pool_team(actor=company.manager_a) == company.team_a
    assert services.lead_pool_team(actor=company.admin, team=company.team_b) == company.team_b
    with pytest.raises(ValidationError):
        services.lead_pool_team(actor=company.manager_a, team=company.team_b)
    with pytest.raises(ValidationError):
        services.lead_pool_team(actor=company.admin)
    with pytest.raises(ValidationError):
        services.lead_pool_team(actor=company.rep_a1)
