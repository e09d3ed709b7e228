"""The simulated company on day one, built in bulk through the CRM's building blocks.

People and teams are bulk inserts; every lead goes through `crm.services.lead_bulk_create`
(its checks, history and events) and `lead_hand_off` (per rep), so the leads look exactly like
leads a manager imported and handed out three weeks before day one. The three weeks since are
written in bulk: one activity and one acknowledged progress report per owned lead, each lead
carrying that report's next step. The coach is assumed to have dealt with that past: the
set-up's outbox events are marked handled, and day one starts with no nudge at all.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth.hashers import make_password

from coaching.simulation.config import ANSWERS, DIRECTOR, IGNORES, REP_CYCLE, Config
from crm import services
from crm.models import (
    Activity,
    ActivityKind,
    DomainEvent,
    Lead,
    Outcome,
    Report,
    ReportKind,
    ReportState,
    Role,
    Source,
    Team,
    TeamMembership,
    User,
)
from crm.pipeline import Stage
from crm.services.reports import lead_last_report_refresh

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ("伟", "芳", "娜", "敏", "静", "磊", "洋", "勇", "艳", "杰", "涛", "明", "超", "霞", "平")
CITIES = ("华东", "金桥", "宏达", "鑫源", "东方", "天河", "长江", "瑞丰", "恒通", "博远")
TRADES = ("机电", "精密仪器", "医疗器械", "新材料", "物流", "环保科技", "电气", "自动化")
OPEN_MIX = (Stage.NEW, Stage.CONTACTED, Stage.QUALIFIED, Stage.PROPOSAL, Stage.NEGOTIATION)
RIB_POOL = 4  # chicken-rib leads in each team's pool (handed out on day one)
NEXT_STEP = "约技术负责人做方案演示"


@dataclass
class Person:
    """One simulated person and the people above them."""

    user: User
    persona: str
    team: Team | None = None
    manager: User | None = None
    director: User | None = None

    @property
    def pk(self) -> int:
        return self.user.pk


@dataclass
class Company:
    """Everyone in the simulation, by id and by persona."""

    people: dict[int, Person] = field(default_factory=dict)
    teams: list[Team] = field(default_factory=list)

    def add(self, person: Person) -> None:
        self.people[person.pk] = person

    def of(self, *personas: str) -> list[Person]:
        return [p for p in self.people.values() if p.persona in personas]

    def team_reps(self, team: Team) -> list[Person]:
        return [p for p in self.people.values() if p.team == team and p.user.role == Role.REP]


def _name(i: int) -> str:
    return SURNAMES[i % len(SURNAMES)] + GIVEN[(i // len(SURNAMES)) % len(GIVEN)]


def _users(
    prefix: str, role: str, count: int, first: int, team: Callable[[int], Team | None]
) -> list[User]:
    password = make_password(None)  # nobody signs in as a simulated person
    users = [
        User(
            username=f"sim.{prefix}{i + 1:03d}",
            display_name=_name(first + i),
            email=f"sim.{prefix}{i + 1:03d}@sim.kaopu.localhost",
            role=role,
            language="zh-hans",
            password=password,
            team=team(i),
        )
        for i in range(count)
    ]
    return User.objects.bulk_create(users)


def _people(config: Config, now: dt.datetime) -> Company:
    company = Company()
    directors = _users("director", Role.DIRECTOR, config.directors, 0, lambda i: None)
    managers = _users("manager", Role.MANAGER, config.managers, config.directors, lambda i: None)
    teams = Team.objects.bulk_create(
        Team(
            name=f"模拟{i + 1:02d}组",
            manager=manager,
            director=directors[i % len(directors)],
            created_at=now,
        )
        for i, manager in enumerate(managers)
    )
    company.teams = teams
    for director in directors:
        company.add(Person(director, DIRECTOR))
    for i, (manager, team) in enumerate(zip(managers, teams, strict=True)):
        company.add(Person(manager, ANSWERS if i % 2 == 0 else IGNORES, team, None, team.director))
    per = config.reps_per_team
    reps = _users(
        "rep", Role.REP, config.reps, config.directors + config.managers, lambda i: teams[i // per]
    )
    TeamMembership.objects.bulk_create(
        TeamMembership(user=rep, team=rep.team, joined_at=now) for rep in reps if rep.team
    )
    for i, rep in enumerate(reps):
        team = teams[i // per]
        persona = REP_CYCLE[(i % per + 3 * (i // per)) % len(REP_CYCLE)]
        company.add(Person(rep, persona, team, team.manager, team.director))
    return company


def _lead_rows(config: Config, rng: random.Random, start: dt.date, owned: int) -> list[dict]:
    """The data of a team's leads: `owned` to hand out now, then the pool (chicken-rib first)."""
    rows: list[dict] = []
    for i in range(owned + config.pool_per_team):
        company = f"{rng.choice(CITIES)}{rng.choice(TRADES)}{rng.randint(1, 999):03d}号有限公司"
        big = i < owned and i % (2 * config.leads_per_rep) == 0
        value = rng.randint(1_200_000, 3_000_000) if big else rng.randint(20, 800) * 1000
        row: dict = {
            "company": company,
            "contact_name": _name(rng.randint(0, 299)),
            "phone": f"138{rng.randint(0, 99_999_999):08d}",
            "source": rng.choice([s for s, _label in Source.choices]),
            "value": Decimal(value),
            "expected_close": start + dt.timedelta(days=rng.randint(30, 120)),
        }
        if i < owned:  # the next step of its last report (see _past_report)
            row |= {
                "next_step": NEXT_STEP,
                "next_step_due": start + dt.timedelta(days=rng.randint(1, 8)),
            }
        if i < owned and rng.random() < 0.15:
            row["tender_date"] = start + dt.timedelta(days=rng.randint(4, 40))
        if owned <= i < owned + RIB_POOL:
            row |= {"is_chicken_rib": True, "chicken_rib_reasons": ["worked_before"]}
        rows.append(row)
    return rows


def _leads(config: Config, company: Company, rng: random.Random, start: dt.date) -> list[Lead]:
    """Each team's leads through lead_bulk_create, the owned ones handed down rep by rep."""
    owned: list[Lead] = []
    for team in company.teams:
        manager = team.manager
        reps = company.team_reps(team)
        count = len(reps) * config.leads_per_rep
        services.lead_bulk_create(
            actor=manager, rows=_lead_rows(config, rng, start, count), team=team
        )
        ids = list(Lead.objects.filter(team=team).order_by("pk").values_list("pk", flat=True))
        for n, rep in enumerate(reps):
            chunk = ids[n * config.leads_per_rep : (n + 1) * config.leads_per_rep]
            services.lead_hand_off(
                actor=manager, lead_ids=chunk, to_user=rep.user, note="按区域分给你，请跟进"
            )
        owned.extend(Lead.objects.filter(pk__in=ids[:count]).order_by("pk"))
    return owned


def _stages(leads: Sequence[Lead], rng: random.Random) -> None:
    by_stage: dict[str, list[int]] = {}
    for lead in leads:
        lead.stage = rng.choice(OPEN_MIX)
        by_stage.setdefault(lead.stage, []).append(lead.pk)
    for stage, ids in by_stage.items():
        Lead.objects.filter(pk__in=ids).update(stage=stage)


def _past_work(
    company: Company, leads: Sequence[Lead], rng: random.Random, start: dt.datetime
) -> None:
    """One activity and one acknowledged progress report per owned lead, in the last two
    weeks; the lead keeps the report's next step (set at creation) and its latest activity."""
    activities: list[Activity] = []
    reports: list[Report] = []
    idle: dict[dt.datetime, list[int]] = defaultdict(list)
    for lead in leads:
        owner = company.people[lead.owner_id or 0]
        when = start - dt.timedelta(days=rng.randint(1, 12), hours=rng.choice((0, 3, 6)))
        activities.append(
            Activity(
                lead=lead,
                author=owner.user,
                kind=rng.choice([ActivityKind.CALL, ActivityKind.VISIT]),
                outcome=Outcome.REACHED,
                happened_at=when,
                note="沟通了需求和预算",
                created_at=when,
            )
        )
        idle[when].append(lead.pk)
        sent = start - dt.timedelta(days=rng.randint(1, 6), hours=rng.choice((0, 3, 6)))
        reports.append(_past_report(owner, lead, sent))
    Activity.objects.bulk_create(activities, batch_size=2000)
    Report.objects.bulk_create(reports, batch_size=2000)
    # Lead.last_reported_at, as report_submit keeps it.
    lead_last_report_refresh(leads=Lead.objects.filter(pk__in={r.lead_id for r in reports}))
    for when, ids in idle.items():  # a few dozen moments: one update each
        Lead.objects.filter(pk__in=ids).update(last_activity_at=when)


def _past_report(owner: Person, lead: Lead, sent: dt.datetime) -> Report:
    answered = sent + dt.timedelta(hours=4)
    return Report(
        author=owner.user,
        team=owner.team,
        lead=lead,
        kind=ReportKind.PROGRESS,
        state=ReportState.SUBMITTED,
        status_now="客户在比较我们和现有供应商。",
        what_i_did="上门拜访，发了修改后的报价。",
        next_step=lead.next_step,
        next_step_due=lead.next_step_due,
        backup_plan="如果演示推迟，就请他们参观我们的样板客户。",
        quality_score=85,
        on_time=True,
        created_at=sent,
        updated_at=sent,
        submitted_at=sent,
        read_at=answered,
        acknowledged_at=answered,
        acknowledged_by=owner.manager,
        answered_at=answered,
        author_seen_at=answered,
    )


def build(config: Config, *, now: dt.datetime, start: dt.datetime) -> Company:
    """The company as it stands at `start`, set up at `now` (three weeks earlier). The outbox
    events of the set-up are marked handled: the coach had dealt with that past."""
    rng = random.Random(config.seed)
    company = _people(config, now)
    leads = _leads(config, company, rng, start.date())
    _stages(leads, rng)
    _past_work(company, leads, rng, start)
    DomainEvent.objects.filter(processed_at__isnull=True).update(processed_at=now)
    return company


def rib_pool(team: Team) -> list[Lead]:
    """The chicken-rib leads waiting in the team's pool."""
    return list(
        Lead.objects.filter(team=team, owner__isnull=True, is_chicken_rib=True).order_by("pk")
    )


def pool(team: Team) -> list[Lead]:
    """The other open leads waiting in the team's pool."""
    return list(
        Lead.objects.filter(
            team=team, owner__isnull=True, is_chicken_rib=False, stage__in=OPEN_MIX
        ).order_by("pk")
    )
