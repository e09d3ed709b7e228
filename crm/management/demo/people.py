"""The demo's people and teams: one +2 over two teams, each with a manager and three reps,
half of them writing in Chinese and half in English. Matched by username and team name, so
loading the demo twice changes nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from crm.models import Role, Team, TeamMembership, User

DEMO_PASSWORD = "kaopu-demo-2026"


def _person(username: str, name: str, role: str, language: str, team: str = "") -> dict[str, Any]:
    return {
        "username": username,
        "display_name": name,
        "role": role,
        "language": language,
        **({"team": team} if team else {}),
    }


PEOPLE: list[dict[str, Any]] = [
    _person("admin", "Admin", Role.ADMIN, "en"),
    _person("zhao.min", "赵敏", Role.DIRECTOR, "zh-hans"),
    _person("li.ge", "李哥", Role.MANAGER, "zh-hans"),
    _person("sarah", "Sarah Chen", Role.MANAGER, "en"),
    _person("xiao.guang", "小广", Role.REP, "zh-hans", "east"),
    _person("chen.jie", "陈杰", Role.REP, "zh-hans", "east"),
    _person("tom", "Tom Walker", Role.REP, "en", "east"),
    _person("liu.yang", "刘洋", Role.REP, "zh-hans", "north"),
    _person("emma", "Emma Li", Role.REP, "en", "north"),
    _person("wang.lei", "王磊", Role.REP, "zh-hans", "north"),
]
TEAMS = {
    "east": {"name": "华东销售部 East", "manager": "li.ge"},
    "north": {"name": "North Region 华北", "manager": "sarah"},
}


def people() -> dict[str, User]:
    """Every demo person by username, made with the demo password the first time."""
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


def teams(users: dict[str, User]) -> dict[str, Team]:
    """The two teams under the +2, each rep a member since 400 days ago."""
    found: dict[str, Team] = {}
    for key, spec in TEAMS.items():
        team, _ = Team.objects.get_or_create(
            name=spec["name"],
            defaults={"manager": users[spec["manager"]], "director": users["zhao.min"]},
        )
        found[key] = team
    start = timezone.now() - dt.timedelta(days=400)
    for person in PEOPLE:
        if "team" not in person:
            continue
        user = users[person["username"]]
        team = found[person["team"]]
        if user.team_id != team.pk:
            user.team = team
            user.save(update_fields=["team"])
        TeamMembership.objects.get_or_create(
            user=user, left_at=None, defaults={"team": team, "joined_at": start}
        )
    return found
