"""When a lead may start to count as stalled, kept on the lead (`Lead.stalls_at`), so that the
stalled counts of a team of any size come from the lead tally plus a short index range
(issue 22: the team and +2 pages flat in team size).

A lead is stalled (crm.selectors.stalled_q) when it is open, idle for KAOPU_STALLED_DAYS, its
next step is not due today or later, and it is not parked past today — "today" in the time
zone of whoever looks. Left alone, a lead that is stalled stays stalled: only a write (an
activity, a hand-off, a next step, parking, a stage) ends it. So each open lead has a moment
from which it is stalled, and `stalls_at` is the earliest moment any time zone could see it so
(dates read as the first zone to reach them, UTC+14, does); a closed lead has none.

The sweep (crm.services.stalls) marks the leads whose `stalls_at` is more than `ZONE_SPREAD`
past — stalled then in every zone, until a write — as `stalled_swept`, and the tally counts the
marked leads per group (`LeadTally.stalled`). A stalled count is then the tally's marked leads
plus the unmarked leads of the range `stalls_at <= now`, checked one by one against the viewer's
`stalled_q` (the last day's or so: lead_team_stalls). Every write to an input of `stalls_at`
sets it again, and the mark as the sweep would set it at that moment (Lead.save,
LeadQuerySet.update, bulk inserts), so a marked lead is always a stalled one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.utils import timezone

from crm.pipeline import OPEN_STAGES

# The lead's columns `stalls_at` is made of (crm.selectors.stalled_q's).
STALL_INPUTS = (
    "stage",
    "last_activity_at",
    "handed_at",
    "created_at",
    "next_step_due",
    "parked_until",
)
STALL_INPUTS_SET = frozenset(STALL_INPUTS)
# Between the first time zone to reach a date (UTC+14) and the last (UTC−12).
ZONE_SPREAD = dt.timedelta(hours=26)
AHEAD = dt.timedelta(hours=14)
TICK = dt.timedelta(microseconds=1)


def _first_reached(day: dt.date) -> dt.datetime:
    """The first moment any time zone is on `day`: its midnight at UTC+14."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC) - AHEAD


def stall_moment(
    *,
    stage: str,
    last_activity_at: dt.datetime | None,
    handed_at: dt.datetime | None,
    created_at: dt.datetime,
    next_step_due: dt.date | None,
    parked_until: dt.date | None,
    **_: Any,
) -> dt.datetime | None:
    """The earliest moment the lead could be stalled in some time zone (None: closed). Idle
    since its last activity, else its hand-off, else its creation, for more than the threshold
    (`idle_since < now - days`, hence the microsecond); its next step due before today (so the
    day after its date); not parked past today (so from that date on)."""
    if stage not in OPEN_STAGES:
        return None
    idle_since = last_activity_at or handed_at or created_at
    moment = idle_since + dt.timedelta(days=settings.KAOPU_STALLED_DAYS) + TICK
    if next_step_due is not None:
        moment = max(moment, _first_reached(next_step_due + dt.timedelta(days=1)))
    if parked_until is not None:
        moment = max(moment, _first_reached(parked_until))
    return moment


def lead_stall_moment(lead: Any) -> dt.datetime | None:
    """`stall_moment` of a lead (or any object with its inputs as attributes)."""
    return stall_moment(**{name: getattr(lead, name) for name in STALL_INPUTS})


def swept(moment: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether a lead stalling from `moment` is stalled at `now` in every time zone, until a
    write: the sweep's mark."""
    return moment is not None and moment <= now - ZONE_SPREAD


def stamp(lead: Any, now: dt.datetime | None = None) -> None:
    """Set the lead's `stalls_at` from its inputs, and its mark as the sweep would at `now`."""
    lead.stalls_at = lead_stall_moment(lead)
    lead.stalled_swept = swept(lead.stalls_at, now or timezone.now())
