"""Build a believable demo company: one +2, two managers, six reps, ~300 leads, 90 days of work
(crm/management/demo builds each part).

Idempotent: people and teams are matched by username and name; leads are made only for a team
that has none yet. `--reset` deletes the demo teams' leads first.
"""

from __future__ import annotations

import random
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from crm.management.demo.leads import team_leads
from crm.management.demo.people import DEMO_PASSWORD, people, teams
from crm.management.demo.reports import team_reports
from crm.models import Lead


class Command(BaseCommand):
    help = "Load the demo company (idempotent). Demo password: " + DEMO_PASSWORD

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--reset", action="store_true", help="Delete the demo leads first.")
        parser.add_argument("--leads", type=int, default=300, help="How many leads in all.")
        parser.add_argument("--seed", type=int, default=7, help="Random seed.")

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        rng = random.Random(options["seed"])
        users = people()
        demo_teams = teams(users)
        if options["reset"]:
            Lead.objects.filter(team__in=demo_teams.values()).delete()
        made = 0
        per_team = options["leads"] // len(demo_teams)
        for team in demo_teams.values():
            if Lead.objects.filter(team=team).exists():
                continue
            reps = [u for u in users.values() if u.team_id == team.pk]
            made += team_leads(rng, team, reps, per_team)
            team_reports(rng, team)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo company ready: {len(users)} people, {len(demo_teams)} teams, "
                f"{made} new leads ({Lead.objects.count()} in all). Password: {DEMO_PASSWORD}"
            )
        )
