"""Build the benchmark company with bulk inserts: by default 100k leads and 1M activities,
20 teams of 10 reps (their 20 managers, 2 directors over 10 teams each, one admin), ~20k
reports (N/5) with replies, ~50k nudges (N/2) with the emails that went out for them, and the
lead history (a "created" and a "handed down" entry per lead, and each owned lead's stage
moves: 2.6 on average, over the 90 days before its latest).

    python bench/generate.py                       # 100k leads, 1M activities
    python bench/generate.py --leads 10000 --activities 100000
    python bench/generate.py --mixed               # teams of 500, 5,000 and 50,000 leads
    python bench/generate.py --teams 200           # 200 teams (of 500 leads at 100k)
    python bench/generate.py --reset               # wipe the bench database first
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kaopu_bench python bench/generate.py

It refuses a database that already holds people or leads (use --reset). The data is
deterministic (seeded) apart from being dated relative to the moment it is generated. Fixed
subjects for bench/run.py: the rep `bench.rep001`, the manager `bench.manager01` (team 1), the
director `bench.director1`, and lead #1, "Bench timeline lead", owned by the rep with exactly
200 activities.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench import common

TEAMS = 20
REPS_PER_TEAM = 10
DIRECTORS = 2
BATCH = 5_000
SEED = 20261129
PASSWORD = "kaopu-bench-2026"
TIMELINE_LEAD_ID = 1
TIMELINE_COMPANY = "Bench timeline lead 基准时间线"
TIMELINE_ACTIVITIES = 200

BENCH_REP = "bench.rep001"
BENCH_MANAGER = "bench.manager01"
BENCH_DIRECTOR = "bench.director1"

CN_HEAD = [
    "华东",
    "北方",
    "金桥",
    "宏达",
    "鑫源",
    "东方",
    "天河",
    "长江",
    "瑞丰",
    "恒通",
    "博远",
    "嘉和",
]
CN_TAIL = [
    "机械",
    "化工",
    "电子",
    "物流",
    "建材",
    "医疗器械",
    "食品",
    "纺织",
    "汽车配件",
    "环保科技",
]
CN_KIND = ["有限公司", "股份有限公司", "集团", "制造厂"]
EN_HEAD = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Hooli",
    "Vandelay",
    "Soylent",
]
EN_TAIL = ["Industries", "Logistics", "Plastics", "Medical", "Foods", "Textiles", "Motors", "Labs"]
SURNAMES = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "Smith", "Chen", "Müller"]
GIVEN = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "勇", "艳", "杰", "Anna", "Tom", "Lena"]
NOTES = [
    "",
    "",
    "客户说下周再联系，采购在走流程。",
    "Left a voicemail; will try again Thursday.",
    "门口等了两个小时，见到了设备科长。",
    "They asked for a revised quote with installation included.",
    "竞争对手报价低 8%，需要主管支持价格。",
    "Met the plant manager, budget confirmed for Q3.",
]

# Open and closed stages, with the share of owned leads in each.
STAGE_WEIGHTS = {
    "new": 15,
    "contacted": 20,
    "qualified": 15,
    "proposal": 10,
    "negotiation": 5,
    "won": 15,
    "lost": 20,
}
STATUS_NOW = "客户在比较三家报价，我们的技术方案评分最高。The buyer compares three quotes."
WHAT_I_DID = "上门两次，见了设备科和采购。Visited twice, met engineering and purchasing."
OPEN = ("new", "contacted", "qualified", "proposal", "negotiation")


def company_name(rng: random.Random, n: int) -> str:
    if rng.random() < 0.7:
        return f"{rng.choice(CN_HEAD)}{rng.choice(CN_TAIL)}{rng.choice(CN_KIND)} {n}"
    return f"{rng.choice(EN_HEAD)} {rng.choice(EN_TAIL)} {n}"


def between(rng: random.Random, start: dt.datetime, end: dt.datetime) -> dt.datetime:
    if end <= start:
        return start
    return start + dt.timedelta(seconds=rng.uniform(0, (end - start).total_seconds()))


def existing_counts() -> tuple[int, int]:
    from crm.models import Lead, User

    return User.objects.count(), Lead.objects.count()


def dataset_ready() -> bool:
    """The dataset bench/run.py measures is there (its fixed rep and timeline lead)."""
    from crm.models import Lead, User

    return (
        User.objects.filter(username=BENCH_REP).exists()
        and Lead.objects.filter(pk=TIMELINE_LEAD_ID, company=TIMELINE_COMPANY).exists()
    )


def reset() -> None:
    from django.core.management import call_command

    print("wiping the bench database (flush)…", flush=True)
    call_command("flush", interactive=False, verbosity=0)


def _companies_and_contacts(leads: int, company_of: list[str], now: dt.datetime) -> int:
    """One company per lead (company #i is lead #i's), the lead's own contact on it, and a
    second person on half the leads (a decision maker on a third of those): ~1.5 contacts
    per lead. A third of the activities say whom they were with (the lead's first person).
    A random generator of its own, so the rest of the dataset stays as it was."""
    from django.db import connection, transaction
    from django.db.models import F

    from crm.models import Activity, Company, Contact, ContactRole, Lead, LeadContact
    from crm.models.companies import company_name_key

    rng = random.Random(SEED + 19)
    roles = [r for r in ContactRole.values if r != ContactRole.DECISION_MAKER]
    titles = ["采购经理", "技术总监", "总经理", "财务主管", "IT 经理", "Plant manager", ""]
    contact_pk = 0
    with transaction.atomic():
        for chunk_start in range(1, leads + 1, BATCH):
            chunk = range(chunk_start, min(chunk_start + BATCH, leads + 1))
            companies, contacts, links = [], [], []
            for i in chunk:
                name = company_of[i]
                companies.append(
                    Company(pk=i, name=name, name_key=company_name_key(name)[:200], created_at=now)
                )
                for n in range(2 if rng.random() < 0.5 else 1):
                    contact_pk += 1
                    contacts.append(
                        Contact(
                            pk=contact_pk,
                            company_id=i,
                            name=f"{rng.choice(SURNAMES)}{rng.choice(GIVEN)}",
                            title=rng.choice(titles),
                            mobile=f"1{rng.randrange(30, 90)}{rng.randrange(10**7, 10**8)}",
                            email=f"p{contact_pk}@customer{i % 997}.example",
                            created_at=now,
                        )
                    )
                    role = (
                        ContactRole.DECISION_MAKER
                        if n == 1 and rng.random() < 0.33
                        else rng.choice(roles)
                    )
                    links.append(LeadContact(lead_id=i, contact_id=contact_pk, role=role))
            Company.objects.bulk_create(companies, batch_size=BATCH)
            Contact.objects.bulk_create(contacts, batch_size=BATCH)
            LeadContact.objects.bulk_create(links, batch_size=BATCH)
        Lead.objects.update(account_id=F("pk"))
        through = connection.ops.quote_name(Activity.contacts.through._meta.db_table)
        activity = connection.ops.quote_name(Activity._meta.db_table)
        link = connection.ops.quote_name(LeadContact._meta.db_table)
        with connection.cursor() as cursor:
            first = f"(SELECT MIN(l.contact_id) FROM {link} l WHERE l.lead_id = a.lead_id)"
            cursor.execute(
                f"INSERT INTO {through} (activity_id, contact_id) "
                f"SELECT a.id, {first} FROM {activity} a WHERE a.id % 3 = 0"
            )
    return contact_pk


# The history covers this many days: a lead's stage moves fall within the 90 days before its
# latest move (or since it was handed down, if that is later).
HISTORY_DAYS = 90


def _stage_path(rng: random.Random, stage: str) -> list[tuple[str, str]]:
    """The moves that brought an owned lead from "new" to `stage`, as the pipeline allows them
    (crm.pipeline.TRANSITIONS): forward one stage at a time (new → qualified now and then),
    a deal that slipped back one stage and came forward again, won or lost from an open stage,
    and a lost lead reopened and lost again."""
    order = list(OPEN)
    moves: list[tuple[str, str]] = []

    def walk(to: int) -> None:
        at = order.index(moves[-1][1]) if moves else 0
        while at < to:
            step = 2 if at == 0 and to >= 2 and rng.random() < 0.2 else 1
            moves.append((order[at], order[at + step]))
            at += step
            if 0 < at < len(order) - 1 and at < to and rng.random() < 0.15:  # a slip back
                moves.append((order[at], order[at - 1]))
                at -= 1

    def current() -> str:
        return moves[-1][1] if moves else "new"

    if stage in OPEN:
        target = order.index(stage)
        if target < len(order) - 1 and rng.random() < 0.2:  # went one further, then slipped
            walk(target + 1)
            moves.append((current(), stage))
        else:
            walk(target)
            if target == 0 and rng.random() < 0.3:  # contacted, then back to new
                moves.extend([("new", "contacted"), ("contacted", "new")])
    elif stage == "won":
        walk(rng.choices(range(5), [5, 10, 20, 35, 30])[0])
        moves.append((current(), "won"))
    else:  # lost
        walk(rng.choices(range(5), [25, 30, 20, 15, 10])[0])
        moves.append((current(), "lost"))
        if rng.random() < 0.1:  # the customer came back, and went again
            moves.extend([("lost", "contacted"), ("contacted", "lost")])
    return moves


def _stage_history(now: dt.datetime) -> int:
    """Every owned lead's stage moves as the app writes them (crm.history.stage_changed, by
    the owner), ending at its stage today and at its `stage_changed_at`, the earlier ones
    spread over the 90 days before (not before the hand-off). Pool leads never moved. A random
    generator of its own, so the rest of the dataset stays as it was."""
    from django.db import transaction

    from crm.models import Lead, LeadEvent, LeadEventKind
    from crm.services.leads import leads_moves_refresh

    rng = random.Random(SEED + 22)
    rows = (
        Lead.objects.filter(owner__isnull=False)
        .order_by("pk")
        .values_list("pk", "owner_id", "stage", "handed_at", "created_at", "stage_changed_at")
    )
    written = 0
    batch: list[LeadEvent] = []
    with transaction.atomic():
        for pk, owner, stage, handed, created, changed in rows.iterator(chunk_size=BATCH):
            moves = _stage_path(rng, stage)
            if not moves:
                continue
            start = handed or created
            last = max(changed or now, start)
            first = max(start, last - dt.timedelta(days=HISTORY_DAYS))
            times = [*sorted(between(rng, first, last) for _ in moves[:-1]), last]
            for (from_stage, to_stage), when in zip(moves, times, strict=True):
                batch.append(
                    LeadEvent(
                        lead_id=pk,
                        kind=LeadEventKind.STAGE_CHANGED,
                        actor_id=owner,
                        from_stage=from_stage,
                        to_stage=to_stage,
                        note="Price 价格太高" if to_stage == "lost" else "",
                        created_at=when,
                    )
                )
            if len(batch) >= BATCH:
                LeadEvent.objects.bulk_create(batch, batch_size=BATCH)
                written += len(batch)
                batch = []
        LeadEvent.objects.bulk_create(batch, batch_size=BATCH)
        # Each lead's latest move on the lead, as lead_change_stage keeps it.
        leads_moves_refresh()
    return written + len(batch)


# --mixed: three team sizes in one dataset of 20 teams, so the cockpit can be timed at 500,
# 5,000 and 50,000 leads per team against the same 100k leads: teams 1–9 get 5,000 each (the
# bench's fixed rep, manager and director keep their usual sizes), teams 10–19 500 each, team 20
# 50,000. Directors: 1 over teams 1–9, 2 over teams 10–19, 3 over team 20.
MIXED_SHARES = {**dict.fromkeys(range(1, 10), 10), **dict.fromkeys(range(10, 20), 1), 20: 100}
MIXED_DIRECTORS = [0] * 9 + [1] * 10 + [2]


def mixed_cycle() -> list[int]:
    """The teams of 200 consecutive leads under --mixed (each team's share of 200), spread
    evenly along the cycle as the even layout spreads teams, lead #1 in team 1."""
    slots = [(n / share, team) for team, share in MIXED_SHARES.items() for n in range(share)]
    return [team for _position, team in sorted(slots)]


def build(
    *,
    leads: int = 100_000,
    activities: int = 1_000_000,
    teams: int = TEAMS,
    mixed: bool = False,
    log: Any = print,
) -> dict[str, Any]:
    """Write the dataset. The database must be empty of people and leads. `teams` sets the
    team size at a given number of leads (100k leads: 200 teams of 500, 20 of 5,000 or 2 of
    50,000); a director has ten teams (or all of them, below twenty)."""
    from django.contrib.auth.hashers import make_password
    from django.core.management.color import no_style
    from django.db import connection, transaction
    from django.utils import timezone

    from coaching import playbook
    from coaching.models import (
        EmailKind,
        EmailState,
        NotificationPreference,
        Nudge,
        NudgeState,
        OutboundEmail,
        RuleSetting,
    )
    from crm.models import (
        Activity,
        ActivityKind,
        AskState,
        ChickenRibReason,
        Company,
        Contact,
        Lead,
        LeadEvent,
        LeadEventKind,
        Outcome,
        PlanDecision,
        Report,
        ReportKind,
        ReportReply,
        ReportState,
        Role,
        Source,
        Team,
        TeamMembership,
        User,
        lead_tally_rebuild,
    )
    from crm.services.reports import lead_last_report_refresh

    users, existing_leads = existing_counts()
    if users or existing_leads:
        raise common.BenchError(
            f"The bench database already holds {users} people and {existing_leads} leads: "
            "pass --reset to rebuild it."
        )
    leads = max(leads, 1)
    activities = max(activities, TIMELINE_ACTIVITIES)
    n_teams = TEAMS if mixed else max(teams, 1)
    n_directors = len(MIXED_DIRECTORS) if mixed else max(n_teams // 10, 1)
    director_of = (
        MIXED_DIRECTORS
        if mixed
        else [(t - 1) * n_directors // n_teams for t in range(1, n_teams + 1)]
    )
    team_cycle = mixed_cycle() if mixed else list(range(1, n_teams + 1))
    rng = random.Random(SEED)
    now = timezone.now()
    today = timezone.localdate(now)
    started = time.monotonic()
    vendor = connection.vendor

    def lap(what: str) -> None:
        log(f"  {what:<34} {time.monotonic() - started:7.1f} s")

    if vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO off")

    # --- People and teams ----------------------------------------------------------------------
    password = make_password(PASSWORD)
    joined = now - dt.timedelta(days=800)
    people: list[User] = [
        User(
            pk=1,
            username="bench.admin",
            display_name="Bench Admin",
            role=Role.ADMIN,
            is_staff=True,
            is_superuser=True,
            language="en",
            email="admin@bench.example",
            password=password,
            date_joined=joined,
        )
    ]
    director_ids = [2 + d for d in range(n_directors)]
    for d, pk in enumerate(director_ids, start=1):
        people.append(
            User(
                pk=pk,
                username=f"bench.director{d}",
                display_name=f"总监 Director {d}",
                role=Role.DIRECTOR,
                language="zh-hans",
                email=f"director{d}@bench.example",
                password=password,
                date_joined=joined,
            )
        )
    manager_ids = [2 + n_directors + t for t in range(n_teams)]
    for t, pk in enumerate(manager_ids, start=1):
        people.append(
            User(
                pk=pk,
                username=f"bench.manager{t:02d}",
                display_name=f"经理 Manager {t:02d}",
                role=Role.MANAGER,
                language="zh-hans" if t % 2 else "en",
                email=f"manager{t:02d}@bench.example",
                password=password,
                date_joined=joined,
            )
        )
    first_rep = manager_ids[-1] + 1
    rep_ids_by_team: dict[int, list[int]] = {}
    rep_team: dict[int, int] = {}
    rep_name: dict[int, str] = {}
    for t in range(1, n_teams + 1):
        rep_ids_by_team[t] = []
        for r in range(REPS_PER_TEAM):
            number = (t - 1) * REPS_PER_TEAM + r + 1
            pk = first_rep + number - 1
            name = f"{rng.choice(SURNAMES)}{rng.choice(GIVEN)} {number:03d}"
            people.append(
                User(
                    pk=pk,
                    username=f"bench.rep{number:03d}",
                    display_name=name,
                    role=Role.REP,
                    language="zh-hans" if number % 3 else "en",
                    email=f"rep{number:03d}@bench.example",
                    password=password,
                    date_joined=joined,
                )
            )
            rep_ids_by_team[t].append(pk)
            rep_team[pk] = t
            rep_name[pk] = name
    all_reps = [pk for team in rep_ids_by_team.values() for pk in team]
    with transaction.atomic():
        User.objects.bulk_create(people, batch_size=BATCH)
        Team.objects.bulk_create(
            [
                Team(
                    pk=t,
                    name=f"Bench Team {t:02d} 销售{t:02d}部",
                    manager_id=manager_ids[t - 1],
                    director_id=director_ids[director_of[t - 1]],
                    created_at=joined,
                )
                for t in range(1, n_teams + 1)
            ]
        )
        for rep, team in rep_team.items():
            User.objects.filter(pk=rep).update(team_id=team)
        TeamMembership.objects.bulk_create(
            [
                TeamMembership(user_id=rep, team_id=t, joined_at=joined)
                for rep, t in rep_team.items()
            ]
        )
        NotificationPreference.objects.bulk_create(
            [NotificationPreference(user_id=u.pk) for u in people]
        )
        # Two teams tuned their coach: the scans then run one more query group per override.
        RuleSetting.objects.bulk_create(
            [
                setting
                for setting in (
                    RuleSetting(team_id=2, rule_id="stalled_lead", thresholds={"days": 10}),
                    RuleSetting(team_id=3, rule_id="report_due", thresholds={"days": 5}),
                )
                if setting.team_id <= n_teams
            ]
        )
    lap(f"{len(people)} people, {n_teams} teams")

    # --- How many activities each lead gets ----------------------------------------------------
    # Plan every lead's team, owner and stage first, so that activities go mostly to owned leads.
    plan_team = [0] * (leads + 1)
    plan_owner: list[int | None] = [None] * (leads + 1)
    plan_stage = [""] * (leads + 1)
    stages = list(STAGE_WEIGHTS)
    weights = list(STAGE_WEIGHTS.values())
    for i in range(1, leads + 1):
        team = team_cycle[(i - 1) % len(team_cycle)]
        plan_team[i] = team
        if i == TIMELINE_LEAD_ID:
            plan_owner[i], plan_stage[i] = rep_ids_by_team[1][0], "proposal"
        elif rng.random() < 0.9:
            plan_owner[i] = rng.choice(rep_ids_by_team[team])
            plan_stage[i] = rng.choices(stages, weights)[0]
        else:
            plan_stage[i] = "new"  # in the team pool
    counts: Counter[int] = Counter()
    others = list(range(2, leads + 1))
    if others:
        lead_weights = [
            0.1 if plan_owner[i] is None else (1.3 if plan_stage[i] in OPEN else 1.0)
            for i in others
        ]
        counts.update(rng.choices(others, lead_weights, k=activities - TIMELINE_ACTIVITIES))
    counts[TIMELINE_LEAD_ID] = TIMELINE_ACTIVITIES
    lap("activity plan")

    # --- Leads, their history and activities, chunk by chunk -----------------------------------
    owned_by: dict[int, list[int]] = defaultdict(list)
    team_leads: dict[int, list[int]] = defaultdict(list)
    company_of: list[str] = [""] * (leads + 1)
    rib_leads: set[int] = set()
    kinds = list(ActivityKind.values)
    outcomes = list(Outcome.values)
    sources = list(Source.values)
    reasons = list(ChickenRibReason.values)
    written_activities = 0
    for chunk_start in range(1, leads + 1, BATCH):
        chunk = range(chunk_start, min(chunk_start + BATCH, leads + 1))
        lead_rows: list[Lead] = []
        event_rows: list[LeadEvent] = []
        activity_rows: list[Activity] = []
        for i in chunk:
            team = plan_team[i]
            owner = plan_owner[i]
            stage = plan_stage[i]
            manager = manager_ids[team - 1]
            created = now - dt.timedelta(seconds=rng.uniform(3600, 730 * 86400))
            handed = between(rng, created, min(created + dt.timedelta(days=3), now))
            closed = stage in ("won", "lost")
            closed_at = between(rng, handed, now) if closed else None
            start = handed if owner else created
            end = closed_at or now
            n = counts.get(i, 0)
            last: dt.datetime | None = None
            if n:
                if stage in OPEN and owner and rng.random() < 0.6:
                    last = max(now - dt.timedelta(seconds=rng.uniform(0, 13 * 86400)), start)
                else:
                    last = between(rng, start, end)
            company = TIMELINE_COMPANY if i == TIMELINE_LEAD_ID else company_name(rng, i)
            company_of[i] = company
            rib = stage in OPEN and owner is not None and rng.random() < 0.08
            has_next = stage in OPEN and owner is not None and rng.random() < 0.5
            value = Decimal(
                rng.choice([5_000, 20_000, 50_000, 120_000, 300_000, 800_000])
                if rng.random() > 0.02
                else rng.choice([1_200_000, 2_500_000, 6_000_000])
            )
            stage_changed = between(rng, start, last or end)
            lead_rows.append(
                Lead(
                    pk=i,
                    company=company,
                    contact_name=f"{rng.choice(SURNAMES)}{rng.choice(GIVEN)}",
                    phone=f"1{rng.randrange(30, 90)}{rng.randrange(10**7, 10**8)}",
                    email=f"buyer{i}@customer{i % 997}.example",
                    source=rng.choice(sources),
                    value=value,
                    currency=rng.choices(["CNY", "USD", "EUR"], [80, 15, 5])[0],
                    stage=stage,
                    expected_close=(
                        today + dt.timedelta(days=rng.randint(-30, 120))
                        if rng.random() < 0.5
                        else None
                    ),
                    tender_date=(
                        today + dt.timedelta(days=rng.randint(0, 60))
                        if rng.random() < 0.1
                        else None
                    ),
                    competitor=rng.choice(["", "", "Siemens", "本地厂商", "ABB"]),
                    next_step="Call back about the revised quote 回访报价" if has_next else "",
                    next_step_due=(
                        today + dt.timedelta(days=rng.randint(-10, 20)) if has_next else None
                    ),
                    is_chicken_rib=rib,
                    chicken_rib_reasons=rng.sample(reasons, 2) if rib else [],
                    notes=rng.choice(NOTES),
                    lost_reason="Price 价格太高" if stage == "lost" else "",
                    team_id=team,
                    owner_id=owner,
                    handed_by_id=manager if owner else None,
                    handed_at=handed if owner else None,
                    created_by_id=manager,
                    created_at=created,
                    updated_at=max(d for d in (created, handed, last, stage_changed) if d),
                    stage_changed_at=stage_changed,
                    closed_at=closed_at,
                    last_activity_at=last,
                )
            )
            event_rows.append(
                LeadEvent(
                    lead_id=i, kind=LeadEventKind.CREATED, actor_id=manager, created_at=created
                )
            )
            if owner:
                event_rows.append(
                    LeadEvent(
                        lead_id=i,
                        kind=LeadEventKind.HANDED_DOWN,
                        actor_id=manager,
                        to_user_id=owner,
                        team_id=team,
                        was_chicken_rib=rib,
                        note="交给你了，有问题随时找我。" if rng.random() < 0.3 else "",
                        created_at=handed,
                    )
                )
                owned_by[owner].append(i)
                if rib:
                    rib_leads.add(i)
            team_leads[team].append(i)
            if n and last is not None:
                author = owner or manager
                times = [last] + [between(rng, start, last) for _ in range(n - 1)]
                for when in times:
                    activity_rows.append(
                        Activity(
                            lead_id=i,
                            author_id=author,
                            kind=rng.choice(kinds),
                            outcome=rng.choice(outcomes),
                            happened_at=when,
                            note=rng.choice(NOTES),
                            created_at=when,
                        )
                    )
        with transaction.atomic():
            Lead.objects.bulk_create(lead_rows, batch_size=BATCH)
            LeadEvent.objects.bulk_create(event_rows, batch_size=BATCH)
            Activity.objects.bulk_create(activity_rows, batch_size=BATCH)
        written_activities += len(activity_rows)
        if (chunk.stop - 1) % (BATCH * 4) == 0 or chunk.stop > leads:
            lap(f"leads {chunk.stop - 1:>7} · activities {written_activities:>8}")

    stage_moves = _stage_history(now)
    lap(f"{stage_moves} stage moves in the history")

    contacts_made = _companies_and_contacts(leads, company_of, now)
    lap(f"{leads} companies, {contacts_made} contacts")

    # The lead tally (crm.models.tally): bulk_create kept it batch by batch; recounted once
    # from the finished leads all the same, so no write above can leave it off.
    lead_tally_rebuild()
    lap("lead tally")

    # --- Reports and replies -------------------------------------------------------------------
    report_count = max(leads // 5, 10)
    report_rows: list[Report] = []
    reports_by_team: dict[int, list[int]] = defaultdict(list)
    report_kinds = list(ReportKind.values)
    timeline_rep = rep_ids_by_team[1][0]
    reps_with_leads = [r for r in all_reps if owned_by[r]] or all_reps
    for pk in range(1, report_count + 1):
        lead_id: int | None
        if pk <= 5:  # a few reports on the timeline lead
            author, lead_id = timeline_rep, TIMELINE_LEAD_ID
        else:
            author = rng.choice(reps_with_leads)
            lead_id = (
                rng.choice(owned_by[author]) if owned_by[author] and rng.random() < 0.9 else None
            )
        team = rep_team[author]
        kind = rng.choices(report_kinds, [70, 10, 10, 10])[0]
        submitted = rng.random() < 0.92 or pk <= 5
        submitted_at = now - dt.timedelta(seconds=rng.uniform(600, 180 * 86400))
        created = submitted_at - dt.timedelta(seconds=rng.uniform(60, 7200))
        has_ask = rng.random() < 0.15
        ask_state = ""
        if submitted and has_ask:
            recent = now - submitted_at < dt.timedelta(days=30)
            ask_state = AskState.OPEN if recent and rng.random() < 0.5 else AskState.DONE
        acknowledged = submitted and rng.random() < 0.65
        decided = submitted and kind == ReportKind.ESCALATION and rng.random() < 0.5
        manager = manager_ids[team - 1]
        report_rows.append(
            Report(
                pk=pk,
                author_id=author,
                team_id=team,
                lead_id=lead_id,
                kind=kind,
                state=ReportState.SUBMITTED if submitted else ReportState.DRAFT,
                status_now=STATUS_NOW,
                what_i_did=WHAT_I_DID,
                next_step="约技术交流会 Schedule a technical workshop"
                if rng.random() < 0.8
                else "",
                next_step_due=today + dt.timedelta(days=rng.randint(1, 14)),
                backup_plan="如果价格谈不拢，先做小批量试用。" if rng.random() < 0.6 else "",
                ask="需要主管一起拜访他们的总经理。" if has_ask else "",
                ask_due=today + dt.timedelta(days=rng.randint(1, 10)) if has_ask else None,
                share_with_director=submitted and rng.random() < 0.1,
                quality_score=rng.randint(30, 100),
                quality_issues=[],
                on_time=(rng.random() < 0.8) if submitted else None,
                created_at=created,
                updated_at=submitted_at if submitted else created,
                submitted_at=submitted_at if submitted else None,
                read_at=(
                    submitted_at + dt.timedelta(hours=rng.uniform(0.1, 30))
                    if submitted and rng.random() < 0.85
                    else None
                ),
                acknowledged_at=(
                    submitted_at + dt.timedelta(hours=rng.uniform(1, 48)) if acknowledged else None
                ),
                acknowledged_by_id=manager if acknowledged else None,
                ask_state=ask_state,
                ask_resolved_at=(
                    submitted_at + dt.timedelta(days=1) if ask_state == AskState.DONE else None
                ),
                decision=rng.choice(list(PlanDecision.values)) if decided else "",
                decided_at=submitted_at + dt.timedelta(days=1) if decided else None,
                decided_by_id=manager if decided else None,
            )
        )
        if submitted:
            reports_by_team[team].append(pk)
    reply_rows = [
        ReportReply(
            report_id=r.pk,
            author_id=(r.acknowledged_by_id or manager_ids[r.team_id - 1])
            if n == 0
            else r.author_id,
            body="收到，周四一起去。" if n == 0 else "好的，我来约时间。",
            created_at=(r.submitted_at or now) + dt.timedelta(hours=2 + n),
        )
        for r in report_rows
        if r.state == ReportState.SUBMITTED and rng.random() < 0.3
        for n in range(rng.randint(1, 2))
    ]
    with transaction.atomic():
        Report.objects.bulk_create(report_rows, batch_size=BATCH)
        ReportReply.objects.bulk_create(reply_rows, batch_size=BATCH)
        lead_last_report_refresh()  # Lead.last_reported_at, as report_submit keeps it
    lap(f"{len(report_rows)} reports, {len(reply_rows)} replies")

    # --- Nudges and the emails sent for them ---------------------------------------------------
    rulebook = playbook.rules()
    rep_rules: list[str] = [
        r
        for r in (
            "report_due",
            "stalled_lead",
            "deadline_near",
            "bounce_back",
            "handoff_first_plan",
            "loss_review",
            "big_deal_keep_director_informed",
            "low_contact",
        )
        if r in rulebook
    ]
    manager_rules: list[str] = [
        r
        for r in (
            "stalled_lead_manager",
            "report_unacknowledged",
            "plan_decision_due",
            "uneven_distribution",
            "reliable_rep",
        )
        if r in rulebook
    ]
    nudge_count = max(leads // 2, 10)
    states = [
        NudgeState.OPEN,
        NudgeState.SNOOZED,
        NudgeState.DONE,
        NudgeState.DISMISSED,
        NudgeState.EXPIRED,
    ]
    nudge_rows: list[Nudge] = []
    for n in range(1, nudge_count + 1):
        lead_id = None
        report_id: int | None = None
        subject: int | None = None
        if rng.random() < 0.85 or not manager_rules:
            recipient = rng.choice(reps_with_leads)
            rule_id = rng.choice(rep_rules)
            if rule_id != "low_contact" and owned_by[recipient]:
                lead_id = rng.choice(owned_by[recipient])
            rep_label = rep_name[recipient]
        else:
            team = rng.randint(1, n_teams)
            recipient = manager_ids[team - 1]
            rule_id = rng.choice(manager_rules)
            subject_rep = rng.choice(rep_ids_by_team[team])
            rep_label = rep_name[subject_rep]
            if rule_id == "stalled_lead_manager" and team_leads[team]:
                lead_id = rng.choice(team_leads[team])
            elif (
                rule_id in ("report_unacknowledged", "plan_decision_due") and reports_by_team[team]
            ):
                report_id = rng.choice(reports_by_team[team])
            else:
                subject = subject_rep
        state = rng.choices(states, [20, 3, 60, 7, 10])[0]
        created = now - dt.timedelta(seconds=rng.uniform(60, 90 * 86400))
        closed = state not in (NudgeState.OPEN, NudgeState.SNOOZED)
        target = f"lead:{lead_id}" if lead_id else f"report:{report_id}" if report_id else "-"
        if subject:
            target = f"user:{subject}"
        nudge_rows.append(
            Nudge(
                pk=n,
                recipient_id=recipient,
                rule_id=rule_id,
                lead_id=lead_id,
                report_id=report_id,
                subject_user_id=subject,
                period=f"g{n}",
                key=f"{rule_id}|{target}|{recipient}|g{n}",
                priority=rulebook[rule_id].priority,
                context={
                    "company": company_of[lead_id] if lead_id else "",
                    "days": rng.randint(3, 30),
                    "rep": rep_label,
                    "count": rng.randint(1, 9),
                },
                delivery="push" if rng.random() < 0.3 else "digest",
                state=state,
                snoozed_until=(
                    now + dt.timedelta(days=rng.choice([-1, 1, 3]))
                    if state == NudgeState.SNOOZED
                    else None
                ),
                resolved_by={"done": "report_submitted", "dismissed": "dismissed"}.get(
                    state, "expired" if state == NudgeState.EXPIRED else ""
                ),
                reason="Already in touch 已经在跟了" if state == NudgeState.DISMISSED else "",
                created_at=created,
                acted_at=between(rng, created, now) if closed else None,
            )
        )
    email_rows = [
        OutboundEmail(
            recipient_id=nudge.recipient_id,
            kind=EmailKind.INSTANT,
            nudge_id=nudge.pk,
            state=EmailState.SENT,
            not_before=nudge.created_at,
            attempts=1,
            claimed_at=nudge.created_at,
            sent_at=nudge.created_at + dt.timedelta(seconds=3),
            created_at=nudge.created_at,
        )
        for nudge in nudge_rows
        if nudge.delivery == "push" and nudge.priority == 3
    ]
    with transaction.atomic():
        Nudge.objects.bulk_create(nudge_rows, batch_size=BATCH)
        OutboundEmail.objects.bulk_create(email_rows, batch_size=BATCH)
    lap(f"{len(nudge_rows)} nudges, {len(email_rows)} emails")

    # Explicit primary keys: move the sequences past them (PostgreSQL), then fresh statistics.
    with connection.cursor() as cursor:
        for statement in connection.ops.sequence_reset_sql(
            no_style(), [User, Team, Lead, Report, Nudge, Company, Contact]
        ):
            cursor.execute(statement)
        if vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE")
        elif vendor == "sqlite":
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    lap("sequences, statistics")
    return {
        "people": len(people),
        "teams": n_teams,
        "leads": leads,
        "activities": written_activities,
        "stage_moves": stage_moves,
        "contacts": contacts_made,
        "reports": len(report_rows),
        "replies": len(reply_rows),
        "nudges": len(nudge_rows),
        "emails": len(email_rows),
        "seconds": round(time.monotonic() - started, 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--activities", type=int, default=1_000_000)
    parser.add_argument(
        "--teams",
        type=int,
        default=TEAMS,
        help="teams of 10 reps the leads are shared by (100k leads: 200, 20, 2 teams give "
        "500, 5,000, 50,000 leads per team)",
    )
    parser.add_argument(
        "--mixed",
        action="store_true",
        help="20 teams of three sizes: 9 of 5,000 leads, 10 of 500, one of 50,000 (at 100k)",
    )
    parser.add_argument("--reset", action="store_true", help="wipe the bench database first")
    args = parser.parse_args(argv)
    config = common.bootstrap()
    print(f"bench database: {config['ENGINE'].rsplit('.', 1)[-1]} {config['NAME']}", flush=True)
    if args.reset:
        reset()
    summary = build(
        leads=args.leads, activities=args.activities, teams=args.teams, mixed=args.mixed
    )
    print(" · ".join(f"{k} {v}" for k, v in summary.items()))


if __name__ == "__main__":
    main()
