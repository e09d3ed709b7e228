"""The scripted people's days: each persona's session is a generator of actions, asked for its
next action only when that action's moment comes, so it decides on what the coach says by then.

- good rep: in the morning acts on the top three open nudges; in the afternoon calls the lead
  idle longest (one call in seven is not answered) and reports on the lead reported on
  longest ago; now and then wins or loses a lead; a weekly update on Fridays.
- silent rep: from day one, nothing.
- asker: one question a day ("what do I do next? can you call them?"), one call; reads the
  answers, ignores the rest of the coach.
- rotter: a good rep who never touches a chicken-rib lead (nor the nudges about one).
- answering manager: twice a day answers every waiting report (decides, answers the ask,
  acknowledges, replies to questions), then acts on their own nudges.
- silent manager: hands leads out, never answers.
- director: snoozes for a week each card they have read (the whole card at once).
Every manager hands their pool's chicken-rib leads out on day one (three to the team's rotter,
or a good rep where there is none, and one to a good rep) and two pool leads to a good rep
every third working day.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

from django.db.models import Max

from coaching import playbook
from coaching.models import Nudge, NudgeState
from coaching.simulation import acting
from coaching.simulation.clock import Step
from coaching.simulation.company import Company, Person, pool, rib_pool
from coaching.simulation.config import ASKER, GOOD, ROTTER, SILENT, Config
from crm.models import Lead, Outcome, Report, ReportKind, ReportState
from crm.pipeline import OPEN_STAGES, Stage


@dataclass
class Day:
    """What a session needs to know about the day it runs in."""

    config: Config
    company: Company
    rng: random.Random
    number: int  # working day, from 1

    @property
    def is_friday(self) -> bool:
        return self.number % 5 == 0


def _open_nudges(person: Person, limit: int) -> list[Nudge]:
    return list(
        Nudge.objects.filter(recipient=person.user, state=NudgeState.OPEN)
        .select_related("lead")
        .order_by("-priority", "created_at", "pk")[: limit * 3]
    )


def _my_leads(person: Person) -> list[Lead]:
    leads = Lead.objects.filter(owner=person.user, stage__in=OPEN_STAGES)
    if person.persona == ROTTER:
        leads = leads.exclude(is_chicken_rib=True)
    return list(leads)


# --- Reps --------------------------------------------------------------------------------------


def _is_update(nudge: Nudge) -> bool:
    rule = playbook.rules().get(nudge.rule_id)
    return getattr(rule, "kind", "advice") == "update"


def rep_morning(person: Person, day: Day) -> Iterator[Step]:
    """Open the answers waiting (an asker reads them too), then act on the top nudges."""
    if person.persona == SILENT:
        return
    nudges = _open_nudges(person, day.config.nudge_actions)
    for nudge in [n for n in nudges if _is_update(n)][:5]:
        yield partial(acting.respond, person, nudge.pk, day.rng)
    if person.persona == ASKER:
        return
    acted = 0
    for nudge in nudges:
        if acted >= day.config.nudge_actions:
            break
        if _is_update(nudge):
            continue
        if person.persona == ROTTER and nudge.lead is not None and nudge.lead.is_chicken_rib:
            continue  # lets it rot
        yield partial(acting.respond, person, nudge.pk, day.rng)
        acted += 1


def _work_leads(person: Person, day: Day) -> Iterator[Step]:
    leads = _my_leads(person)
    idle = sorted(
        leads, key=lambda lead: (lead.last_activity_at is not None, lead.last_activity_at)
    )
    for lead in idle[:1]:
        outcome = Outcome.UNREACHABLE if day.rng.random() < 1 / 7 else Outcome.REACHED
        yield partial(acting.log_work, person.user, lead, outcome)
    last = dict(
        Report.objects.filter(author=person.user, state=ReportState.SUBMITTED, lead__in=leads)
        .values_list("lead_id")
        .annotate(t=Max("submitted_at"))
    )
    stale = sorted(leads, key=lambda lead: (lead.pk in last, last.get(lead.pk)))
    for lead in stale[:1]:
        yield partial(acting.send_report, person.user, lead)


def rep_afternoon(person: Person, day: Day) -> Iterator[Step]:
    """Work the leads (an asker asks instead); now and then close one; Fridays a weekly update."""
    if person.persona == SILENT:
        return
    if person.persona == ASKER:
        leads = _my_leads(person)
        if leads:
            lead = day.rng.choice(leads)
            yield lambda: acting.send_report(person.user, lead, ReportKind.QUESTION)
            yield lambda: acting.log_work(person.user, lead, Outcome.UNREACHABLE)
        return
    yield from _work_leads(person, day)
    roll = day.rng.random()
    if roll < 0.05:
        late = [x for x in _my_leads(person) if x.stage in (Stage.PROPOSAL, Stage.NEGOTIATION)]
        if late:
            yield lambda: acting.close_one(person, late[0], won=True)
    elif roll < 0.08:
        leads = _my_leads(person)
        if leads:
            yield lambda: acting.close_one(person, leads[-1], won=False)
    if day.is_friday:
        yield lambda: acting.send_report(person.user, None)


def rep_evening(person: Person, day: Day) -> Iterator[Step]:
    """A late visit the customer refused: the coach's answer must wait for quiet hours."""
    leads = _my_leads(person)
    if leads:
        yield lambda: acting.log_work(person.user, leads[0], Outcome.REFUSED)


# --- Managers and directors --------------------------------------------------------------------


def _hand_outs(person: Person, day: Day) -> Iterator[Step]:
    """Day one: the pool's chicken-rib leads to the rotter (and one to a good rep); every third
    day two pool leads to a good rep, in turn."""
    team = person.team
    if team is None:
        return
    reps = day.company.team_reps(team)
    good = [r for r in reps if r.persona == GOOD]
    if day.number == 1:
        ribs = rib_pool(team)
        rotters = [r for r in reps if r.persona == ROTTER] or good[:1]
        if rotters and ribs:
            yield lambda: acting.hand_out(person, ribs[:3], rotters[0])
        if good and len(ribs) > 3:
            yield lambda: acting.hand_out(person, ribs[3:4], good[-1])
    elif day.number % 3 == 0 and good:
        leads = pool(team)[:2]
        rep = good[(day.number // 3) % len(good)]
        if leads:
            yield lambda: acting.hand_out(person, leads, rep)


def manager_session(person: Person, day: Day, *, hand_out: bool = True) -> Iterator[Step]:
    """Hand leads out (mornings); an answering manager then answers every waiting report and
    acts on their own top nudges."""
    if hand_out:
        yield from _hand_outs(person, day)
    if person.persona != "answering_manager" or person.team is None:
        return
    waiting = (
        Report.objects.filter(
            team=person.team, state=ReportState.SUBMITTED, acknowledged_at__isnull=True
        )
        .order_by("submitted_at")
        .values_list("pk", flat=True)[:40]
    )
    for report_id in list(waiting):
        yield partial(acting.answer, person, report_id, day.rng)
    for nudge in _open_nudges(person, 4)[:4]:
        yield partial(acting.respond, person, nudge.pk, day.rng)


def director_session(person: Person, day: Day) -> Iterator[Step]:
    """A director deals with each card they have read, then snoozes it for a week."""
    for rule_id in sorted({n.rule_id for n in _open_nudges(person, 5)}):
        yield partial(acting.snooze_card, person, rule_id, 7, "已约谈主管")


def rotting_leads(company: Company) -> dict[int, list[int]]:
    """Each rotter's chicken-rib leads (the subject of the rotting pattern)."""
    rotters = [p.pk for p in company.of(ROTTER)]
    rows = Lead.objects.filter(owner_id__in=rotters, is_chicken_rib=True).values_list(
        "owner_id", "pk"
    )
    found: dict[int, list[int]] = {}
    for owner, pk in rows:
        found.setdefault(owner, []).append(pk)
    return found
