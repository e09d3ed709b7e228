"""The nudge center as people use it: the bell's count, snoozing, dismissing, and htmx swaps."""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from coaching import services
from coaching.models import Nudge, NudgeState
from crm import services as crm
from crm.models import ActivityKind, Outcome
from tests.coaching.helpers import SHANGHAI, START, at, new_lead, process

if TYPE_CHECKING:
    from tests.conftest import Company

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


@pytest.fixture
def nudge(company: Company) -> Nudge:
    """rep_a1's nudge to send a first plan on the lead the manager handed down."""
    process()
    return Nudge.objects.get(recipient=company.rep_a1, rule_id="handoff_first_plan")


def bell_count(client: Client) -> int:
    response = client.get(reverse("coach-bell"))
    assert response.status_code == 200
    match = re.search(r'data-count="(\d+)"', response.content.decode())
    assert match, response.content.decode()
    return int(match.group(1))


def listed(client: Client, nudge: Nudge, show: str = "open") -> bool:
    page = client.get(reverse("coach-nudges"), {"show": show})
    assert page.status_code == 200
    return f'id="nudge-{nudge.pk}"' in page.content.decode()


def snooze_url(nudge: Nudge) -> str:
    return reverse("coach-nudge-snooze", args=[nudge.pk])


def dismiss_url(nudge: Nudge) -> str:
    return reverse("coach-nudge-dismiss", args=[nudge.pk])


def test_the_bell_shows_the_open_count_of_cards(company: Company, nudge: Nudge, client_for) -> None:  # type: ignore[no-untyped-def]
    """The bell counts cards, one per rule (issue 16): a second hand-off joins the first one's
    card; a call that went unanswered is a card of its own."""
    client = client_for(company.rep_a1)
    assert bell_count(client) == 1
    second = new_lead(company.manager_a, "Second Chance Ltd", to=company.rep_a1)
    process()
    assert Nudge.objects.filter(recipient=company.rep_a1).count() == 2
    assert bell_count(client) == 1
    # Every page opens with the same count the polled bell shows (cards, not nudges).
    page = client.get(reverse("my-day")).content.decode()
    assert 'class="bell-count" data-count="1"' in page
    crm.activity_log(
        actor=company.rep_a1, lead=second, kind=ActivityKind.CALL, outcome=Outcome.UNREACHABLE
    )
    process()
    assert bell_count(client) == 2
    assert bell_count(client_for(company.manager_b)) == 0


@pytest.mark.parametrize(
    ("period", "until", "back_at"),
    [
        ("1d", "", at(days=1)),
        ("3d", "", at(days=3)),
        ("1w", "", at(days=7)),
        ("date", "2025-03-08", dt.datetime(2025, 3, 8, 8, 0, tzinfo=SHANGHAI)),
    ],
)
def test_a_snoozed_nudge_is_hidden_until_its_time_comes(
    company: Company,
    nudge: Nudge,
    client_for,  # type: ignore[no-untyped-def]
    clock: time_machine.Traveller,
    period: str,
    until: str,
    back_at: dt.datetime,
) -> None:
    client = client_for(company.rep_a1)
    response = client.post(
        snooze_url(nudge), {"period": period, "until": until, "reason": "Customer on holiday"}
    )
    assert response.status_code == 302
    nudge.refresh_from_db()
    assert nudge.state == NudgeState.SNOOZED
    assert nudge.snoozed_until == back_at
    assert nudge.reason == "Customer on holiday"
    assert bell_count(client) == 0
    assert not listed(client, nudge)
    assert listed(client, nudge, "snoozed")

    clock.move_to(back_at - dt.timedelta(minutes=1))
    assert services.wake_snoozed() == 0
    assert bell_count(client) == 0

    clock.move_to(back_at + dt.timedelta(minutes=1))
    assert bell_count(client) == 1  # due again, even before the wake-up job has run
    assert listed(client, nudge)
    assert services.wake_snoozed() == 1
    nudge.refresh_from_db()
    assert nudge.state == NudgeState.OPEN


@pytest.mark.parametrize("until", ["2025-03-02", "2025-03-03"])  # yesterday; today 08:00 (past)
def test_snoozing_until_a_past_moment_is_refused(
    company: Company,
    nudge: Nudge,
    client_for,  # type: ignore[no-untyped-def]
    until: str,
) -> None:
    assert START.hour == 10
    response = client_for(company.rep_a1).post(
        snooze_url(nudge), {"period": "date", "until": until, "reason": ""}
    )
    assert response.status_code == 422
    assert "Choose a moment in the future." in response.content.decode()
    nudge.refresh_from_db()
    assert nudge.state == NudgeState.OPEN


def test_snoozing_until_a_date_needs_the_date(company: Company, nudge: Nudge, client_for) -> None:  # type: ignore[no-untyped-def]
    response = client_for(company.rep_a1).post(snooze_url(nudge), {"period": "date"})
    assert response.status_code == 422
    assert "Choose the date to snooze until." in response.content.decode()
    nudge.refresh_from_db()
    assert nudge.state == NudgeState.OPEN


def test_dismissing_needs_a_reason(company: Company, nudge: Nudge, client_for) -> None:  # type: ignore[no-untyped-def]
    client = client_for(company.rep_a1)
    response = client.post(dismiss_url(nudge), {"reason": "   "})
    assert response.status_code == 422
    assert "This field is required." in response.content.decode()
    nudge.refresh_from_db()
    assert nudge.state == NudgeState.OPEN

    response = client.post(dismiss_url(nudge), {"reason": "Already agreed the plan by phone"})
    assert response.status_code == 302
    nudge.refresh_from_db()
    assert nudge.state == NudgeState.DISMISSED
    assert nudge.reason == "Already agreed the plan by phone"
    assert bell_count(client) == 0
    closed = client.get(reverse("coach-nudges"), {"show": "closed"}).content.decode()
    assert "Already agreed the plan by phone" in closed


def test_another_users_nudge_does_not_exist_for_them(
    company: Company,
    nudge: Nudge,
    client_for,  # type: ignore[no-untyped-def]
) -> None:
    for intruder in (company.rep_a2, company.manager_a):
        client = client_for(intruder)
        snoozed = client.post(snooze_url(nudge), {"period": "1d", "reason": "x"})
        dismissed = client.post(dismiss_url(nudge), {"reason": "not mine"})
        assert (snoozed.status_code, dismissed.status_code) == (404, 404)
    nudge.refresh_from_db()
    assert nudge.state == NudgeState.OPEN
    assert nudge.reason == ""


def _is_the_list_partial(html: str) -> bool:
    return html.lstrip().startswith('<div id="nudge-list">') and "<html" not in html


def test_htmx_posts_swap_the_nudge_list(company: Company, nudge: Nudge, client_for) -> None:  # type: ignore[no-untyped-def]
    other = new_lead(company.manager_a, "Swap Systems", to=company.rep_a1)
    process()
    second = Nudge.objects.get(rule_id="handoff_first_plan", lead=other)
    client = client_for(company.rep_a1)

    response = client.post(snooze_url(nudge), {"period": "1d", "reason": ""}, headers=HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert _is_the_list_partial(html)
    assert f'id="nudge-{nudge.pk}"' not in html
    assert f'id="nudge-{second.pk}"' in html

    refused = client.post(dismiss_url(second), {"reason": ""}, headers=HTMX)
    assert refused.status_code == 422
    assert _is_the_list_partial(refused.content.decode())
    assert "This field is required." in refused.content.decode()

    done = client.post(dismiss_url(second), {"reason": "Duplicate of my plan"}, headers=HTMX)
    assert done.status_code == 200
    assert _is_the_list_partial(done.content.decode())
    assert f'id="nudge-{second.pk}"' not in done.content.decode()


def test_acting_on_a_nudge_that_closed_meanwhile_says_so(
    company: Company,
    nudge: Nudge,
    client_for,  # type: ignore[no-untyped-def]
) -> None:
    client = client_for(company.rep_a1)
    page = client.get(reverse("coach-nudges")).content.decode()
    assert f'id="nudge-{nudge.pk}"' in page
    # Meanwhile the manager hands the lead to someone else: the nudge about it expires.
    crm.lead_hand_off(
        actor=company.manager_a, lead_ids=[company.lead_a1.pk], to_user=company.rep_a2
    )
    process()
    nudge.refresh_from_db()
    assert nudge.state == NudgeState.EXPIRED

    response = client.post(snooze_url(nudge), {"period": "1d", "reason": ""})
    assert response.status_code == 422
    assert "This nudge is already closed." in response.content.decode()
