"""Handing leads down: the service, the hand-off page, and moving a rep to another team."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.translation import gettext

from crm import events, services
from crm.models import Lead, LeadEvent, LeadEventKind, Outcome, Source, TeamMembership, User
from crm.pipeline import Stage
from tests.factories import lead_new

if TYPE_CHECKING:
    from tests.conftest import Company

NOTE = "Practice lead — report to me weekly"


def _new_lead(actor: User, company: str, **data: Any) -> Lead:
    return lead_new(actor, company, **({"source": Source.TRADE_SHOW, "value": 5000} | data))


def _win(lead: Lead, actor: User) -> None:
    for stage in (Stage.QUALIFIED, Stage.PROPOSAL, Stage.WON):
        services.lead_change_stage(actor=actor, lead=lead, to_stage=stage)


def _state(*leads: Lead) -> list[tuple[object, ...]]:
    """What a hand-off would change: owner, handed_by, handed_at, and the history."""
    rows = []
    for lead in leads:
        fresh = Lead.objects.get(pk=lead.pk)
        rows.append(
            (
                fresh.owner_id,
                fresh.handed_by_id,
                fresh.handed_at,
                LeadEvent.objects.filter(lead=lead).count(),
            )
        )
    return rows


@pytest.fixture
def pool(company: Company) -> list[Lead]:
    """Three unassigned leads in team A's pool."""
    return [
        company.lead_a_pool,
        _new_lead(company.manager_a, "Canton Valves"),
        _new_lead(company.manager_a, "Delta Optics"),
    ]


@pytest.fixture
def handed_down() -> Iterator[list[dict[str, Any]]]:
    """Every lead_handed_down event sent while the test runs."""
    received: list[dict[str, Any]] = []

    def receiver(sender: object, **payload: Any) -> None:
        payload.pop("signal", None)
        received.append({"sender": sender, **payload})

    events.lead_handed_down.connect(receiver, weak=False)
    yield received
    events.lead_handed_down.disconnect(receiver)


def test_manager_hands_several_leads_at_once_with_a_note(
    company: Company, client_for: Callable[..., Client], pool: list[Lead]
) -> None:
    manager = client_for(company.manager_a)
    before = timezone.now()

    response = manager.post(
        reverse("lead-handoff"),
        {"leads": [str(lead.pk) for lead in pool], "to_user": company.rep_a2.pk, "note": NOTE},
    )

    assert response.status_code == 302
    page = manager.get(response["Location"]).content.decode()
    assert "3 leads handed to rep_a2." in page
    for lead in pool:
        lead.refresh_from_db()
        assert lead.owner == company.rep_a2
        assert lead.handed_by == company.manager_a
        assert lead.handed_at is not None and lead.handed_at >= before
        history = list(LeadEvent.objects.filter(lead=lead, kind=LeadEventKind.HANDED_DOWN))
        assert len(history) == 1
        assert history[0].actor == company.manager_a
        assert history[0].to_user == company.rep_a2
        assert history[0].from_user is None
        assert history[0].note == NOTE

    rep = client_for(company.rep_a2)
    listing = rep.get(reverse("lead-list")).content.decode()
    for lead in pool:
        assert lead.company in listing
    detail = rep.get(reverse("lead-detail", args=[pool[1].pk])).content.decode()
    assert "manager_a handed this lead down to rep_a2" in detail
    assert escape(NOTE) in detail


def test_reassigning_keeps_both_hand_offs_in_the_history(
    company: Company, client_for: Callable[..., Client]
) -> None:
    lead = company.lead_a1  # handed down to rep_a1 by the fixture

    response = client_for(company.manager_a).post(
        reverse("lead-handoff") + "?show=all",
        {"leads": [lead.pk], "to_user": company.rep_a2.pk, "note": "rep_a1 is on leave"},
    )

    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.owner == company.rep_a2
    history = list(LeadEvent.objects.filter(lead=lead).order_by("created_at", "id"))
    assert [event.kind for event in history] == [
        LeadEventKind.CREATED,
        LeadEventKind.HANDED_DOWN,
        LeadEventKind.REASSIGNED,
    ]
    assert history[1].to_user == company.rep_a1
    assert history[2].from_user == company.rep_a1
    assert history[2].to_user == company.rep_a2
    assert history[2].note == "rep_a1 is on leave"
    page = client_for(company.rep_a2).get(reverse("lead-detail", args=[lead.pk]))
    html = page.content.decode()
    assert "manager_a reassigned this lead from rep_a1 to rep_a2" in html
    assert "manager_a handed this lead down to rep_a1" in html
    assert "rep_a1 is on leave" in html
    # The lead is no longer rep_a1's.
    assert client_for(company.rep_a1).get(lead.get_absolute_url()).status_code == 404


def test_handing_a_lead_to_its_current_owner_changes_nothing(company: Company) -> None:
    before = _state(company.lead_a1)
    moved = services.lead_hand_off(
        actor=company.manager_a, lead_ids=[company.lead_a1.pk], to_user=company.rep_a1
    )
    assert moved == 0
    assert _state(company.lead_a1) == before


@pytest.mark.parametrize("role", ["rep_a1", "director"])
def test_reps_and_directors_are_sent_away_from_the_hand_off_page(
    company: Company, client_for: Callable[..., Client], role: str
) -> None:
    lead = company.lead_a_pool
    before = _state(lead)
    client = client_for(company.people[role])

    assert client.get(reverse("lead-handoff"))["Location"] == reverse("lead-list")
    response = client.post(
        reverse("lead-handoff"), {"leads": [lead.pk], "to_user": company.rep_a1.pk, "note": "x"}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("lead-list")
    assert (
        "Only a manager can hand leads down." in client.get(response["Location"]).content.decode()
    )
    assert _state(lead) == before


@pytest.mark.parametrize("role", ["rep_a1", "director", "other_director"])
def test_only_managers_and_admins_may_hand_leads_down(company: Company, role: str) -> None:
    lead = company.lead_a_pool
    before = _state(lead)
    with pytest.raises(ValidationError) as refused:
        services.lead_hand_off(
            actor=company.people[role], lead_ids=[lead.pk], to_user=company.rep_a1
        )
    assert refused.value.messages == ["Only a manager can hand leads down."]
    assert _state(lead) == before


def test_manager_cannot_hand_to_another_teams_rep(
    company: Company, client_for: Callable[..., Client], pool: list[Lead]
) -> None:
    before = _state(*pool)

    response = client_for(company.manager_a).post(
        reverse("lead-handoff"),
        {"leads": [lead.pk for lead in pool], "to_user": company.rep_b1.pk, "note": NOTE},
    )

    assert response.status_code == 422
    assert "You can only hand leads to a rep of your own team." in response.content.decode()
    assert _state(*pool) == before
    with pytest.raises(ValidationError) as refused:
        services.lead_hand_off(
            actor=company.manager_a, lead_ids=[pool[0].pk], to_user=company.rep_b1
        )
    assert refused.value.messages == ["You can only hand leads to a rep of your own team."]
    assert _state(*pool) == before


def test_manager_cannot_hand_another_teams_lead(
    company: Company, client_for: Callable[..., Client]
) -> None:
    mine, theirs = company.lead_a_pool, company.lead_b1
    before = _state(mine, theirs)

    response = client_for(company.manager_a).post(
        reverse("lead-handoff"),
        {"leads": [mine.pk, theirs.pk], "to_user": company.rep_a1.pk, "note": ""},
    )

    assert response.status_code == 422
    assert "Some of the chosen leads are not in your team." in response.content.decode()
    assert _state(mine, theirs) == before
    with pytest.raises(ValidationError):
        services.lead_hand_off(
            actor=company.manager_a, lead_ids=[mine.pk, theirs.pk], to_user=company.rep_a1
        )
    assert _state(mine, theirs) == before


def test_admin_cannot_hand_a_lead_to_a_rep_of_another_team(company: Company) -> None:
    before = _state(company.lead_b1)
    with pytest.raises(ValidationError) as refused:
        services.lead_hand_off(
            actor=company.admin, lead_ids=[company.lead_b1.pk], to_user=company.rep_a1
        )
    assert refused.value.messages == ["Bravo Medical is not in rep_a1's team."]
    assert _state(company.lead_b1) == before


def test_a_won_lead_cannot_be_handed_down(
    company: Company, client_for: Callable[..., Client]
) -> None:
    lead = company.lead_a1
    _win(lead, company.rep_a1)
    before = _state(lead)

    response = client_for(company.manager_a).post(
        reverse("lead-handoff") + "?show=all",
        {"leads": [lead.pk], "to_user": company.rep_a2.pk, "note": ""},
    )

    assert response.status_code == 422
    assert _state(lead) == before
    with pytest.raises(ValidationError) as refused:
        services.lead_hand_off(actor=company.manager_a, lead_ids=[lead.pk], to_user=company.rep_a2)
    assert refused.value.messages == ["Alpha Robotics is closed; reopen it before handing it down."]
    assert _state(lead) == before
    # Closed leads are not offered for hand-off at all.
    page = client_for(company.manager_a).get(reverse("lead-handoff") + "?show=all")
    assert f'value="{lead.pk}"' not in page.content.decode()


def test_hand_off_page_offers_the_pool_and_the_teams_reps_only(
    company: Company, client_for: Callable[..., Client], pool: list[Lead]
) -> None:
    html = client_for(company.manager_a).get(reverse("lead-handoff")).content.decode()
    for lead in pool:
        assert f'name="leads" value="{lead.pk}"' in html
    for lead in (company.lead_a1, company.lead_a2, company.lead_b1):
        assert f'name="leads" value="{lead.pk}"' not in html
    assert f'name="to_user" value="{company.rep_a1.pk}"' in html
    assert f'name="to_user" value="{company.rep_a2.pk}"' in html
    assert f'name="to_user" value="{company.rep_b1.pk}"' not in html


def test_hand_off_event_is_sent_on_commit_with_the_right_ids(
    company: Company,
    pool: list[Lead],
    handed_down: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    reassigned = company.lead_a1
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.lead_hand_off(
            actor=company.manager_a,
            lead_ids=[pool[0].pk, pool[1].pk, reassigned.pk],
            to_user=company.rep_a2,
            note=f"  {NOTE}  ",
        )
        assert handed_down == [], "sent before the transaction committed"

    assert len(callbacks) == 3
    expected = [
        {
            "sender": events.lead_handed_down,
            "lead_id": lead.pk,
            "actor_id": company.manager_a.pk,
            "to_user_id": company.rep_a2.pk,
            "from_user_id": previous,
            "note": NOTE,
        }
        for lead, previous in (
            (pool[0], None),
            (pool[1], None),
            (reassigned, company.rep_a1.pk),
        )
    ]
    assert sorted(handed_down, key=lambda e: e["lead_id"]) == sorted(
        expected, key=lambda e: e["lead_id"]
    )


def test_a_refused_hand_off_sends_no_event(
    company: Company,
    pool: list[Lead],
    handed_down: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(ValidationError),
    ):
        services.lead_hand_off(
            actor=company.manager_a, lead_ids=[pool[0].pk], to_user=company.rep_b1
        )
    assert callbacks == []
    assert handed_down == []


@pytest.fixture
def moved_rep(company: Company) -> dict[str, Lead]:
    """rep_a1 worked lead_a1, won a lead of their own, then an admin moved them to team B."""
    rep = company.rep_a1
    services.activity_log(
        actor=rep,
        lead=company.lead_a1,
        kind="visit",
        outcome=Outcome.INTERESTED,
        note="Met the plant manager in Suzhou",
        happened_at=timezone.now() - timedelta(days=2),
    )
    won = _new_lead(rep, "Won Textiles")
    _win(won, rep)
    lost = _new_lead(rep, "Lost Ceramics")
    services.lead_change_stage(actor=rep, lead=lost, to_stage=Stage.LOST, reason="Price")
    second_open = _new_lead(rep, "Open Paper")
    returned = services.rep_move_team(actor=company.admin, user=rep, team=company.team_b)
    assert returned == 2
    return {"open": company.lead_a1, "second_open": second_open, "won": won, "lost": lost}


def test_moving_a_rep_keeps_their_team_history(
    company: Company, client_for: Callable[..., Client], moved_rep: dict[str, Lead]
) -> None:
    rep = User.objects.get(pk=company.rep_a1.pk)
    assert rep.team == company.team_b
    memberships = list(TeamMembership.objects.filter(user=rep).order_by("joined_at", "id"))
    assert [m.team for m in memberships] == [company.team_a, company.team_b]
    assert memberships[0].left_at is not None
    assert memberships[1].left_at is None
    profile = client_for(rep).get(reverse("profile")).content.decode()
    assert "Team A" in profile
    assert "Team B" in profile


def test_moving_a_rep_returns_open_leads_to_the_old_team_pool(
    company: Company, client_for: Callable[..., Client], moved_rep: dict[str, Lead]
) -> None:
    for key in ("open", "second_open"):
        lead = Lead.objects.get(pk=moved_rep[key].pk)
        assert lead.owner is None
        assert lead.team == company.team_a
        returned = LeadEvent.objects.get(lead=lead, kind=LeadEventKind.RETURNED)
        assert returned.from_user == company.rep_a1
        assert returned.actor == company.admin
    pool_page = client_for(company.manager_a).get(reverse("lead-handoff")).content.decode()
    assert f'name="leads" value="{moved_rep["open"].pk}"' in pool_page
    assert f'name="leads" value="{moved_rep["second_open"].pk}"' in pool_page
    rep = client_for(company.rep_a1)
    assert rep.get(moved_rep["open"].get_absolute_url()).status_code == 404


def test_moving_a_rep_leaves_closed_leads_with_the_rep(
    company: Company, client_for: Callable[..., Client], moved_rep: dict[str, Lead]
) -> None:
    for key in ("won", "lost"):
        lead = Lead.objects.get(pk=moved_rep[key].pk)
        assert lead.owner == company.rep_a1
        assert not LeadEvent.objects.filter(lead=lead, kind=LeadEventKind.RETURNED).exists()
    rep = client_for(company.rep_a1)
    assert rep.get(moved_rep["won"].get_absolute_url()).status_code == 200
    assert "Won Textiles" in rep.get(reverse("lead-list")).content.decode()


def test_the_moved_reps_work_stays_on_the_lead_timeline(
    company: Company, client_for: Callable[..., Client], moved_rep: dict[str, Lead]
) -> None:
    page = client_for(company.manager_a).get(moved_rep["open"].get_absolute_url())
    html = page.content.decode()
    assert "Met the plant manager in Suzhou" in html
    assert "rep_a1" in html
    assert "Returned to the team pool" in html


def test_the_returned_note_reads_in_the_readers_language(
    company: Company, client_for: Callable[..., Client]
) -> None:
    with translation.override("en"):
        services.rep_move_team(actor=company.admin, user=company.rep_a1, team=company.team_b)
    html = client_for(company.manager_a, "zh-hans").get(company.lead_a1.get_absolute_url())
    with translation.override("zh-hans"):
        expected = gettext("%(rep)s moved to %(team)s.")
    # Guards the test itself: without the translation, English would pass as "Chinese".
    assert expected != "%(rep)s moved to %(team)s."
    assert escape(expected % {"rep": "rep_a1", "team": "Team B"}) in html.content.decode()


def test_only_an_admin_moves_reps(company: Company) -> None:
    with pytest.raises(ValidationError):
        services.rep_move_team(actor=company.manager_a, user=company.rep_a1, team=company.team_b)
    assert User.objects.get(pk=company.rep_a1.pk).team == company.team_a
    assert Lead.objects.get(pk=company.lead_a1.pk).owner == company.rep_a1
