"""What a simulation replays: the size of the company, the scripted people (personas), the
simulated days and the office day's timetable.

The defaults are issue 16's benchmark (2 directors, 20 managers, 200 reps, 30 working days);
`Config.small()` is the company the test suite runs. Every choice that is not a size is a
constant here, so a figure in bench/README.md can say exactly what was replayed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

# --- The scripted people -----------------------------------------------------------------------

GOOD = "good_rep"  # acts on the coach, logs work, reports ahead of time
SILENT = "silent_rep"  # from day 1 does nothing at all
ASKER = "asker_rep"  # sends questions ("what do I do next? can you call them?"), never a plan
ROTTER = "rotter_rep"  # works the other leads, lets the chicken-rib leads handed to them rot
ANSWERS = "answering_manager"  # acknowledges, answers asks, decides plans twice a day
IGNORES = "silent_manager"  # hands leads out, but never answers a report
DIRECTOR = "director"  # reads, and snoozes the signals they have dealt with

REP_PERSONAS = (GOOD, SILENT, ASKER, ROTTER)
MANAGER_PERSONAS = (ANSWERS, IGNORES)
PERSONAS = (*REP_PERSONAS, *MANAGER_PERSONAS, DIRECTOR)

# Rep personas by position in a team, shifted by 3 per team so that even a 3-rep team pair
# holds each scripted rep once; a 10-rep team has one silent, one asker, one rotter.
REP_CYCLE = (GOOD, SILENT, ASKER, ROTTER, GOOD, GOOD, GOOD, GOOD, GOOD, GOOD)

# --- The office day (local time of the company, Asia/Shanghai by default) ----------------------

SCAN_TIMES = (dt.time(7, 0), dt.time(12, 0), dt.time(17, 0))  # when the simulated beat scans
DIGEST_TIME = dt.time(8, 30)  # NotificationPreference's default digest time
QUIET_END_TIME = dt.time(8, 0, 10)  # the email poll right after quiet hours end (08:00)
REP_MORNING = dt.time(9, 0)  # reps read the coach and act on it
MANAGER_MORNING = dt.time(10, 30)
DIRECTOR_TIME = dt.time(11, 30)
REP_AFTERNOON = dt.time(14, 0)  # reps work their leads
MANAGER_AFTERNOON = dt.time(16, 0)
SNAPSHOT_TIME = dt.time(18, 0)  # open cards are counted here
EVENING = dt.time(21, 30)  # a few reps log a late visit: its push waits for quiet hours to end
SESSION_SPREAD_SECONDS = 5400  # a group's sessions start spread over 90 minutes
STEP_SECONDS = 75  # one action of a person every 75 seconds within their session


@dataclass(frozen=True)
class Config:
    """The company and the days to replay."""

    days: int = 30  # working days; weekends pass with the coach's scans and digests only
    directors: int = 2
    managers: int = 20  # one team each
    reps_per_team: int = 10
    leads_per_rep: int = 12  # open leads each rep owns on day one
    pool_per_team: int = 16  # leads waiting in each team's pool (4 of them chicken-rib)
    start: dt.date = dt.date(2027, 3, 1)  # a Monday
    zone: str = "Asia/Shanghai"
    seed: int = 20261207
    nudge_actions: int = 3  # nudges a good rep acts on per morning

    @classmethod
    def small(cls, days: int = 10) -> Config:
        """The suite's company: 1 director, 2 managers, 6 reps (each scripted rep once)."""
        return cls(
            days=days,
            directors=1,
            managers=2,
            reps_per_team=3,
            leads_per_rep=8,
            pool_per_team=10,
        )

    @property
    def reps(self) -> int:
        return self.managers * self.reps_per_team
