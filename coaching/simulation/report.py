"""The simulation's figures as text: per persona and day, per pattern, and issue 16's targets.

`targets(result)` is what the test suite and the benchmark check; `lines(result)` is what the
command prints; `as_dict(result)` is the JSON it can write.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from coaching.simulation.config import PERSONAS, REP_PERSONAS
from coaching.simulation.engine import Result
from coaching.simulation.measure import Catch

MAX_RUN_SECONDS = 600


@dataclass(frozen=True)
class Target:
    name: str
    goal: str
    value: str
    ok: bool


def _median(values: Iterable[float]) -> float:
    found = list(values)
    return statistics.median(found) if found else 0


def _rep_cards(result: Result) -> list[int]:
    reps = {p.pk for p in result.company.of(*REP_PERSONAS)}
    return [n for (_day, user), n in result.figures.cards.items() if user in reps]


def _event_delays(result: Result) -> tuple[list[float | None], int]:
    """Minutes from each event to its push outside quiet hours (None: never reached), and how
    many were caused in quiet hours."""
    pushes = result.figures.pushes
    return [p.minutes for p in pushes if not p.quiet], sum(p.quiet for p in pushes)


def targets(result: Result) -> list[Target]:
    """Issue 16's targets, each with the value this run reached."""
    cards = _rep_cards(result)
    scan_max = max(result.figures.scan_pushes.values(), default=0)
    digest_max = max(result.figures.all_digests, default=0)
    delays, _quiet = _event_delays(result)
    late = [d for d in delays if d is None or d > 1]
    caught = [catch for catch in result.figures.catches if catch.ok]
    worst = max((d for d in delays if d is not None), default=0.0)
    return [
        Target("median open cards per rep", "≤ 7", f"{_median(cards):g}", _median(cards) <= 7),
        Target(
            "most open cards, any rep, any day",
            "≤ 15",
            str(max(cards, default=0)),
            max(cards, default=0) <= 15,
        ),
        Target("scan pushes per person per day", "≤ 3", str(scan_max), scan_max <= 3),
        Target("digest lines", "≤ 7", str(digest_max), digest_max <= 7),
        Target(
            "event-caused pushes within 1 min (outside quiet hours)",
            "all",
            f"{len(delays) - len(late)}/{len(delays)}, slowest {worst:.1f} min"
            + (f", {sum(d is None for d in late)} never" if any(d is None for d in late) else ""),
            not late,
        ),
        Target(
            "patterns caught within 5 working days, by who should act",
            "all",
            f"{len(caught)}/{len(result.figures.catches)}",
            len(caught) == len(result.figures.catches),
        ),
        Target(
            "run time",
            f"< {MAX_RUN_SECONDS} s",
            f"{result.seconds:.0f} s",
            result.seconds < MAX_RUN_SECONDS,
        ),
    ]


def _day_rows(result: Result) -> list[str]:
    """Per working day and persona: median/max open cards, the most pushes anyone had (scan
    findings, then what a person caused), digest lines, the slowest event → push."""
    figures = result.figures
    by_persona: dict[str, list[int]] = defaultdict(list)
    for person in result.company.people.values():
        by_persona[person.persona].append(person.pk)
    slowest: dict[tuple[int, int], float] = defaultdict(float)
    for push in figures.pushes:
        if not push.quiet and push.minutes is not None:
            key = (figures.push_day[id(push)], push.recipient_id)
            slowest[key] = max(slowest[key], push.minutes)
    rows = [
        f"{'day':>3} {'persona':<18} {'n':>3} {'cards med/max':>13} {'scan push':>9} "
        f"{'event push':>10} {'digest med/max':>14} {'event→push max min':>18}"
    ]
    for day, date in enumerate(result.calendar.days, start=1):
        for persona in PERSONAS:
            ids = by_persona.get(persona, [])
            if not ids:
                continue
            cards = [figures.cards.get((day, u), 0) for u in ids]
            digests = [figures.digests[(day, u)] for u in ids if (day, u) in figures.digests]
            rows.append(
                f"{day:>3} {persona:<18} {len(ids):>3} "
                f"{_median(cards):>6g}/{max(cards):<6} "
                f"{max(figures.scan_pushes.get((date, u), 0) for u in ids):>9} "
                f"{max(figures.event_pushes.get((date, u), 0) for u in ids):>10} "
                f"{_median(digests):>7g}/{max(digests, default=0):<6} "
                f"{max(slowest.get((day, u), 0.0) for u in ids):>18.1f}"
            )
    return rows


def _told(catches: list[Catch], role: str) -> str:
    days = [c.told[role][0] for c in catches if role in c.told]
    if not days:
        return "never"
    rules = Counter(c.told[role][1] for c in catches if role in c.told)
    return f"{len(days)}/{len(catches)} by day {max(days)} ({rules.most_common(1)[0][0]})"


def _pattern_rows(result: Result) -> list[str]:
    rows = [f"{'pattern':<32} {'caught':>7}  {'rep':<34} {'manager':<34} {'director':<34}"]
    grouped: dict[str, list[Catch]] = defaultdict(list)
    for catch in result.figures.catches:
        grouped[catch.pattern.name].append(catch)
    for name, catches in grouped.items():
        required = catches[0].pattern.required
        cells = [
            _told(catches, role) + (" *" if role in required else "")
            for role in ("rep", "manager", "director")
        ]
        ok = sum(c.ok for c in catches)
        rows.append(f"{name:<32} {ok:>3}/{len(catches):<3}  " + " ".join(f"{x:<34}" for x in cells))
    rows.append("(* = must be told within 5 working days; 'by day N' = the latest first catch)")
    return rows


def lines(result: Result, *, per_day: bool = True) -> list[str]:
    """The run as text: the per-day table (optional), the patterns and the targets."""
    config = result.config
    out = [
        f"Simulated {config.days} working days from {config.start}: {config.directors} directors, "
        f"{config.managers} managers, {config.reps} reps, {config.leads_per_rep} leads each; "
        f"set-up {result.setup_seconds:.0f} s, total {result.seconds:.0f} s "
        f"({result.cpu_seconds:.0f} s of CPU in this process).",
        f"Actions done: {sum(result.actions.values())}; refused by the services: "
        f"{sum(result.refused.values())}.",
        "",
    ]
    if per_day:
        out += [*_day_rows(result), ""]
    out += [*_pattern_rows(result), ""]
    out.append(f"{'target':<58} {'goal':<9} {'result':<34} ok")
    for t in targets(result):
        out.append(f"{t.name:<58} {t.goal:<9} {t.value:<34} {'yes' if t.ok else 'NO'}")
    return out


def as_dict(result: Result) -> dict[str, Any]:
    figures = result.figures
    return {
        "config": {k: str(v) for k, v in asdict(result.config).items()},
        "seconds": result.seconds,
        "cpu_seconds": result.cpu_seconds,
        "setup_seconds": result.setup_seconds,
        "targets": [asdict(t) for t in targets(result)],
        "rep_cards": _rep_cards(result),
        "catches": [
            {
                "pattern": c.pattern.name,
                "person": c.person.user.username,
                "told": c.told,
                "ok": c.ok,
            }
            for c in figures.catches
        ],
        "actions": result.actions,
        "refused": result.refused,
    }
