"""Compare the lead tally (crm.models.tally) with a recount of the leads; `--fix` recounts the
teams that differ. Exits 1 when it found a difference (after fixing it, with --fix)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from crm.models import lead_tally_rebuild
from crm.tally import lead_tally_drift


class Command(BaseCommand):
    help = "Check the lead tally against a recount of the leads (--fix recounts what differs)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--fix", action="store_true", help="Recount the teams that differ.")
        parser.add_argument("--team", type=int, action="append", help="Only this team id.")

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            drift = lead_tally_drift(options["team"])
            for team, lines in sorted(drift.items()):
                self.stdout.write(f"team {team}: {len(lines)} group(s) differ")
                for line in lines:
                    self.stdout.write(f"  {line}")
            if drift and options["fix"]:
                lead_tally_rebuild(drift)
                self.stdout.write(f"recounted {len(drift)} team(s)")
        if drift:
            raise CommandError(f"lead tally drift in {len(drift)} team(s)", returncode=1)
        self.stdout.write("lead tally matches the leads")
