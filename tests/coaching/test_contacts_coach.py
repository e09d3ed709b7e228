"""The coach and the people on a deal (issue 19): a big deal worked past the team's days with
nobody named as its decision maker asks the rep to find them and bring the manager or the +2
in; naming one settles it. A stalled lead's advice asks whom the rep will see."""

from __future__ import annotations

import time_machine

from coaching import selectors
from coaching.models import NudgeState
from coaching.preferences import rule_setting_update
from crm import services
from crm.models import ContactRole
from tests.coaching.helpers import check_texts, new_lead, nudges, only_nudge, scan, state_of
from tests.conftest import Company


def test_a_big_deal_without_a_decision_maker_asks_the_rep_to_find_one(
    company: Company, clock: time_machine.Traveller
) -> None:
    big = new_lead(company.manager_a, "Mega Grid", to=company.rep_a1, value=2_000_000)
    named = new_lead(company.manager_a, "Known Boss", to=company.rep_a1, value=2_000_000)
    services.lead_contact_create(
        actor=company.rep_a1, lead=named, data={"name": "王总"}, role=ContactRole.DECISION_MAKER
    )
    new_lead(company.manager_a, "Small Fry", to=company.rep_a1, value=999_999)
    # Someone on the deal, but not the one who decides.
    services.lead_contact_create(
        actor=company.rep_a1, lead=big, data={"name": "刘工"}, role=ContactRole.TECHNICAL
    )
    scan()
    assert nudges("big_deal_no_decision_maker") == []  # too early: the team's 14 days

    clock.shift(15 * 86_400)
    scan()
    nudge = only_nudge("big_deal_no_decision_maker", company.rep_a1)
    assert nudge.lead == big
    check_texts(nudge)
    zh = selectors.show(nudge, "zh-hans")
    assert "+2" in zh.advice and "决策人" in zh.advice

    services.lead_contact_create(
        actor=company.rep_a1, lead=big, data={"name": "张总"}, role=ContactRole.DECISION_MAKER
    )
    scan()
    assert state_of(nudge) == NudgeState.DONE
    assert [n.state for n in nudges("big_deal_no_decision_maker")] == [NudgeState.DONE]


def test_the_teams_threshold_decides_what_is_big(
    company: Company, clock: time_machine.Traveller
) -> None:
    rule_setting_update(
        actor=company.manager_a,
        team=company.team_a,
        rule_id="big_deal_no_decision_maker",
        enabled=True,
        values={"value": 50_000, "days": 3},
    )
    new_lead(company.manager_a, "Mid Size", to=company.rep_a1, value=60_000)
    new_lead(company.manager_b, "Mid Size B", to=company.rep_b1, value=60_000)
    clock.shift(4 * 86_400)
    scan()
    assert [n.lead.company for n in nudges("big_deal_no_decision_maker")] == ["Mid Size"]


def test_a_stalled_leads_advice_asks_whom_the_rep_will_see(
    company: Company, clock: time_machine.Traveller
) -> None:
    new_lead(company.manager_a, "Quiet Co", to=company.rep_a1)
    clock.shift(20 * 86_400)
    scan()
    nudge = only_nudge("stalled_lead", company.rep_a1, lead__company="Quiet Co")
    assert "whom you will see" in selectors.show(nudge, "en").advice
    assert "要去见谁" in selectors.show(nudge, "zh-hans").advice
