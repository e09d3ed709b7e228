"""The pipeline board (issue 18): cards show days idle, amber then red past their stage's
days, and the next step's date; a card dragged to another column is moved by the pipeline's
rules — a refused move answered on the card with the reason, a loss asking its reason there."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from crm.models import Lead, LeadEvent, LeadEventKind
from crm.pipeline import IDLE_DAYS, Stage, idle_level
from tests.conftest import Company

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def _idle(lead: Lead, stage: str, days: int, due: dt.date | None = None) -> None:
    Lead.objects.filter(pk=lead.pk).update(
        stage=stage,
        last_activity_at=timezone.now() - dt.timedelta(days=days, hours=1),
        next_step_due=due,
    )


@pytest.mark.parametrize(
    ("stage", "days", "level"),
    [("contacted", 7, ""), ("contacted", 8, "amber"), ("contacted", 15, "red"), ("won", 99, "")],
)
def test_idle_levels_follow_the_stage(stage: str, days: int, level: str) -> None:
    assert IDLE_DAYS[Stage.CONTACTED] == 7
    assert idle_level(stage, days) == level


def test_cards_show_days_idle_and_the_next_step(company: Company, client_for) -> None:
    c = company
    _idle(c.lead_a1, Stage.CONTACTED, 8, timezone.localdate() + dt.timedelta(days=2))
    _idle(c.lead_a2, Stage.QUALIFIED, 25)
    html = client_for(c.manager_a, "zh-hans").get("/leads/board/").content.decode()
    card_a1 = html.split(f'id="card-{c.lead_a1.pk}"')[1].split("</li>")[0]
    assert "8 天没跟进" in card_a1 and "idle-amber" in card_a1
    due = (timezone.localdate() + dt.timedelta(days=2)).strftime("%m-%d")
    assert f"下一步 {due}" in card_a1
    card_a2 = html.split(f'id="card-{c.lead_a2.pk}"')[1].split("</li>")[0]
    assert "25 天没跟进" in card_a2 and "idle-red" in card_a2 and "没有下一步" in card_a2


def test_the_board_pays_a_fixed_number_of_queries(
    company: Company, client_for, django_assert_max_num_queries
) -> None:
    client = client_for(company.manager_a)
    # session, user, the team's lead tally (counts and totals), the cards (each column's
    # biggest found by a subquery walking lead_team_stage_value, issue 22), the bell
    with django_assert_max_num_queries(5):
        assert client.get("/leads/board/").status_code == 200


def test_a_dragged_card_moves_and_the_history_says_so(company: Company, client_for) -> None:
    c = company
    response = client_for(c.rep_a1).post(
        f"/leads/{c.lead_a1.pk}/move/", {"to_stage": "won"}, headers=HTMX
    )
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#board"
    html = response.content.decode()
    won_column = html.split("stage-col-won")[1].split("</section>")[0]
    assert "Alpha Robotics" in won_column
    assert Lead.objects.get(pk=c.lead_a1.pk).stage == Stage.WON
    row = LeadEvent.objects.get(lead=c.lead_a1, kind=LeadEventKind.STAGE_CHANGED)
    assert (row.from_stage, row.to_stage) == ("new", "won")


def test_a_refused_move_says_why_on_the_card(company: Company, client_for) -> None:
    c = company
    response = client_for(c.rep_a1, "zh-hans").post(
        f"/leads/{c.lead_a1.pk}/move/", {"to_stage": "proposal"}, headers=HTMX
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert 'role="alert"' in html and "从这个阶段可以转到" in html
    assert "赢单" in html  # won is among the moves allowed from new
    assert Lead.objects.get(pk=c.lead_a1.pk).stage == Stage.NEW


def test_a_loss_asks_its_reason_on_the_card(company: Company, client_for) -> None:
    c = company
    client = client_for(c.rep_a1)
    asked = client.post(f"/leads/{c.lead_a1.pk}/move/", {"to_stage": "lost"}, headers=HTMX)
    assert asked.status_code == 422
    html = asked.content.decode()
    assert 'name="reason"' in html and 'value="lost"' in html and "Mark as lost" in html
    assert Lead.objects.get(pk=c.lead_a1.pk).stage == Stage.NEW
    done = client.post(
        f"/leads/{c.lead_a1.pk}/move/",
        {"to_stage": "lost", "reason": "选了本地供应商"},
        headers=HTMX,
    )
    assert done.status_code == 200
    lead = Lead.objects.get(pk=c.lead_a1.pk)
    assert (lead.stage, lead.lost_reason) == (Stage.LOST, "选了本地供应商")


def test_without_htmx_a_move_comes_back_to_the_board(company: Company, client_for) -> None:
    c = company
    response = client_for(c.rep_a1).post(f"/leads/{c.lead_a1.pk}/move/", {"to_stage": "proposal"})
    assert response.status_code == 302 and response["Location"] == "/leads/board/"
    assert Lead.objects.get(pk=c.lead_a1.pk).stage == Stage.NEW


def test_nobody_moves_a_lead_they_may_not_see(company: Company, client_for) -> None:
    c = company
    response = client_for(c.rep_a2).post(
        f"/leads/{c.lead_a1.pk}/move/", {"to_stage": "won"}, headers=HTMX
    )
    assert response.status_code == 404
    assert Lead.objects.get(pk=c.lead_a1.pk).stage == Stage.NEW
