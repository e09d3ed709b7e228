"""A rep's ask for the next good lead reaches the manager at once and closes with the hand-off
(ideas I9, I15): the ask is heard in the bell, and the lead the manager hands down answers it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import time_machine

from coaching import next_lead
from coaching.models import Delivery, NextLeadAsk, Nudge, NudgeState
from tests.coaching.helpers import process
from tests.coaching.test_loop_pages import day, reliable
from tests.factories import hand_off

if TYPE_CHECKING:
    from tests.conftest import Company


def test_the_manager_hears_the_ask_and_the_hand_off_answers_it(
    company: Company, clock: time_machine.Traveller
) -> None:
    c = company
    reliable(c, clock)
    ask = next_lead.next_lead_ask(rep=c.rep_a1, note="Ready for a bigger one.")
    heard = Nudge.objects.get(rule_id="next_lead_asked")
    assert heard.recipient == c.manager_a and heard.subject_user == c.rep_a1
    assert heard.delivery == Delivery.PUSH  # caused by a person: pushed at once
    assert heard.context["note"] == "Ready for a bigger one."
    assert not Nudge.objects.filter(rule_id="next_lead_asked", recipient=c.manager_b).exists()

    clock.move_to(day(6))
    hand_off(c.manager_a, c.lead_a_pool, to=c.rep_a1)
    process()
    ask.refresh_from_db()
    heard.refresh_from_db()
    assert ask.lead == c.lead_a_pool and ask.answered_by == c.manager_a
    assert heard.state == NudgeState.DONE
    assert not NextLeadAsk.objects.filter(answered_at__isnull=True).exists()
