"""A quiet coach (issue 16): one card per rule, subjects ranked and folded, the advice said once;
card actions; what a person caused pushed at once on its own allowance (a burst is one push);
a digest of at most seven lines, skipped when nothing changed; quiet hours hold a push until
they end; new work spread out instead of arriving as a flood."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pytest
import time_machine
from django.core import mail
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse

from coaching import cards, delivery, services
from coaching.models import (
    Delivery,
    EmailKind,
    NotificationPreference,
    Nudge,
    NudgeState,
    OutboundEmail,
)
from coaching.rules import NudgeSpec
from crm import services as crm
from crm.models import Role
from crm.pipeline import Stage
from tests.coaching.helpers import SHANGHAI, START, at, new_lead, process, scan
from tests.factories import hand_off, make_user

if TYPE_CHECKING:
    from crm.models import Lead, User
    from tests.conftest import Company

pytestmark = pytest.mark.django_db


def _rep(company: Company, name: str = "rep_q") -> User:
    rep = make_user(username=name, role=Role.REP)
    crm.rep_join_team(user=rep, team=company.team_a)
    return rep


def _stalled(company: Company, rep: User, n: int, **data: object) -> list[Lead]:
    """`n` leads handed to `rep` one by one, moved to "contacted", then left alone."""
    leads = []
    for i in range(n):
        lead = new_lead(company.manager_a, f"Still Water {i}", to=rep, **data)
        crm.lead_change_stage(actor=rep, lead=lead, to_stage=Stage.CONTACTED)
        leads.append(lead)
    process()
    return leads


# --- Grouping and ranking ----------------------------------------------------------------------


def test_one_card_per_rule_with_the_advice_once(
    company: Company, clock: time_machine.Traveller, client_for
) -> None:  # type: ignore[no-untyped-def]
    rep = _rep(company)
    _stalled(company, rep, 6)
    clock.move_to(at(days=15))
    scan()
    stalled = Nudge.objects.filter(recipient=rep, rule_id="stalled_lead")
    assert stalled.count() == 6  # rows stay per lead

    mine = cards.cards_for(user=rep, language="en")
    by_rule = {c.rule_id: c for c in mine}
    assert by_rule["stalled_lead"].count == 6
    assert len(mine) == len({n.rule_id for n in Nudge.objects.filter(recipient=rep)})
    card = by_rule["stalled_lead"]
    assert len(card.shown) == cards.SHOWN and card.more == 6 - cards.SHOWN
    assert card.more_label == "and 3 more"

    page = client_for(rep).get(reverse("coach-nudges")).content.decode()
    assert page.count(card.advice) == 1
    assert "and 3 more" in page
    for nudge in stalled:
        assert f'id="nudge-{nudge.pk}"' in page  # each subject can be acted on


def test_a_card_ranks_deadline_then_value_then_chicken_rib(
    company: Company, clock: time_machine.Traveller
) -> None:
    rep = _rep(company)
    plain, big, rib, tender = (
        new_lead(company.manager_a, name, to=rep, **data)
        for name, data in (
            ("Plain Co", {"value": 10_000}),
            ("Big Co", {"value": 900_000}),
            (
                "Rib Co",
                {"value": 10_000, "is_chicken_rib": True, "chicken_rib_reasons": ["competitor"]},
            ),
            ("Tender Co", {"value": 5_000, "tender_date": dt.date(2025, 3, 10)}),
        )
    )
    process()
    (card,) = [c for c in cards.cards_for(user=rep, language="en") if c.count > 1]
    assert [i.nudge.lead_id for i in card.items] == [tender.pk, big.pk, rib.pk, plain.pk]
    assert card.top.tags[0] == "tender in 7 days"
    zh = cards.cards_for(user=rep, language="zh-hans")[0]
    assert zh.top.tags_text.count("、") == len(zh.top.tags) - 1


def test_the_manager_sees_one_card_for_waiting_reports_with_the_oldest_and_biggest(
    company: Company, clock: time_machine.Traveller
) -> None:
    from tests.coaching.helpers import report

    small = new_lead(company.manager_a, "Small Sums", to=company.rep_a1, value=5_000)
    large = new_lead(company.manager_a, "Large Sums", to=company.rep_a2, value=3_000_000)
    report(company.rep_a1, small)
    clock.move_to(at(days=1))
    report(company.rep_a2, large)
    report(company.rep_a2, large)
    process()
    clock.move_to(at(days=6))
    scan()
    waiting = Nudge.objects.filter(recipient=company.manager_a, rule_id="report_unacknowledged")
    assert waiting.count() == 3
    (card,) = [
        c
        for c in cards.cards_for(user=company.manager_a, language="en")
        if c.rule_id == "report_unacknowledged"
    ]
    assert card.count == 3
    assert str(company.rep_a1) in card.summary and "6 days" in card.summary
    assert "Large Sums" in card.summary and "¥3,000,000" in card.summary


# --- Acting on a card --------------------------------------------------------------------------


def test_snoozing_a_card_snoozes_its_subjects_and_nothing_else(
    company: Company, clock: time_machine.Traveller, client_for
) -> None:  # type: ignore[no-untyped-def]
    rep = _rep(company)
    _stalled(company, rep, 4)
    clock.move_to(at(days=15))
    scan()
    client = client_for(rep)
    before = cards.open_card_count(user=rep)
    other = Nudge.objects.filter(recipient=rep).exclude(rule_id="stalled_lead").count()
    assert other > 0

    url = reverse("coach-card-snooze", args=["stalled_lead"])
    response = client.post(
        url, {"period": "3d", "reason": "Trade fair week"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert 'id="card-stalled_lead"' not in response.content.decode()
    stalled = Nudge.objects.filter(recipient=rep, rule_id="stalled_lead")
    assert {n.state for n in stalled} == {NudgeState.SNOOZED}
    assert {n.reason for n in stalled} == {"Trade fair week"}
    assert Nudge.objects.filter(recipient=rep, state=NudgeState.OPEN).count() == other
    assert cards.open_card_count(user=rep) == before - 1

    clock.move_to(at(days=18, hours=1))
    assert cards.open_card_count(user=rep) == before  # back by itself


def test_one_subject_inside_a_card_can_be_dismissed(
    company: Company, clock: time_machine.Traveller, client_for
) -> None:  # type: ignore[no-untyped-def]
    rep = _rep(company)
    _stalled(company, rep, 3)
    clock.move_to(at(days=15))
    scan()
    first, *rest = Nudge.objects.filter(recipient=rep, rule_id="stalled_lead").order_by("id")
    response = client_for(rep).post(
        reverse("coach-nudge-dismiss", args=[first.pk]), {"reason": "Customer moved away"}
    )
    assert response.status_code == 302
    assert Nudge.objects.get(pk=first.pk).state == NudgeState.DISMISSED
    assert all(Nudge.objects.get(pk=n.pk).state == NudgeState.OPEN for n in rest)
    (card,) = [c for c in cards.cards_for(user=rep, language="en") if c.rule_id == "stalled_lead"]
    assert card.count == 2


def test_dismissing_a_card_needs_a_reason(
    company: Company, clock: time_machine.Traveller, client_for
) -> None:  # type: ignore[no-untyped-def]
    rep = _rep(company)
    _stalled(company, rep, 2)
    clock.move_to(at(days=15))
    scan()
    url = reverse("coach-card-dismiss", args=["stalled_lead"])
    refused = client_for(rep).post(url, {"reason": " "})
    assert refused.status_code == 422
    assert "This field is required." in refused.content.decode()
    assert Nudge.objects.filter(recipient=rep, state=NudgeState.DISMISSED).count() == 0
    done = client_for(rep).post(url, {"reason": "Seasonal lull"})
    assert done.status_code == 302
    assert Nudge.objects.filter(recipient=rep, state=NudgeState.DISMISSED).count() == 2


def test_the_coach_page_has_a_fixed_number_of_queries(
    company: Company, clock: time_machine.Traveller, client_for, django_assert_max_num_queries
) -> None:  # type: ignore[no-untyped-def]
    rep = _rep(company)
    _stalled(company, rep, 3)
    clock.move_to(at(days=15))
    scan()
    client = client_for(rep)
    with django_assert_max_num_queries(8):
        small = client.get(reverse("coach-nudges"))
    _stalled(company, rep, 12)
    clock.move_to(at(days=40))
    scan()
    client = client_for(rep)  # a new session, weeks later
    with django_assert_max_num_queries(8):
        large = client.get(reverse("coach-nudges"))
    assert small.status_code == large.status_code == 200


def test_a_leads_page_block_lists_its_nudges_for_the_viewer(company: Company) -> None:
    process()
    lead = company.lead_a1
    request = RequestFactory().get("/")
    request.user = company.rep_a1
    html = render_to_string("coaching/_lead_nudges.html", {"lead": lead, "request": request})
    nudge = Nudge.objects.get(recipient=company.rep_a1, lead=lead)
    assert f'id="nudge-{nudge.pk}"' in html and 'id="lead-nudges"' in html
    request.user = company.rep_a2
    other = render_to_string("coaching/_lead_nudges.html", {"lead": lead, "request": request})
    assert "nudge-" not in other


# --- Pushes: events before scans ---------------------------------------------------------------


def test_a_burst_of_hand_offs_is_one_push_that_says_how_many(company: Company) -> None:
    rep = _rep(company)
    leads = [
        crm.lead_create(actor=company.manager_a, data={"company": f"Burst {i}", "source": "brand"})
        for i in range(5)
    ]
    hand_off(company.manager_a, *leads, to=rep)
    process()
    pushed = Nudge.objects.filter(recipient=rep, rule_id="handoff_first_plan")
    assert pushed.count() == 5
    assert {n.delivery for n in pushed} == {Delivery.PUSH}
    (email,) = OutboundEmail.objects.filter(recipient=rep, kind=EmailKind.INSTANT)
    delivery.deliver_due()
    (message,) = [m for m in mail.outbox if rep.email in m.to]
    assert message.subject == "5 leads were handed to you: confirm each and send a first plan"
    assert "and 2 more" in message.body
    email.refresh_from_db()
    assert email.state == "sent"


def test_a_push_held_by_quiet_hours_goes_out_when_they_end(
    company: Company, clock: time_machine.Traveller
) -> None:
    process()
    delivery.deliver_due()
    mail.outbox.clear()
    night = dt.datetime(2025, 3, 4, 23, 0, tzinfo=SHANGHAI)
    clock.move_to(night)
    lead = new_lead(company.manager_a, "Night Shift Ltd", to=company.rep_a1)
    process()
    email = OutboundEmail.objects.get(nudge__lead=lead)
    assert email.not_before == dt.datetime(2025, 3, 5, 8, 0, tzinfo=SHANGHAI)
    clock.move_to(dt.datetime(2025, 3, 5, 7, 59, tzinfo=SHANGHAI))
    assert delivery.deliver_due()["sent"] == 0
    clock.move_to(dt.datetime(2025, 3, 5, 8, 0, 30, tzinfo=SHANGHAI))
    assert delivery.deliver_due()["sent"] == 1
    assert [m.to for m in mail.outbox] == [[company.rep_a1.email]]


# --- The digest --------------------------------------------------------------------------------


def _digest_person() -> User:
    user = make_user(username="digest-reader", role=Role.REP, time_zone="Asia/Shanghai")
    NotificationPreference.objects.create(user=user, daily_push_budget=0)
    return user


def test_the_digest_is_seven_lines_at_most_most_important_first(
    company: Company, clock: time_machine.Traveller
) -> None:
    user = _digest_person()
    lead_ids = [company.lead_a1.pk, company.lead_a2.pk, company.lead_b1.pk]
    specs = (
        [
            NudgeSpec("report_due", user.pk, lead_id=pk, context={"company": "X", "days": 9})
            for pk in lead_ids
        ]
        + [NudgeSpec("deadline_near", user.pk, lead_id=lead_ids[0], context={"company": "X"})]
        + [
            NudgeSpec(rule, user.pk, period="p", context={"days": 11, "count": 3})
            for rule in (
                "low_contact",
                "only_asks_for_help",
                "year_end_thanks",
                "reliable_rep",
                "uneven_distribution",
                "report_unacknowledged",
                "stalled_lead_manager",
                "big_deal_keep_director_informed",
            )
        ]
    )
    services.create_nudges(specs, now=START)
    clock.move_to(dt.datetime(2025, 3, 4, 8, 31, tzinfo=SHANGHAI))
    assert delivery.build_digests() == 1
    lines, more = delivery.digest_lines(user=user)
    assert len(lines) == 7 and more == len({s.rule_id for s in specs}) - 7
    assert lines[0].rule_id == "deadline_near"  # the one high-priority card comes first
    assert "Start with" in next(line for line in lines if line.rule_id == "report_due").text
    delivery.deliver_due()
    (message,) = [m for m in mail.outbox if user.email in m.to]
    body = message.body
    assert body.count(" → ") == 8  # seven lines and "and N more"
    assert f"and {more} more" in body


def test_no_digest_when_nothing_changed_since_the_last(
    company: Company, clock: time_machine.Traveller
) -> None:
    user = _digest_person()
    services.create_nudges(
        [NudgeSpec("low_contact", user.pk, period="a", context={"days": 11})], now=START
    )
    clock.move_to(dt.datetime(2025, 3, 4, 8, 31, tzinfo=SHANGHAI))
    assert delivery.build_digests() == 1
    clock.move_to(dt.datetime(2025, 3, 5, 8, 31, tzinfo=SHANGHAI))
    assert delivery.build_digests() == 0  # the same open card, nothing new: no digest
    services.create_nudges(
        [NudgeSpec("only_asks_for_help", user.pk, period="b", context={"count": 3})]
    )
    clock.move_to(dt.datetime(2025, 3, 6, 8, 31, tzinfo=SHANGHAI))
    assert delivery.build_digests() == 1
    assert OutboundEmail.objects.filter(recipient=user, kind=EmailKind.DIGEST).count() == 2


# --- New work is not a flood -------------------------------------------------------------------


def test_a_large_batch_is_not_all_due_on_the_same_day(
    company: Company, clock: time_machine.Traveller
) -> None:
    rep = _rep(company)
    leads = [
        crm.lead_create(actor=company.manager_a, data={"company": f"Import {i}", "source": "brand"})
        for i in range(20)
    ]
    clock.move_to(at(days=30))  # imported a month ago, handed down today
    hand_off(company.manager_a, *leads, to=rep)
    process()
    clock.move_to(at(days=30 + 1))
    scan()
    assert not Nudge.objects.filter(recipient=rep, rule_id="report_due").exists()

    per_day = []
    for day in range(7, 16):
        clock.move_to(at(days=30 + day))
        scan()
        per_day.append(Nudge.objects.filter(recipient=rep, rule_id="report_due").count())
    assert per_day[-1] == 20
    new_each_day = [b - a for a, b in zip([0, *per_day], per_day, strict=False)]
    assert max(new_each_day) <= 20 // 5 + 1, new_each_day
