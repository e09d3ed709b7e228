"""A quick log kept offline on the phone is sent with a key made there; however often a copy
arrives (the phone retried, two tabs sent it), the lead has one activity."""

from __future__ import annotations

import pytest

from crm import services
from crm.models import Activity
from tests.conftest import Company

pytestmark = pytest.mark.django_db

KEY = "3f2b9c1e-7a4d-4e8b-9c0f-1a2b3c4d5e6f"


def test_a_second_copy_changes_nothing(company: Company, client_for) -> None:
    c = company
    client = client_for(c.rep_a1)
    data = {"kind": "doorstep", "outcome": "unreachable", "note": "门卫不让进", "client_key": KEY}
    for _ in range(3):
        response = client.post(f"/leads/{c.lead_a1.pk}/activities/", data)
        assert response.status_code == 302
    (activity,) = Activity.objects.filter(lead=c.lead_a1)
    assert (activity.kind, activity.note, activity.client_key) == ("doorstep", "门卫不让进", KEY)


def test_logs_without_a_key_are_each_their_own(company: Company, client_for) -> None:
    c = company
    client = client_for(c.rep_a1)
    for _ in range(2):
        client.post(f"/leads/{c.lead_a1.pk}/activities/", {"kind": "call", "outcome": "reached"})
    assert Activity.objects.filter(lead=c.lead_a1).count() == 2


@pytest.mark.parametrize("key", ["short", "x" * 65, "a b c d e f g h", "'; DROP --"])
def test_an_odd_key_is_ignored_not_trusted(company: Company, client_for, key: str) -> None:
    c = company
    client = client_for(c.rep_a1)
    for _ in range(2):
        client.post(
            f"/leads/{c.lead_a1.pk}/activities/",
            {"kind": "call", "outcome": "reached", "client_key": key},
        )
    assert list(Activity.objects.filter(lead=c.lead_a1).values_list("client_key", flat=True)) == [
        "",
        "",
    ]


def test_the_key_is_each_persons_own(company: Company) -> None:
    c = company
    first = services.activity_log(actor=c.rep_a1, lead=c.lead_a1, kind="call", client_key=KEY)
    again = services.activity_log(actor=c.rep_a1, lead=c.lead_a1, kind="visit", client_key=KEY)
    assert again.pk == first.pk and again.kind == "call"
    other = services.activity_log(actor=c.manager_a, lead=c.lead_a1, kind="visit", client_key=KEY)
    assert other.pk != first.pk


def test_a_key_used_on_another_lead_does_not_swallow_this_log(company: Company) -> None:
    c = company
    first = services.activity_log(actor=c.manager_a, lead=c.lead_a1, kind="call", client_key=KEY)
    other = services.activity_log(
        actor=c.manager_a, lead=c.lead_a2, kind="visit", note="见到采购", client_key=KEY
    )
    assert other.pk != first.pk
    assert (other.lead, other.kind, other.note) == (c.lead_a2, "visit", "见到采购")
    assert Activity.objects.filter(lead=c.lead_a1).count() == 1


REPLAY = {"HTTP_X_KAOPU_REPLAY": "1"}


def test_a_replay_is_answered_sent_only_when_the_log_is_made(company: Company, client_for) -> None:
    c = company
    client = client_for(c.rep_a1)
    data = {"kind": "doorstep", "outcome": "unreachable", "client_key": KEY}
    response = client.post(f"/leads/{c.lead_a1.pk}/activities/", data, **REPLAY)
    assert response.status_code == 201
    assert response.json() == {"activity": Activity.objects.get(lead=c.lead_a1).pk}
    refused = client.post(
        f"/leads/{c.lead_a1.pk}/activities/",
        {"kind": "visit", "next_step_due": "2000-01-01", "client_key": KEY[::-1]},
        **REPLAY,
    )
    assert refused.status_code == 422


def test_a_replay_after_the_session_ended_is_told_to_sign_in(company: Company, client) -> None:
    c = company
    data = {"kind": "doorstep", "outcome": "unreachable", "client_key": KEY}
    response = client.post(f"/leads/{c.lead_a1.pk}/activities/", data, **REPLAY)
    assert response.status_code == 401
    # A person at the form (no replay header) still goes to the login page.
    assert client.post(f"/leads/{c.lead_a1.pk}/activities/", data).status_code == 302
    assert not Activity.objects.exists()
