"""The demo's leads: each created by its team's manager 5 to 90 days ago; 12% still in the
pool (untouched: no owner, notes, next step or activity), the rest handed to a rep who logged
calls, visits and doorstep waits and moved the lead along the pipeline one allowed step at a
time (crm.pipeline.can_move) to where it stands: open, won or lost."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import pairwise

from django.utils import timezone

from crm import history
from crm.management.demo.words import (
    CITIES,
    COMPETITORS,
    EN_CONTACTS,
    EN_PREFIX,
    EN_SUFFIX,
    ZH_CONTACTS,
    ZH_PREFIX,
    ZH_SUFFIX,
    pick,
)
from crm.models import (
    Activity,
    ActivityKind,
    ChickenRibReason,
    Currency,
    Lead,
    LeadEvent,
    Outcome,
    Source,
    Team,
    User,
)
from crm.pipeline import CLOSED_STAGES, OPEN_STAGES, Stage, can_move
from crm.services.companies import leads_people_link

POOL_SOURCES = [Source.BRAND, Source.TRADE_SHOW, Source.WEBSITE, Source.MARKETING]
# A call twice as likely as any other kind.
ACTIVITY_KINDS = [
    *(ActivityKind.CALL, ActivityKind.CALL, ActivityKind.VISIT),
    *(ActivityKind.MEETING, ActivityKind.EMAIL, ActivityKind.DOORSTEP),
]
BAD_OUTCOMES = [Outcome.UNREACHABLE, Outcome.REFUSED]
GOOD_OUTCOMES = [Outcome.REACHED, Outcome.INTERESTED, Outcome.FOLLOW_UP]
# The way to each stage from "new", one move the pipeline allows at a time.
WALKS: dict[str, list[str]] = {
    Stage.NEW: [],
    Stage.CONTACTED: [Stage.CONTACTED],
    Stage.QUALIFIED: [Stage.CONTACTED, Stage.QUALIFIED],
    Stage.PROPOSAL: [Stage.CONTACTED, Stage.QUALIFIED, Stage.PROPOSAL],
    Stage.NEGOTIATION: [Stage.CONTACTED, Stage.QUALIFIED, Stage.PROPOSAL, Stage.NEGOTIATION],
}


@dataclass
class _Plan:
    """What the lead builder decided for a lead, for its history and activities."""

    created: dt.datetime
    handed_at: dt.datetime | None
    owner: User | None
    walk: list[str] = field(default_factory=list)


def stage_walk(rng: random.Random, stage: str) -> list[str]:
    """The stages a lead passed through to reach `stage`, each move one the pipeline allows:
    won through proposal (and mostly negotiation), lost from wherever it had got to."""
    if stage == Stage.WON:
        walk = WALKS[rng.choice([Stage.NEGOTIATION, Stage.NEGOTIATION, Stage.PROPOSAL])]
        walk = [*walk, Stage.WON]
    elif stage == Stage.LOST:
        walk = [*WALKS[rng.choice(OPEN_STAGES)], Stage.LOST]
    else:
        walk = list(WALKS[stage])
    assert all(can_move(a, b) for a, b in pairwise([Stage.NEW, *walk])), walk
    return walk


def team_leads(rng: random.Random, team: Team, reps: list[User], count: int) -> int:
    """`count` leads for the team: a few in the pool, the rest handed to its reps, with
    their history (created, handed down, each stage change) and activities."""
    now = timezone.now()
    planned = [_lead(rng, i, team, reps, now) for i in range(count)]
    leads = [lead for lead, _plan in planned]
    Lead.objects.bulk_create(leads)
    # Each lead's company record and contact, as lead_create and the import give them.
    leads_people_link(actor=team.manager, leads=leads)
    activities: list[Activity] = []
    entries: list[LeadEvent] = []
    for lead, plan in planned:
        entries.extend(_arrival(rng, lead, plan, team.manager))
        if plan.owner is None or plan.handed_at is None:
            continue  # in the pool: no rep, no work yet
        worked = _work(rng, lead, plan, now)
        activities.extend(worked)
        last = worked[-1].happened_at if worked else None
        lead.last_activity_at = last
        lead.updated_at = last or plan.handed_at
        entries.extend(_stage_changes(lead, plan, last))
    Activity.objects.bulk_create(activities, batch_size=500)
    history.write(entries)
    Lead.objects.bulk_update(
        leads,
        [
            "last_activity_at",
            "updated_at",
            "stage_changed_at",
            "closed_at",
            "moved_from",
            "moved_before_at",
        ],
        batch_size=500,
    )
    return len(leads)


def _company(rng: random.Random) -> tuple[str, str, str]:
    if rng.random() < 0.6:
        return (
            rng.choice(ZH_PREFIX) + rng.choice(ZH_SUFFIX),
            rng.choice(ZH_CONTACTS),
            f"1{rng.randint(30, 89)}{rng.randint(10000000, 99999999)}",
        )
    name = f"{rng.choice(EN_PREFIX)} {rng.choice(EN_SUFFIX)}"
    return name, rng.choice(EN_CONTACTS), f"+1 555 {rng.randint(1000000, 9999999)}"


def _stage(rng: random.Random, roll: float, owner: User | None) -> str:
    if owner is None:
        return Stage.NEW
    if roll < 0.25:
        return Stage.WON
    if roll < 0.37:
        return Stage.LOST
    return rng.choice(OPEN_STAGES)


def _lead(
    rng: random.Random, i: int, team: Team, reps: list[User], now: dt.datetime
) -> tuple[Lead, _Plan]:
    """One unsaved lead, created 5 to 90 days ago: 12% in the pool (new and untouched), the
    rest a rep's, won, lost or somewhere open; some chicken-rib; most with a next step due
    soon, written by the rep in their language."""
    today = timezone.localdate(now)
    company, contact, phone = _company(rng)
    created = now - dt.timedelta(days=rng.uniform(5, 90))
    roll = rng.random()
    owner = None if roll < 0.12 else rng.choice(reps)
    stage = _stage(rng, roll, owner)
    worked = owner is not None and stage not in CLOSED_STAGES
    rib = owner is not None and rng.random() < 0.18
    reasons = sorted(rng.sample(ChickenRibReason.values, rng.randint(1, 2))) if rib else []
    value = Decimal(rng.choice([20, 50, 80, 120, 200, 350, 500, 800, 1500]) * 1000)
    handed_at = created + dt.timedelta(hours=rng.uniform(1, 48)) if owner else None
    due = today + dt.timedelta(days=rng.randint(-6, 14)) if rng.random() < 0.7 else None
    language = owner.language if owner else team.manager.language
    lead = Lead(
        company=company if i % 7 else f"{company} ({rng.choice(CITIES)})",
        contact_name=contact,
        phone=phone,
        email=f"contact{i}@{rng.choice(['example.com', 'example.cn'])}",
        source=rng.choice(Source.values) if owner else rng.choice(POOL_SOURCES),
        value=value,
        currency=Currency.CNY if rng.random() < 0.85 else Currency.USD,
        stage=stage,
        expected_close=today + dt.timedelta(days=rng.randint(5, 120)),
        tender_date=today + dt.timedelta(days=rng.randint(3, 60)) if rng.random() < 0.25 else None,
        competitor=rng.choice(COMPETITORS),
        next_step=pick(rng, "next_step", language) if due and worked else "",
        next_step_due=due if due and worked else None,
        is_chicken_rib=rib,
        chicken_rib_reasons=reasons,
        notes=pick(rng, "note_ok", language) if owner and rng.random() < 0.4 else "",
        lost_reason=pick(rng, "lost_reason", language) if stage == Stage.LOST else "",
        team=team,
        owner=owner,
        handed_by=team.manager if owner else None,
        handed_at=handed_at,
        created_by=team.manager,
        created_at=created,
        updated_at=created,
        stage_changed_at=created,
    )
    plan = _Plan(created=created, handed_at=handed_at, owner=owner, walk=stage_walk(rng, stage))
    return lead, plan


def _arrival(rng: random.Random, lead: Lead, plan: _Plan, manager: User) -> list[LeadEvent]:
    """The lead's first history: created by the manager, then handed down to its rep."""
    entries = [history.created(lead=lead, actor=manager, at=plan.created)]
    if plan.owner is not None and plan.handed_at is not None:
        note = pick(rng, "handoff_note", manager.language)
        entries.append(
            history.handed_down(
                lead=lead, actor=manager, to_user=plan.owner, note=note, at=plan.handed_at
            )
        )
    return entries


def _work(rng: random.Random, lead: Lead, plan: _Plan, now: dt.datetime) -> list[Activity]:
    """Up to 12 activities by the rep after the hand-off, a few days apart. Stalled leads
    stop getting activities well before today; closed leads at closing. Chicken-rib leads
    go badly more often."""
    assert plan.owner is not None and plan.handed_at is not None
    stalled = rng.random() < 0.2
    if lead.stage in CLOSED_STAGES:
        end = now - dt.timedelta(days=rng.uniform(2, 45))
    elif stalled:
        end = now - dt.timedelta(days=rng.uniform(16, 30))
    else:
        end = now
    moment = plan.handed_at
    activities: list[Activity] = []
    for _n in range(rng.randint(1, 12)):
        moment = moment + dt.timedelta(days=rng.uniform(0.5, 8))
        if moment >= end:
            break
        bad = (lead.is_chicken_rib and rng.random() < 0.5) or rng.random() < 0.2
        activities.append(
            Activity(
                lead=lead,
                author=plan.owner,
                kind=rng.choice(ACTIVITY_KINDS),
                outcome=rng.choice(BAD_OUTCOMES) if bad else rng.choice(GOOD_OUTCOMES),
                happened_at=moment,
                note=pick(rng, "note_bad" if bad else "note_ok", plan.owner.language),
                created_at=moment,
            )
        )
    return activities


def _stage_changes(lead: Lead, plan: _Plan, last: dt.datetime | None) -> list[LeadEvent]:
    """The rep's moves along the walk, spread from the hand-off to the last activity (a
    closed lead closes two hours after it); the lead's stage and closing times follow."""
    assert plan.owner is not None and plan.handed_at is not None
    if not plan.walk:
        return []
    closed = lead.stage in CLOSED_STAGES
    end = (last + dt.timedelta(hours=2) if closed else last) if last else None
    end = max(end or plan.handed_at, plan.handed_at + dt.timedelta(hours=1))
    span = end - plan.handed_at
    events = []
    for n, (before, after) in enumerate(pairwise([Stage.NEW, *plan.walk]), start=1):
        events.append(
            history.stage_changed(
                lead=lead,
                actor=plan.owner,
                from_stage=before,
                to_stage=after,
                note=lead.lost_reason if after == Stage.LOST else "",
                at=plan.handed_at + span * n / len(plan.walk),
            )
        )
    lead.stage_changed_at = events[-1].created_at
    lead.moved_from = events[-1].from_stage
    lead.moved_before_at = events[-2].created_at if len(events) > 1 else None
    if closed:
        lead.closed_at = lead.updated_at = events[-1].created_at
    return events
