"""Simulated time, and the coach's background work run on the beat's own cadence.

The CRM's services and most of the coach read `timezone.now()` themselves, so the clock is
moved with time_machine (`travel(..., tick=False)`: time stands still between moves, which makes
a run repeatable). It only ever moves forward. After any action, the event worker runs at the
next tick of the beat's grid (CELERY_BEAT_SCHEDULE["process-domain-events"], 5 s by default),
before any later action: exactly when a real worker would have picked the events up. The email
worker runs right after it in the same tick, and at the timetable's email polls.

For each worker tick that handled events, the clock keeps the moment of the oldest event it
handled: every nudge made in that tick is dated by it (the "event → push" figure).
"""

from __future__ import annotations

import datetime as dt
import heapq
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import transaction
from django.db.models import Min

from coaching import delivery, handlers, scans
from crm.models import DomainEvent

log = logging.getLogger(__name__)

Step = Callable[[], Any]
Session = Iterator[Step]


def beat_seconds(task: str, default: float) -> float:
    """How often beat runs `task`, from the app's own schedule."""
    entry = settings.CELERY_BEAT_SCHEDULE.get(task, {})
    value = entry.get("schedule", default)
    return float(value) if isinstance(value, int | float) else default


class Clock:
    """Moves simulated time forward and runs the coach's workers when they would have run."""

    def __init__(self, traveller: Any, start: dt.datetime, zone: ZoneInfo) -> None:
        self.traveller = traveller
        self.zone = zone
        self.now = start
        self.poll = beat_seconds("process-domain-events", 5.0)
        self.due_poll: dt.datetime | None = None
        # worker tick → the oldest event it handled
        self.ticks: dict[dt.datetime, dt.datetime] = {}
        self.refused: Counter[str] = Counter()  # persona → actions the services refused
        self.actions: Counter[str] = Counter()  # persona → actions done

    def local(self, day: dt.date, at: dt.time) -> dt.datetime:
        return dt.datetime.combine(day, at, tzinfo=self.zone)

    def _move(self, moment: dt.datetime) -> None:
        if moment > self.now:
            self.traveller.move_to(moment)
            self.now = moment

    def advance(self, moment: dt.datetime) -> None:
        """Go to `moment`, running first the worker tick that falls before it."""
        if self.due_poll is not None and self.due_poll <= moment:
            self._work(self.due_poll)
        self._move(moment)

    def flush(self) -> None:
        """Run the worker tick still due (at the end of a group of sessions)."""
        if self.due_poll is not None:
            self._work(self.due_poll)

    def act(self, moment: dt.datetime, step: Step, persona: str) -> Any:
        """Do one person's action at `moment`; the worker picks up its events at the next tick.
        An action the services refuse (the lead was closed meanwhile, say) changes nothing."""
        self.advance(moment)
        try:
            with transaction.atomic():
                result = step()
        except (ValidationError, ObjectDoesNotExist) as error:
            self.refused[persona] += 1
            log.debug("simulated %s refused: %s", persona, error)
            return None
        self.actions[persona] += 1
        if self.due_poll is None:
            step_s = self.poll
            tick = (int(self.now.timestamp() // step_s) + 1) * step_s
            self.due_poll = dt.datetime.fromtimestamp(tick, tz=dt.UTC)
        return result

    def _work(self, moment: dt.datetime) -> None:
        self.due_poll = None
        self._move(moment)
        earliest = DomainEvent.objects.filter(
            processed_at__isnull=True, name__in=list(handlers.HANDLED_EVENTS)
        ).aggregate(t=Min("created_at"))["t"]
        if handlers.process_pending_events(limit=100_000) and earliest is not None:
            self.ticks[moment] = earliest
        delivery.deliver_due(limit=100_000)

    # --- The beat's scheduled work ---------------------------------------------------------

    def scan(self, moment: dt.datetime) -> None:
        self.advance(moment)
        scans.run_scans()
        delivery.deliver_due(limit=100_000)

    def digests(self, moment: dt.datetime) -> None:
        self.advance(moment)
        delivery.build_digests()
        delivery.deliver_due(limit=100_000)

    def deliver(self, moment: dt.datetime) -> None:
        self.advance(moment)
        delivery.deliver_due(limit=100_000)

    # --- People acting at the same time ----------------------------------------------------

    def run_sessions(self, sessions: list[tuple[dt.datetime, str, Session]], gap: float) -> None:
        """Interleave several people's sessions in time: each session yields its next action
        when its moment comes (so it decides on what the coach says by then), one every `gap`
        seconds."""
        queue = [
            (start, n, persona, session) for n, (start, persona, session) in enumerate(sessions)
        ]
        heapq.heapify(queue)
        while queue:
            moment, n, persona, session = heapq.heappop(queue)
            self.advance(moment)
            step = next(session, None)
            if step is None:
                continue
            self.act(moment, step, persona)
            heapq.heappush(queue, (moment + dt.timedelta(seconds=gap), n, persona, session))
        self.flush()
