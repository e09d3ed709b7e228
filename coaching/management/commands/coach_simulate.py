"""Replay N working days of a scripted company through the real CRM and coach, and print
what the coach did: open cards, pushes, digest lines and event → push minutes per persona
and day; the day each scripted pattern was caught and whom it told; issue 16's targets.

    manage.py coach_simulate                 # 2 directors, 20 managers, 200 reps, 30 days
    manage.py coach_simulate --small         # 1 director, 2 managers, 6 reps, 10 days
    manage.py coach_simulate --days 5 --managers 4 --json var/sim.json

The clock is moved with time_machine (the services read timezone.now() themselves). The whole
run is one transaction, rolled back at the end (`--keep` commits it). It refuses a database
that already holds leads, whose coach work would blur the figures (`--allow-existing-data`);
bench/simulate.py runs it on a database of its own.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from crm.models import Lead


class Command(BaseCommand):
    help = "Replay working days of a scripted company through the real coach and print figures."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--small", action="store_true", help="1 director, 2 managers, 6 reps")
        parser.add_argument("--days", type=int, help="working days (30; 10 with --small)")
        parser.add_argument("--directors", type=int)
        parser.add_argument("--managers", type=int, help="one team each")
        parser.add_argument("--reps-per-team", type=int)
        parser.add_argument("--leads-per-rep", type=int)
        parser.add_argument("--seed", type=int)
        parser.add_argument("--summary", action="store_true", help="no per-day table")
        parser.add_argument("--json", type=Path, help="also write the figures to this file")
        parser.add_argument("--keep", action="store_true", help="commit the simulated data")
        parser.add_argument("--allow-existing-data", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            import time_machine  # noqa: F401  (a development dependency)
        except ImportError as error:
            raise CommandError(
                "coach_simulate needs time-machine: pip install time-machine"
            ) from error
        from coaching.simulation import report
        from coaching.simulation.config import Config
        from coaching.simulation.engine import simulate

        if Lead.objects.exists() and not options["allow_existing_data"]:
            raise CommandError(
                "This database already holds leads; the coach's work on them would blur the "
                "figures. Use an empty database (bench/simulate.py makes one) or pass "
                "--allow-existing-data."
            )
        config = Config.small() if options["small"] else Config()
        sizes = {
            "days": options["days"],
            "directors": options["directors"],
            "managers": options["managers"],
            "reps_per_team": options["reps_per_team"],
            "leads_per_rep": options["leads_per_rep"],
            "seed": options["seed"],
        }
        config = dataclasses.replace(config, **{k: v for k, v in sizes.items() if v is not None})
        if min(config.days, config.directors, config.managers, config.reps_per_team) < 1:
            raise CommandError("Days, directors, managers and reps per team must be at least 1.")

        def progress(line: str) -> None:
            sys.stderr.write(line + "\n")

        result = simulate(config, keep=options["keep"], progress=progress)
        for line in report.lines(result, per_day=not options["summary"]):
            self.stdout.write(line)
        if options["json"]:
            options["json"].write_text(
                json.dumps(report.as_dict(result), ensure_ascii=False, indent=1)
            )
