"""What the simulation measures, read from the coach's own rows.

- open cards, per person at the end of each working day: coaching.cards' `open_card_count`
  (the bell's number), or where that does not exist the card definition itself (distinct rules
  among the person's open nudges);
- pushes, per person and local day: nudges delivered as a push, split into those a person
  caused (event rules: `rule.instant`, or `trigger: event` before that flag exists) and scan
  findings;
- digest lines: coaching.delivery's `digest_lines` at the moment the digest is built (its
  lines, and the cards folded into "and N more"), or one line per nudge in the digest where
  that does not exist (what the digest showed before issue 16);
- minutes from an event to its push: from the oldest event of the worker tick that made the
  nudge to the moment it reached the person (the bell, or the email sent when quiet hours
  ended, or the digest it waited for);
- per pattern: the working day the coach first told each of the rep, the manager and the
  director, with the rule that told them.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from coaching import playbook
from coaching.models import Delivery, EmailKind, Nudge, NudgeState, OutboundEmail
from coaching.preferences import preference_for
from coaching.simulation.company import Company, Person
from coaching.simulation.config import ASKER, IGNORES, ROTTER, SILENT
from crm.models import User


def _optional(module: str, name: str) -> Any:
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def is_instant(rule: playbook.Rule | None) -> bool:
    """A nudge a person's action caused (pushed on its own allowance), not a scan finding."""
    if rule is None:
        return False
    return bool(getattr(rule, "instant", rule.event is not None))


def open_cards(users: list[User]) -> dict[int, int]:
    """Each person's open cards (what their bell counts)."""
    count = _optional("coaching.cards", "open_card_count")
    if count is not None:
        return {user.pk: count(user=user) for user in users}
    found: dict[int, int] = defaultdict(int)
    rows = (
        Nudge.objects.filter(recipient__in=users, state=NudgeState.OPEN)
        .values_list("recipient_id", "rule_id")
        .distinct()
    )
    for recipient_id, _rule in rows:
        found[recipient_id] += 1
    return found


def digest_size(email: OutboundEmail) -> tuple[int, int]:
    """The lines of a digest just built, and how many more cards it folded ("and N more")."""
    lines = _optional("coaching.delivery", "digest_lines")
    if lines is not None:
        shown, more = lines(user=email.recipient)
        return len(shown), int(more)
    return email.digest_nudges.count(), 0


def record_digests(figures: Figures, day: int, moment: dt.datetime) -> None:
    """The size of each digest built at `moment` (measured then: it lists the open cards)."""
    emails = OutboundEmail.objects.filter(kind=EmailKind.DIGEST, created_at=moment)
    for email in emails.select_related("recipient"):
        lines, more = digest_size(email)
        figures.all_digests.append(lines)
        key = (day, email.recipient_id)  # a weekend's digest counts with the next working day
        figures.digests[key] = max(figures.digests.get(key, 0), lines)
        figures.folded[key] = max(figures.folded.get(key, 0), more)


@dataclass
class Push:
    """One event-caused nudge: when its cause happened and when it reached the person."""

    recipient_id: int
    rule_id: str
    caused: dt.datetime
    reached: dt.datetime | None  # None: never (still waiting for a digest)
    quiet: bool  # caused during the recipient's quiet hours

    @property
    def minutes(self) -> float | None:
        if self.reached is None:
            return None
        return max((self.reached - self.caused).total_seconds(), 0) / 60


@dataclass
class Figures:
    """Everything measured, keyed by person and working day."""

    cards: dict[tuple[int, int], int] = field(default_factory=dict)  # (day, user) → open cards
    # (local calendar date, user) → pushes that day: the allowances are per calendar day
    scan_pushes: dict[tuple[dt.date, int], int] = field(default_factory=lambda: defaultdict(int))
    event_pushes: dict[tuple[dt.date, int], int] = field(default_factory=lambda: defaultdict(int))
    digests: dict[tuple[int, int], int] = field(default_factory=dict)  # (day, user) → lines
    folded: dict[tuple[int, int], int] = field(default_factory=dict)  # (day, user) → "N more"
    all_digests: list[int] = field(default_factory=list)  # the lines of every digest
    pushes: list[Push] = field(default_factory=list)
    push_day: dict[int, int] = field(default_factory=dict)  # id(Push) → day
    catches: list[Catch] = field(default_factory=list)


def _quiet(person: Person, moment: dt.datetime) -> bool:
    pref = preference_for(person.user)
    local = moment.astimezone(person.user.zone).time()
    start, end = pref.quiet_start, pref.quiet_end
    if start == end:
        return False
    return start <= local < end if start < end else (local >= start or local < end)


class Calendar:
    """Local dates ↔ working day numbers (a weekend counts as the next working day)."""

    def __init__(self, days: Iterable[dt.date], zone: Any) -> None:
        self.days = list(days)
        self.zone = zone
        self.number = {d: n for n, d in enumerate(self.days, start=1)}

    def day_of(self, moment: dt.datetime) -> int:
        date = moment.astimezone(self.zone).date()
        for n, day in enumerate(self.days, start=1):
            if day >= date:
                return n
        return len(self.days) + 1


def _first_email(
    sent: dict[int, list[dt.datetime]], recipient_id: int, after: dt.datetime
) -> dt.datetime | None:
    """The first instant email the person got after `after` (a burst's later nudges ride on
    the burst's one email)."""
    return next((t for t in sent.get(recipient_id, []) if t >= after), None)


def collect(
    figures: Figures,
    company: Company,
    calendar: Calendar,
    since: dt.datetime,
    ticks: dict[dt.datetime, dt.datetime],
) -> None:
    """Pushes and their delays over the whole run, from the coach's rows."""
    rules = playbook.rules()
    digest_sent = dict(
        OutboundEmail.objects.filter(kind=EmailKind.DIGEST, created_at__gte=since).values_list(
            "pk", "sent_at"
        )
    )
    instant_sent: dict[int, list[dt.datetime]] = defaultdict(list)
    for recipient_id, sent in (
        OutboundEmail.objects.filter(kind=EmailKind.INSTANT, created_at__gte=since)
        .exclude(sent_at=None)
        .order_by("sent_at")
        .values_list("recipient_id", "sent_at")
    ):
        if sent is not None:
            instant_sent[recipient_id].append(sent)
    rows = Nudge.objects.filter(
        recipient_id__in=list(company.people), created_at__gte=since
    ).values_list(
        "recipient_id", "rule_id", "created_at", "delivery", "digest_id", "email__sent_at"
    )
    for recipient_id, rule_id, created, delivery, digest_id, emailed in rows:
        person = company.people[recipient_id]
        day = calendar.day_of(created)
        instant = is_instant(rules.get(rule_id))
        if delivery == Delivery.PUSH:
            bucket = figures.event_pushes if instant else figures.scan_pushes
            bucket[(created.astimezone(person.user.zone).date(), recipient_id)] += 1
        if not instant:
            continue
        caused = ticks.get(created, created)
        quiet = _quiet(person, caused)
        if delivery == Delivery.PUSH:
            reached = (
                (emailed or _first_email(instant_sent, recipient_id, created)) if quiet else created
            )
        else:
            reached = digest_sent.get(digest_id) if digest_id else None
        push = Push(recipient_id, rule_id, caused, reached, quiet)
        figures.pushes.append(push)
        figures.push_day[id(push)] = day


# --- Patterns ----------------------------------------------------------------------------------

# Nudges that are part of the work itself, not the coach noticing a pattern.
NOT_A_CATCH = frozenset(
    {"handoff_first_plan", "plan_decision_due", "lead_won_thanks", "loss_review", "year_end_thanks"}
)


@dataclass(frozen=True)
class Pattern:
    """A scripted behaviour the coach must notice, and who must hear of it. `hints` narrows,
    per role, the rules that count as noticing it (a rule id containing one of the words);
    a role without hints counts any advice for its audience about the subject."""

    name: str
    persona: str
    required: tuple[str, ...]  # roles that must be told
    hints: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Rules of the work itself that do tell the rep of this pattern (a chicken-rib lead's
    # hand-off asks for the first plan the rotter never sends: that card stays open).
    rep_work: frozenset[str] = frozenset()

    def counts(self, role: str, rule: playbook.Rule | None) -> bool:
        if rule is not None and role == "rep" and rule.id in self.rep_work:
            return True
        if not _advice(rule, role):
            return False
        words = dict(self.hints).get(role)
        return words is None or any(w in rule.id for w in words)  # type: ignore[union-attr]


PATTERNS = (
    Pattern(
        "silent rep",
        SILENT,
        ("rep", "manager"),
        (
            ("rep", ("low_contact", "report_due", "stalled")),
            ("manager", ("silent", "stalled", "contact", "report_due")),
        ),
    ),
    Pattern("only asks for help", ASKER, ("rep",), (("rep", ("help",)), ("manager", ("help",)))),
    Pattern(
        "chicken-rib leads left to rot",
        ROTTER,
        ("rep", "manager"),
        rep_work=frozenset({"handoff_first_plan"}),
    ),
    Pattern("manager who does not answer", IGNORES, ("manager", "director")),
)


@dataclass
class Catch:
    """When the coach first told each role about one person's pattern."""

    pattern: Pattern
    person: Person
    told: dict[str, tuple[int, str, str]]  # role → (working day, rule id, username)

    @property
    def ok(self) -> bool:
        return all(role in self.told and self.told[role][0] <= 5 for role in self.pattern.required)


def _advice(rule: playbook.Rule | None, audience: str) -> bool:
    return (
        rule is not None
        and rule.audience == audience
        and getattr(rule, "kind", "advice") != "update"
        and rule.id not in NOT_A_CATCH
    )


def _about(row: Mapping[str, Any], person: Person, role: str, leads: set[int] | None) -> bool:
    """Whether a nudge row, sent to `role`, is about the pattern's subject: the rotting leads;
    for a manager, a report waiting in their team; for a rep, the rep or their leads and
    reports (and, for the director, the rep's manager as a whole)."""
    if leads is not None:
        return row["lead_id"] in leads
    pk = person.pk
    if role == "rep":
        return True  # addressed to the rep: about them (the pattern's hints pick the rules)
    if person.user.role == "manager":
        if role == "manager":
            return row["report_id"] is not None and row["report__team__manager_id"] == pk
        return pk in (row["subject_user_id"], row["report__team__manager_id"])
    manager = person.manager
    if role == "director" and manager is not None and row["subject_user_id"] == manager.pk:
        return True
    return pk in (row["subject_user_id"], row["lead__owner_id"], row["report__author_id"])


def _role_of(row: Mapping[str, Any], person: Person) -> str | None:
    recipient = row["recipient_id"]
    if recipient == person.pk:
        return "rep" if person.user.role == "rep" else "manager"
    if person.manager is not None and recipient == person.manager.pk:
        return "manager"
    if person.director is not None and recipient == person.director.pk:
        return "director"
    return None


def catches(
    company: Company, calendar: Calendar, since: dt.datetime, rotting: dict[int, list[int]]
) -> list[Catch]:
    """For each scripted person, the first day each role was told about their pattern."""
    rules = playbook.rules()
    rows = list(
        Nudge.objects.filter(created_at__gte=since)
        .order_by("created_at", "pk")
        .values(
            "recipient_id",
            "rule_id",
            "created_at",
            "lead_id",
            "report_id",
            "subject_user_id",
            "lead__owner_id",
            "lead__team__manager_id",
            "report__author_id",
            "report__team__manager_id",
            "recipient__username",
        )
    )
    found: list[Catch] = []
    for pattern in PATTERNS:
        for person in company.of(pattern.persona):
            leads = set(rotting.get(person.pk, [])) if pattern.persona == ROTTER else None
            catch = Catch(pattern, person, {})
            for row in rows:
                role = _role_of(row, person)
                if role is None or role in catch.told:
                    continue
                if not _about(row, person, role, leads):
                    continue
                if not pattern.counts(role, rules.get(row["rule_id"])):
                    continue
                catch.told[role] = (
                    calendar.day_of(row["created_at"]),
                    row["rule_id"],
                    row["recipient__username"],
                )
            found.append(catch)
    return found
