"""The lead page reads the bell's count and its coach block in one query
(coaching.cards.lead_card_and_count, through coaching.context_processors): the same count as
open_card_count and the same block as lead_card, whatever the viewer's nudges are."""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from coaching.cards import lead_card, lead_card_and_count, open_card_count
from coaching.models import Nudge, NudgeState, Priority
from tests.factories import lead_new

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.test import Client

    from crm.models import Lead, User
    from tests.conftest import Company

pytestmark = pytest.mark.django_db


def _nudge(to: User, rule: str, lead: Lead | None, n: int, **data: Any) -> Nudge:
    fields: dict[str, Any] = {"priority": Priority.NORMAL, "context": {"company": f"C{n}"}}
    return Nudge.objects.create(
        recipient=to, rule_id=rule, lead=lead, key=f"t:{to.pk}:{rule}:{n}", **(fields | data)
    )


@pytest.fixture
def nudges(company: Company) -> list[Lead]:
    """rep_a1's nudges: several rules on lead_a1 (open, snoozed and due, snoozed and not yet
    due, dismissed, done), rules only on other leads, one rule on no lead, two nudges on
    lead_a1 ranked alike; another person's nudges on the same leads. Returns the leads to look
    at, one of them with no nudge of rep_a1's."""
    rep, other = company.rep_a1, company.rep_a2
    now = timezone.now()
    a1, a2 = company.lead_a1, lead_new(rep, "Second Works")
    quiet = lead_new(rep, "Quiet Works")
    _nudge(rep, "stalled_lead", a1, 1)
    _nudge(rep, "stalled_lead", a2, 2)
    _nudge(rep, "deadline_near", a1, 3, priority=Priority.HIGH)
    _nudge(
        rep,
        "low_contact",
        a1,
        4,
        state=NudgeState.SNOOZED,
        snoozed_until=now - dt.timedelta(hours=1),
    )
    _nudge(
        rep, "report_due", a1, 5, state=NudgeState.SNOOZED, snoozed_until=now + dt.timedelta(days=2)
    )
    _nudge(rep, "loss_review", a1, 6, state=NudgeState.DISMISSED)
    _nudge(rep, "bounce_back", a2, 7)
    _nudge(rep, "report_unacknowledged", None, 8)
    _nudge(rep, "big_deal_no_decision_maker", a1, 9)
    _nudge(rep, "big_deal_no_decision_maker", a1, 10)  # ranked alike: kept in id order
    _nudge(other, "handoff_first_plan", a1, 11)
    _nudge(other, "stalled_lead", quiet, 12)
    return [a1, a2, quiet]


def _shown(items: list[Any]) -> list[tuple[int, str, str, tuple[str, ...]]]:
    return [(i.nudge.pk, i.title, i.action_url, i.tags) for i in items]


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_one_query_gives_the_count_and_the_block_the_two_queries_gave(
    company: Company, nudges: list[Lead], language: str
) -> None:
    rep = company.rep_a1
    count = open_card_count(user=rep)
    assert count == 6  # stalled_lead, deadline_near, low_contact, bounce_back, two more
    seen = set()
    for lead in nudges:
        block = lead_card(user=rep, lead_id=lead.pk, language=language)
        with CaptureQueriesContext(connection) as ctx:
            both = lead_card_and_count(user=rep, lead_id=lead.pk, language=language)
        assert len(ctx.captured_queries) == 1
        assert both[0] == count
        assert _shown(both[1]) == _shown(block)
        seen.add(len(block))
    assert seen == {5, 2, 0}  # the test looks at a full block, a small one and an empty one
    alike = Nudge.objects.filter(rule_id="big_deal_no_decision_maker").order_by("pk")
    ids = [i.nudge.pk for i in lead_card(user=rep, lead_id=nudges[0].pk, language=language)]
    assert [pk for pk in ids if pk in {n.pk for n in alike}] == [n.pk for n in alike]


def _bell(html: str) -> int:
    return int(re.search(r'class="bell-count" data-count="(\d+)"', html)[1])  # type: ignore[index]


def test_the_lead_page_shows_the_bell_and_the_block_as_the_other_pages_and_the_block_do(
    company: Company, nudges: list[Lead], client_for: Callable[..., Client]
) -> None:
    rep = company.rep_a1
    client = client_for(rep)
    elsewhere = _bell(client.get(reverse("lead-list")).content.decode())
    assert elsewhere == open_card_count(user=rep) == 6
    for lead in nudges:
        with CaptureQueriesContext(connection) as ctx:
            html = client.get(lead.get_absolute_url()).content.decode()
        nudge_queries = [q for q in ctx.captured_queries if '"coaching_nudge"' in q["sql"]]
        assert len(nudge_queries) == 1
        assert _bell(html) == elsewhere
        block = lead_card(user=rep, lead_id=lead.pk, language="en")
        assert re.findall(r'<li id="nudge-(\d+)"', html) == [str(i.nudge.pk) for i in block]
        for item in block:
            assert escape(item.title) in html


def test_the_block_swapped_after_a_snooze_still_reads_its_own_nudges(
    company: Company, nudges: list[Lead], client_for: Callable[..., Client]
) -> None:
    # The snooze view renders the block alone (no lead page): it reads the lead's nudges itself.
    rep, lead = company.rep_a1, nudges[0]
    first = lead_card(user=rep, lead_id=lead.pk, language="en")[0].nudge
    response = client_for(rep).post(
        reverse("coach-nudge-snooze", args=[first.pk]),
        {"period": "1d", "from_lead": lead.pk},
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    left = lead_card(user=rep, lead_id=lead.pk, language="en")
    assert len(left) == 4
    assert re.findall(r'<li id="nudge-(\d+)"', html) == [str(i.nudge.pk) for i in left]
