"""The lead page's coaching block and the flash messages: when #lead-work is swapped (an
activity logged, a stage changed) the block inside it must not repeat the region's messages (a
second `.messages` list broke keyboard focus and the screen reader's status); when the block
itself is swapped (snooze or dismiss from the lead page), it carries the message."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from django.urls import reverse

from coaching.models import Nudge
from tests.coaching.helpers import process

if TYPE_CHECKING:
    from tests.conftest import Company

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def test_a_swapped_lead_work_shows_its_messages_once(company: Company, client_for: Any) -> None:
    process()
    lead = company.lead_a1
    assert Nudge.objects.filter(recipient=company.rep_a1, lead=lead).exists()
    rep = client_for(company.rep_a1)
    response = rep.post(
        reverse("lead-log-activity", args=[lead.pk]),
        {"kind": "call", "outcome": "reached", "note": "Spoke to the buyer"},
        **HTMX,
    )
    html = response.content.decode()
    assert 'id="lead-nudges"' in html
    assert html.count('class="messages"') == 1
    assert html.count("Activity logged.") == 1


def test_the_lead_blocks_own_swap_carries_the_message(company: Company, client_for: Any) -> None:
    process()
    lead = company.lead_a1
    nudge = Nudge.objects.get(recipient=company.rep_a1, lead=lead)
    rep = client_for(company.rep_a1)
    response = rep.post(
        reverse("coach-nudge-snooze", args=[nudge.pk]),
        {"period": "1w", "reason": "", "from_lead": str(lead.pk)},
        **HTMX,
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="lead-nudges"' in html
    assert html.count('class="messages"') == 1 and "Snoozed until" in html
