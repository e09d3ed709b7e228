"""Run the coach once now: handle waiting CRM events, run the scans, build due digests.

`make run` calls it after loading the demo so the nudge center has something to say at once;
afterwards Celery beat runs the same work on its schedule.
"""

from typing import Any

from django.core.management.base import BaseCommand

from coaching import delivery, handlers, scans


class Command(BaseCommand):
    help = "Handle pending CRM events, run the coaching scans and build due digests once."

    def handle(self, *args: Any, **options: Any) -> None:
        events = handlers.process_pending_events(limit=100_000)
        made = scans.run_scans()
        digests = delivery.build_digests()
        self.stdout.write(
            self.style.SUCCESS(
                f"Coach: {events} events handled, {sum(made.values())} new nudges, "
                f"{digests} digests."
            )
        )
