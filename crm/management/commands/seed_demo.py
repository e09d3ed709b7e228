"""Build a believable demo company: one +2, two managers, six reps, ~300 leads, 90 days of work.

Idempotent: people and teams are matched by username and name; leads are made only for a team
that has none yet. `--reset` deletes the demo teams' leads first.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from crm.models import (
    Activity,
    ActivityKind,
    AskState,
    ChickenRibReason,
    Currency,
    Lead,
    LeadEvent,
    LeadEventKind,
    Outcome,
    Report,
    ReportKind,
    ReportReply,
    ReportState,
    Role,
    Source,
    Team,
    TeamMembership,
    User,
)
from crm.pipeline import Stage
from crm.reporting import ReportParts, assess

DEMO_PASSWORD = "kaopu-demo-2026"

PEOPLE: list[dict[str, Any]] = [
    {"username": "admin", "display_name": "Admin", "role": Role.ADMIN, "language": "en"},
    {"username": "zhao.min", "display_name": "赵敏", "role": Role.DIRECTOR, "language": "zh-hans"},
    {
        "username": "li.ge",
        "display_name": "李哥",
        "role": Role.MANAGER,
        "language": "zh-hans",
    },
    {"username": "sarah", "display_name": "Sarah Chen", "role": Role.MANAGER, "language": "en"},
    {
        "username": "xiao.guang",
        "display_name": "小广",
        "role": Role.REP,
        "language": "zh-hans",
        "team": "east",
    },
    {
        "username": "chen.jie",
        "display_name": "陈杰",
        "role": Role.REP,
        "language": "zh-hans",
        "team": "east",
    },
    {
        "username": "tom",
        "display_name": "Tom Walker",
        "role": Role.REP,
        "language": "en",
        "team": "east",
    },
    {
        "username": "liu.yang",
        "display_name": "刘洋",
        "role": Role.REP,
        "language": "zh-hans",
        "team": "north",
    },
    {
        "username": "emma",
        "display_name": "Emma Li",
        "role": Role.REP,
        "language": "en",
        "team": "north",
    },
    {
        "username": "wang.lei",
        "display_name": "王磊",
        "role": Role.REP,
        "language": "zh-hans",
        "team": "north",
    },
]
TEAMS = {
    "east": {"name": "华东销售部 East", "manager": "li.ge"},
    "north": {"name": "North Region 华北", "manager": "sarah"},
}

ZH_PREFIX = [
    "华润",
    "恒通",
    "远航",
    "金桥",
    "新锐",
    "瑞丰",
    "博远",
    "中科",
    "天泽",
    "鼎盛",
    "嘉禾",
    "宏达",
    "海川",
    "蓝天",
    "盛世",
    "长风",
    "星河",
    "万象",
    "东方",
    "明德",
]
ZH_SUFFIX = [
    "科技有限公司",
    "制造股份公司",
    "医疗器械有限公司",
    "物流集团",
    "智能装备有限公司",
    "新材料有限公司",
    "电子有限公司",
    "建设集团",
    "食品有限公司",
    "环保科技公司",
]
EN_PREFIX = [
    "Northwind",
    "Bluepeak",
    "Silverline",
    "Harbor",
    "Greenfield",
    "Apex",
    "Crescent",
    "Ironwood",
    "Summit",
    "Pacific",
    "Redstone",
    "Brightwater",
    "Evergreen",
    "Falcon",
]
EN_SUFFIX = [
    "Logistics",
    "Medical",
    "Robotics",
    "Foods",
    "Materials",
    "Energy",
    "Systems",
    "Packaging",
    "Instruments",
    "Retail Group",
]
ZH_CONTACTS = [
    "王经理",
    "张总",
    "刘工",
    "陈主任",
    "杨采购",
    "赵总监",
    "黄经理",
    "周工",
    "吴总",
    "孙主管",
]
EN_CONTACTS = ["Anna Schmidt", "David Park", "Maria Lopez", "James Wu", "Olivia Brown", "Ken Ito"]
CITIES = ["上海", "苏州", "北京", "天津", "Shenzhen", "Hangzhou"]
COMPETITORS = ["友商A", "友商B", "Acme Corp", "Globex", ""]
NEXT_STEPS = [
    "约技术交流",
    "发报价单",
    "拜访采购部",
    "Send revised quote",
    "Demo for the plant manager",
    "Confirm tender documents",
    "Call back after budget meeting",
    "现场蹲点，见决策人",
]
NOTES_OK = [
    "客户有兴趣，要求下周演示",
    "Talked to procurement, budget confirmed for Q1",
    "见到了技术负责人，需求明确",
    "Customer asked for references",
    "报价已发，等待反馈",
]
NOTES_BAD = [
    "电话一直打不通",
    "Receptionist refused to connect",
    "客户说今年没有预算",
    "Competitor already installed last year",
    "对方说再考虑考虑",
]


OPEN_STAGES = [Stage.NEW, Stage.CONTACTED, Stage.QUALIFIED, Stage.PROPOSAL, Stage.NEGOTIATION]
CLOSED_STAGES = (Stage.WON, Stage.LOST)
POOL_SOURCES = [Source.BRAND, Source.TRADE_SHOW, Source.WEBSITE, Source.MARKETING]
LOST_REASONS = ["价格太高，客户选了友商", "Budget cut", "项目取消"]
HANDOFF_NOTES = [
    "practice lead",
    "big account, report weekly",
    "老客户，跟紧一点",
    "鸡肋也是肉，试试看",
    "",
]
# A call twice as likely as any other kind.
ACTIVITY_KINDS = [
    ActivityKind.CALL,
    ActivityKind.CALL,
    ActivityKind.VISIT,
    ActivityKind.MEETING,
    ActivityKind.EMAIL,
    ActivityKind.DOORSTEP,
]
BAD_OUTCOMES = [Outcome.UNREACHABLE, Outcome.REFUSED]
GOOD_OUTCOMES = [Outcome.REACHED, Outcome.INTERESTED, Outcome.FOLLOW_UP]


@dataclass
class _Plan:
    """What the lead builder decided for a lead, for its history and activities."""

    created: dt.datetime
    handed_at: dt.datetime | None
    owner: User | None


class Command(BaseCommand):
    help = "Load the demo company (idempotent). Demo password: " + DEMO_PASSWORD

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--reset", action="store_true", help="Delete the demo leads first.")
        parser.add_argument("--leads", type=int, default=300, help="How many leads in all.")
        parser.add_argument("--seed", type=int, default=7, help="Random seed.")

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        rng = random.Random(options["seed"])
        users = self._people()
        teams = self._teams(users)
        if options["reset"]:
            Lead.objects.filter(team__in=teams.values()).delete()
        made = 0
        per_team = options["leads"] // len(teams)
        for team in teams.values():
            if Lead.objects.filter(team=team).exists():
                continue
            reps = [u for u in users.values() if u.team_id == team.pk]
            made += self._leads(rng, team, reps, per_team)
            self._reports(rng, team)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo company ready: {len(users)} people, {len(teams)} teams, "
                f"{made} new leads ({Lead.objects.count()} in all). Password: {DEMO_PASSWORD}"
            )
        )

    def _people(self) -> dict[str, User]:
        users: dict[str, User] = {}
        for person in PEOPLE:
            user, created = User.objects.get_or_create(
                username=person["username"],
                defaults={
                    "display_name": person["display_name"],
                    "role": person["role"],
                    "language": person["language"],
                    "email": f"{person['username']}@demo.kaopu.example",
                    "is_staff": person["role"] == Role.ADMIN,
                    "is_superuser": person["role"] == Role.ADMIN,
                },
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            users[person["username"]] = user
        return users

    def _teams(self, users: dict[str, User]) -> dict[str, Team]:
        teams: dict[str, Team] = {}
        for key, spec in TEAMS.items():
            team, _ = Team.objects.get_or_create(
                name=spec["name"],
                defaults={"manager": users[spec["manager"]], "director": users["zhao.min"]},
            )
            teams[key] = team
        start = timezone.now() - dt.timedelta(days=400)
        for person in PEOPLE:
            if "team" not in person:
                continue
            user = users[person["username"]]
            team = teams[person["team"]]
            if user.team_id != team.pk:
                user.team = team
                user.save(update_fields=["team"])
            TeamMembership.objects.get_or_create(
                user=user, left_at=None, defaults={"team": team, "joined_at": start}
            )
        return teams

    def _company(self, rng: random.Random) -> tuple[str, str, str]:
        if rng.random() < 0.6:
            return (
                rng.choice(ZH_PREFIX) + rng.choice(ZH_SUFFIX),
                rng.choice(ZH_CONTACTS),
                f"1{rng.randint(30, 89)}{rng.randint(10000000, 99999999)}",
            )
        name = f"{rng.choice(EN_PREFIX)} {rng.choice(EN_SUFFIX)}"
        return name, rng.choice(EN_CONTACTS), f"+1 555 {rng.randint(1000000, 9999999)}"

    def _leads(self, rng: random.Random, team: Team, reps: list[User], count: int) -> int:
        """`count` leads for the team: a few in the pool, the rest handed to its reps, with
        their history (created, handed down, stage changed) and activities."""
        now = timezone.now()
        planned = [self._lead(rng, i, team, reps, now) for i in range(count)]
        leads = [lead for lead, _plan in planned]
        Lead.objects.bulk_create(leads)
        activities: list[Activity] = []
        history: list[LeadEvent] = []
        for lead, plan in planned:
            history.extend(self._lead_arrival(rng, lead, plan, team.manager))
            if plan.owner is None or plan.handed_at is None:
                continue  # in the pool: no rep, no work yet
            worked = self._lead_work(rng, lead, plan, now)
            activities.extend(worked)
            last = worked[-1].happened_at if worked else None
            lead.last_activity_at = last
            lead.updated_at = last or plan.handed_at
            if lead.stage != Stage.NEW:
                history.append(self._lead_stage_change(lead, plan, last))
        Activity.objects.bulk_create(activities, batch_size=500)
        LeadEvent.objects.bulk_create(history, batch_size=500)
        Lead.objects.bulk_update(
            leads,
            ["last_activity_at", "updated_at", "stage_changed_at", "closed_at"],
            batch_size=500,
        )
        return len(leads)

    def _lead(
        self, rng: random.Random, i: int, team: Team, reps: list[User], now: dt.datetime
    ) -> tuple[Lead, _Plan]:
        """One unsaved lead, created 5 to 90 days ago: 12% in the pool (new), the rest a rep's,
        won, lost or somewhere open; some chicken-rib; most with a next step due soon."""
        today = timezone.localdate(now)
        manager = team.manager
        company, contact, phone = self._company(rng)
        created = now - dt.timedelta(days=rng.uniform(5, 90))
        roll = rng.random()
        owner = None if roll < 0.12 else rng.choice(reps)
        if owner is None:
            stage = Stage.NEW
        elif roll < 0.25:
            stage = Stage.WON
        elif roll < 0.37:
            stage = Stage.LOST
        else:
            stage = rng.choice(OPEN_STAGES)
        rib = owner is not None and rng.random() < 0.18
        reasons = sorted(rng.sample(ChickenRibReason.values, rng.randint(1, 2))) if rib else []
        value = Decimal(rng.choice([20, 50, 80, 120, 200, 350, 500, 800, 1500]) * 1000)
        handed_at = created + dt.timedelta(hours=rng.uniform(1, 48)) if owner else None
        due = today + dt.timedelta(days=rng.randint(-6, 14)) if rng.random() < 0.7 else None
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
            tender_date=today + dt.timedelta(days=rng.randint(3, 60))
            if rng.random() < 0.25
            else None,
            competitor=rng.choice(COMPETITORS),
            next_step=rng.choice(NEXT_STEPS) if due and stage not in CLOSED_STAGES else "",
            next_step_due=due if stage not in CLOSED_STAGES else None,
            is_chicken_rib=rib,
            chicken_rib_reasons=reasons,
            notes="" if rng.random() < 0.6 else rng.choice(NOTES_OK),
            lost_reason=rng.choice(LOST_REASONS) if stage == Stage.LOST else "",
            team=team,
            owner=owner,
            handed_by=manager if owner else None,
            handed_at=handed_at,
            created_by=manager,
            created_at=created,
            updated_at=created,
            stage_changed_at=created,
        )
        return lead, _Plan(created=created, handed_at=handed_at, owner=owner)

    def _lead_arrival(
        self, rng: random.Random, lead: Lead, plan: _Plan, manager: User
    ) -> list[LeadEvent]:
        """The lead's first history: created by the manager, then handed down to its rep."""
        entries = [
            LeadEvent(lead=lead, kind=LeadEventKind.CREATED, actor=manager, created_at=plan.created)
        ]
        if plan.owner is not None and plan.handed_at is not None:
            entries.append(
                LeadEvent(
                    lead=lead,
                    kind=LeadEventKind.HANDED_DOWN,
                    actor=manager,
                    to_user=plan.owner,
                    note=rng.choice(HANDOFF_NOTES),
                    created_at=plan.handed_at,
                )
            )
        return entries

    def _lead_work(
        self, rng: random.Random, lead: Lead, plan: _Plan, now: dt.datetime
    ) -> list[Activity]:
        """Up to 12 activities by the rep after the hand-off, a few days apart. Stalled leads
        stop getting activities well before today; closed leads at closing. Chicken-rib leads
        go badly more often."""
        stalled = rng.random() < 0.2
        if lead.stage in CLOSED_STAGES:
            end = now - dt.timedelta(days=rng.uniform(2, 45))
        elif stalled:
            end = now - dt.timedelta(days=rng.uniform(16, 30))
        else:
            end = now
        assert plan.handed_at is not None
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
                    note=rng.choice(NOTES_BAD if bad else NOTES_OK),
                    created_at=moment,
                )
            )
        return activities

    def _lead_stage_change(self, lead: Lead, plan: _Plan, last: dt.datetime | None) -> LeadEvent:
        """The rep moved the lead from new to its stage at the last activity (two hours after
        it for a closed lead); the lead's stage and closing times follow."""
        assert plan.handed_at is not None
        closed = lead.stage in CLOSED_STAGES
        moment_of_change = last + dt.timedelta(hours=2) if closed and last else last
        changed = max((moment_of_change or plan.handed_at), plan.handed_at)
        lead.stage_changed_at = changed
        if closed:
            lead.closed_at = changed
            lead.updated_at = changed
        return LeadEvent(
            lead=lead,
            kind=LeadEventKind.STAGE_CHANGED,
            actor=plan.owner,
            from_stage=Stage.NEW,
            to_stage=lead.stage,
            note=lead.lost_reason,
            created_at=changed,
        )

    def _reports(self, rng: random.Random, team: Team) -> None:
        """Reports as a real team has them: most open leads reported on lately, some late,
        a few escalation plans on chicken-rib leads, open asks, acknowledgements and replies."""
        now = timezone.now()
        manager = team.manager
        reports: list[Report] = []
        leads = Lead.objects.filter(team=team, owner__isnull=False).exclude(stage=Stage.NEW)
        for lead in leads:
            roll = rng.random()
            if lead.stage == Stage.LOST:
                if roll < 0.5:
                    kind = ReportKind.LOSS_REVIEW
                else:
                    continue
            elif lead.is_chicken_rib and roll < 0.4:
                kind = ReportKind.ESCALATION
            elif roll < 0.65:
                kind = ReportKind.PROGRESS
            elif roll < 0.72:
                kind = ReportKind.QUESTION
            else:
                continue
            zh = rng.random() < 0.6
            parts = {
                "status_now": rng.choice(
                    ["客户技术部已认可方案，采购在走流程", "决策人出差，下周回来", "友商报价低 8%"]
                    if zh
                    else ["Procurement is reviewing our quote", "The plant manager wants a demo"]
                ),
                "what_i_did": rng.choice(["上门拜访了两次，见到了技术负责人", "Sent references"])
                if rng.random() < 0.8
                else "",
                "next_step": rng.choice(["约决策人面谈", "Demo at their plant"])
                if rng.random() < 0.8
                else "",
                "backup_plan": rng.choice(["找设备部的老同事引荐", "Offer a pilot"])
                if rng.random() < 0.5
                else "",
                "ask": rng.choice(
                    ["请您出面约一下对方总监，下周三前", "Approve 5% discount by Friday"]
                )
                if rng.random() < 0.35
                else "",
            }
            if kind == ReportKind.QUESTION and not parts["ask"]:
                parts["ask"] = (
                    "这个客户要不要先报低价抢进去？" if zh else "Should we bid low to get in?"
                )
            submitted = now - dt.timedelta(days=rng.uniform(0.2, 12))
            today = timezone.localdate(submitted)
            next_due = today + dt.timedelta(days=rng.randint(2, 10)) if parts["next_step"] else None
            ask_due = today + dt.timedelta(days=rng.randint(1, 6)) if parts["ask"] else None
            quality = assess(
                ReportParts(kind=kind, next_step_due=next_due, ask_due=ask_due, **parts)
            )
            acknowledged = submitted + dt.timedelta(hours=rng.uniform(1, 30))
            is_acknowledged = acknowledged < now and rng.random() < 0.7
            reports.append(
                Report(
                    author=lead.owner,
                    team=team,
                    lead=lead,
                    kind=kind,
                    state=ReportState.SUBMITTED,
                    next_step_due=next_due,
                    ask_due=ask_due,
                    share_with_director=lead.value >= 1_000_000 and rng.random() < 0.5,
                    quality_score=quality.score,
                    quality_issues=quality.issues,
                    on_time=rng.random() < 0.75,
                    created_at=submitted,
                    updated_at=submitted,
                    submitted_at=submitted,
                    read_at=acknowledged if is_acknowledged or rng.random() < 0.3 else None,
                    acknowledged_at=acknowledged if is_acknowledged else None,
                    acknowledged_by=manager if is_acknowledged else None,
                    ask_state=AskState.OPEN if parts["ask"] else AskState.NONE,
                    **parts,
                )
            )
        Report.objects.bulk_create(reports, batch_size=500)
        replies = [
            ReportReply(
                report=report,
                author=manager,
                body=rng.choice(
                    ["好的，按计划推进，有问题随时找我。", "Good plan. Keep me posted."]
                ),
                created_at=report.acknowledged_at,
            )
            for report in reports
            if report.acknowledged_at and rng.random() < 0.4
        ]
        ReportReply.objects.bulk_create(replies, batch_size=500)
