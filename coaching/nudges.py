"""A nudge's life: made idempotently from rule specs, resolved when its action happens, expired
when its lead changes hands or closes, snoozed or dismissed by its recipient, woken again.

`create_nudges` is the one way in: a nudge's key is unique, so re-runs, retries and concurrent
scans make each nudge once. Events before scans: what a person caused (a rule triggered by an
event) is pushed and emailed at once on its own allowance, a burst of one rule to one person
folding into one email that says how many; scan findings never spend it: only the urgent ones
(high priority) are pushed, up to the person's daily_push_budget, and the rest wait for the
daily digest as grouped cards (coaching.cards, coaching.delivery). No email goes out in the
person's quiet hours: the outbox row waits for them to end.

Card actions (`card_snooze`, `card_dismiss`) act on every due nudge of one rule for one person.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _

from coaching import chat, playbook
from coaching.models import (
    Delivery,
    EmailKind,
    EmailState,
    NotificationPreference,
    Nudge,
    NudgeState,
    OutboundEmail,
    Priority,
)
from coaching.rules import NudgeSpec
from crm.models import User

CHUNK = 400  # keys per IN (...) list where _key_set has no one-parameter table (not SQLite/PG)
# The allowance of what people cause (hand-offs, answers, wins...): emails a person gets at
# once per local day; a burst of one rule counts once. Past it, event nudges wait for the digest.
EVENT_EMAILS_PER_DAY = 20
# Events of one rule to one person this close together are one push that says how many.
BURST = dt.timedelta(minutes=10)


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _key_set(keys: Sequence[str]) -> RawSQL | None:
    """`keys` as a one-column table passed in one parameter (a JSON array on SQLite, a text
    array on PostgreSQL), so that looking up any number of keys is one statement; None on
    another database, which then looks them up in chunks of CHUNK."""
    if connection.vendor == "sqlite":
        return RawSQL("SELECT value FROM json_each(%s)", [json.dumps(list(keys))])
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::text[]) AS value", [list(keys)])
    return None


def _missing(keys: Sequence[str]) -> set[str]:
    """The keys among `keys` that no nudge has yet: one anti-join against the key's unique
    index, whatever the number of keys."""
    table = _key_set(keys)
    if table is None:
        existing: set[str] = set()
        for chunk in _chunks(keys):
            existing.update(Nudge.objects.filter(key__in=chunk).values_list("key", flat=True))
        return set(keys) - existing
    nudges, key = (connection.ops.quote_name(n) for n in (Nudge._meta.db_table, "key"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT k.value FROM ({table.sql}) AS k "
            f"WHERE NOT EXISTS (SELECT 1 FROM {nudges} n WHERE n.{key} = k.value)",
            table.params,
        )
        return {row[0] for row in cursor.fetchall()}


# --- Quiet hours and the push budget -----------------------------------------------------------


def _in_quiet_hours(local: dt.datetime, pref: NotificationPreference) -> bool:
    start, end, now = pref.quiet_start, pref.quiet_end, local.time()
    if start == end:
        return False
    if start < end:
        return start <= now < end
    return now >= start or now < end


def _quiet_end(local: dt.datetime, pref: NotificationPreference) -> dt.datetime:
    """The next moment the quiet hours are over, in the user's zone (DST-safe)."""
    candidate = local.replace(
        hour=pref.quiet_end.hour, minute=pref.quiet_end.minute, second=0, microsecond=0
    )
    if candidate <= local:
        naive = candidate.replace(tzinfo=None) + dt.timedelta(days=1)
        candidate = naive.replace(tzinfo=local.tzinfo)
    return candidate


def _email_at(user: User, pref: NotificationPreference, now: dt.datetime) -> dt.datetime:
    """When an instant email may go out: now, or when the user's quiet hours end."""
    local = now.astimezone(user.zone)
    return _quiet_end(local, pref) if _in_quiet_hours(local, pref) else now


def _local_midnights(recipients: dict[int, User], now: dt.datetime) -> dict[int, dt.datetime]:
    return {
        pk: now.astimezone(u.zone).replace(hour=0, minute=0, second=0, microsecond=0)
        for pk, u in recipients.items()
    }


@dataclass
class _Allowances:
    """What each person has been pushed today (their own local day; 48 hours back covers every
    time zone), kept apart per allowance: scan findings pushed, event emails sent or queued,
    and the (person, rule) pairs whose event email still waits to go (a burst folds into it)."""

    scan_pushed: dict[int, int]
    event_emails: dict[int, int]
    pending: set[tuple[int, str]]


def _pushed_today(
    recipients: dict[int, User], now: dt.datetime, event_rules: set[str]
) -> _Allowances:
    midnight = _local_midnights(recipients, now)
    since = now - dt.timedelta(hours=48)
    scan_pushed: dict[int, int] = defaultdict(int)
    for recipient_id, created_at in (
        Nudge.objects.filter(
            recipient_id__in=list(recipients), delivery=Delivery.PUSH, created_at__gte=since
        )
        .exclude(rule_id__in=event_rules)
        .values_list("recipient_id", "created_at")
    ):
        if created_at >= midnight[recipient_id]:
            scan_pushed[recipient_id] += 1
    event_emails: dict[int, int] = defaultdict(int)
    pending: set[tuple[int, str]] = set()
    for recipient_id, created_at, state, not_before, rule_id in OutboundEmail.objects.filter(
        Q(created_at__gte=since) | Q(state=EmailState.PENDING),
        recipient_id__in=list(recipients),
        kind=EmailKind.INSTANT,
        nudge__rule_id__in=event_rules,
    ).values_list("recipient_id", "created_at", "state", "not_before", "nudge__rule_id"):
        if created_at >= midnight[recipient_id]:
            event_emails[recipient_id] += 1
        # A burst: the email of the same rule still waits, made minutes ago or held by quiet
        # hours (the night's hand-offs go out as one email in the morning).
        if state == EmailState.PENDING and (created_at >= now - BURST or not_before > now):
            pending.add((recipient_id, rule_id))
    return _Allowances(scan_pushed, event_emails, pending)


# --- Making nudges -----------------------------------------------------------------------------


def _fresh_specs(specs: Iterable[NudgeSpec], rulebook: dict[str, playbook.Rule]) -> list[NudgeSpec]:
    """The specs of known rules whose nudge does not exist yet, one per key, highest priority
    first."""
    by_key: dict[str, NudgeSpec] = {}
    for spec in specs:
        if spec.rule_id in rulebook:
            by_key.setdefault(spec.key, spec)
    if not by_key:
        return []
    keys = list(by_key)
    missing = _missing(keys)
    fresh = [by_key[k] for k in keys if k in missing]
    fresh.sort(key=lambda s: -rulebook[s.rule_id].priority)
    return fresh


@dataclass(slots=True)
class _Planned:
    """A nudge to make: its spec, its recipient, its rule's priority and whether it is
    pushed. Plain values, so that a first scan's 87k nudges are inserted without a model
    object each (building them was most of the time left after the insert itself)."""

    spec: NudgeSpec
    user: User
    priority: int
    pushed: bool

    def nudge(self, *, now: dt.datetime, pk: int | None = None) -> Nudge:
        """The Nudge this makes (saved as `pk` when given)."""
        spec = self.spec
        nudge = Nudge(
            recipient=self.user,
            rule_id=spec.rule_id,
            lead_id=spec.lead_id,
            report_id=spec.report_id,
            subject_user_id=spec.subject_user_id,
            period=spec.period,
            key=spec.key,
            priority=self.priority,
            context=spec.context,
            delivery=Delivery.PUSH if self.pushed else Delivery.DIGEST,
            created_at=now,
        )
        if pk is not None:
            nudge.pk = pk
            nudge._state.adding, nudge._state.db = False, connection.alias
        return nudge


def _plan(
    fresh: list[NudgeSpec], rulebook: dict[str, playbook.Rule], *, now: dt.datetime
) -> tuple[list[_Planned], list[tuple[str, dt.datetime]]]:
    """The nudges to make, each pushed or left for the digest, and the (nudge key, send at) of
    the instant emails to queue.

    Two allowances: what a person caused (a rule with an event trigger) is pushed and emailed
    at once, up to EVENT_EMAILS_PER_DAY emails, and a burst of one rule to one person folds
    into the email still waiting to go; scan findings never spend that: only high-priority
    ones are pushed, up to the person's daily_push_budget, and the rest wait for the digest."""
    recipients = {u.pk: u for u in User.objects.filter(pk__in={s.recipient_id for s in fresh})}
    prefs = {
        p.user_id: p for p in NotificationPreference.objects.filter(user_id__in=list(recipients))
    }
    # Caused by a person (a CRM event or a coach moment such as a thanks), not a scan finding.
    event_rules = {r.id for r in rulebook.values() if getattr(r, "instant", bool(r.event))}
    today = _pushed_today(recipients, now, event_rules)
    robot_down = chat.broken_owners(list(recipients))  # their robot's pushes go by email (issue 17)
    planned: list[_Planned] = []
    emails: list[tuple[str, dt.datetime]] = []
    for spec in fresh:
        user = recipients.get(spec.recipient_id)
        if user is None or not user.is_active:
            continue
        rule = rulebook[spec.rule_id]
        if rule.id in event_rules:
            pref = prefs.get(user.pk) or NotificationPreference(user=user)
            mailable = (pref.email_enabled or user.pk in robot_down) and bool(user.email)
            burst = (user.pk, rule.id) in today.pending
            pushed = burst or today.event_emails[user.pk] < EVENT_EMAILS_PER_DAY
            if pushed and mailable and not burst:
                today.event_emails[user.pk] += 1
                today.pending.add((user.pk, rule.id))
                emails.append((spec.key, _email_at(user, pref, now)))
        elif rule.priority == Priority.HIGH:
            pref = prefs.get(user.pk) or NotificationPreference(user=user)
            pushed = today.scan_pushed[user.pk] < pref.daily_push_budget
            if pushed:
                today.scan_pushed[user.pk] += 1
                if (pref.email_enabled or user.pk in robot_down) and bool(user.email):
                    emails.append((spec.key, _email_at(user, pref, now)))
        else:
            pushed = False
        planned.append(_Planned(spec, user, rule.priority, pushed))
    return planned, emails


class _Exact(DjangoJSONEncoder):
    """Times to the microsecond (DjangoJSONEncoder keeps milliseconds): a nudge's created_at
    must equal the scan's `now`, which the bench and the read-back match on."""

    def default(self, o: Any) -> Any:
        if isinstance(o, dt.datetime):
            return o.isoformat()
        return super().default(o)


# What a spec gives each nudge; the other columns (state, times, reason...) take the model's
# defaults, the same for every row, and created_at is the call's `now`.
_FROM_SPEC = (
    "recipient_id",
    "rule_id",
    "lead_id",
    "report_id",
    "subject_user_id",
    "period",
    "key",
    "priority",
    "context",
    "delivery",
)


def _row(p: _Planned) -> list[Any]:
    """A nudge's _FROM_SPEC values, in that order."""
    spec = p.spec
    return [
        spec.recipient_id,
        spec.rule_id,
        spec.lead_id,
        spec.report_id,
        spec.subject_user_id,
        spec.period,
        spec.key,
        p.priority,
        spec.context,
        Delivery.PUSH.value if p.pushed else Delivery.DIGEST.value,
    ]


def _insert(planned: list[_Planned], *, now: dt.datetime) -> dict[str, int] | None:
    """Insert the nudges, skipping a key that exists already (made meanwhile by a concurrent
    scan), and return the id of each one this call inserted, by key, in a fixed number of
    statements: on PostgreSQL one INSERT of the rows passed as one jsonb parameter, RETURNING
    the new ids; on SQLite one INSERT of the rows passed as one JSON parameter, then the ids
    of the keys inserted at `now`. Only the columns a spec sets travel per row; the rest are one
    parameter each. None on another database (the caller falls back to bulk_create)."""
    if connection.vendor not in ("sqlite", "postgresql") or not planned:
        return None if planned else {}
    by_name = {f.attname: f for f in Nudge._meta.concrete_fields if not f.primary_key}
    per_row = [by_name[name] for name in _FROM_SPEC]
    fixed = [f for name, f in by_name.items() if name not in _FROM_SPEC]
    fixed_values = [
        f.get_db_prep_save(now if f.attname == "created_at" else f.get_default(), connection)
        for f in fixed
    ]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in per_row + fixed)
    table, key, pk = (quote(n) for n in (Nudge._meta.db_table, "key", "id"))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            values = ", ".join(
                [
                    f"(x->{i})"
                    if f.get_internal_type() == "JSONField"
                    else f"(x->>{i})::{f.cast_db_type(connection)}"
                    for i, f in enumerate(per_row)
                ]
                + [f"%s::{f.cast_db_type(connection)}" for f in fixed]
            )
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT {values} "
                f"FROM jsonb_array_elements(%s::jsonb) AS x "
                f"ON CONFLICT ({key}) DO NOTHING RETURNING {pk}, {key}",
                [*fixed_values, json.dumps([_row(p) for p in planned], cls=_Exact)],
            )
            return {k: i for i, k in cursor.fetchall()}
        # The context as the JSON text JSONField stores (json.dumps, no encoder), one string
        # element of each row; the rows in one parameter, read by json_each: a first scan's
        # 87k rows bound one by one (executemany) cost 10-25 % more.
        context = _FROM_SPEC.index("context")
        rows = []
        for p in planned:
            row = _row(p)
            row[context] = json.dumps(row[context])
            rows.append(row)
        values = ", ".join(
            [f"json_extract(value, '$[{i}]')" for i in range(len(per_row))] + ["%s"] * len(fixed)
        )
        cursor.execute(
            f"INSERT OR IGNORE INTO {table} ({columns}) SELECT {values} FROM json_each(%s)",
            [*fixed_values, json.dumps(rows)],
        )
        made = _key_set([p.spec.key for p in planned])
        assert made is not None
        created_at = by_name["created_at"].get_db_prep_save(now, connection)
        cursor.execute(
            f"SELECT {pk}, {key} FROM {table} WHERE created_at = %s AND {key} IN ({made.sql})",
            [created_at, *made.params],
        )
        return {k: i for i, k in cursor.fetchall()}


@transaction.atomic
def _store(
    planned: list[_Planned], emails: list[tuple[str, dt.datetime]], *, now: dt.datetime
) -> tuple[dict[str, int], list[Nudge]]:
    """Insert the nudges (a key that exists already is skipped) and queue the instant emails
    and chat pushes of the ones this call made. Returns the ids of the nudges made, by key,
    and the pushed ones as models (a few: the push budget bounds them)."""
    ids = _insert(planned, now=now)
    if ids is None:
        Nudge.objects.bulk_create([p.nudge(now=now) for p in planned], ignore_conflicts=True)
        keys = [p.spec.key for p in planned]
        made = Nudge.objects.filter(created_at=now)
        ids = {
            k: i
            for chunk in _chunks(keys)
            for k, i in made.filter(key__in=chunk).values_list("key", "pk")
        }
    recipient = {p.spec.key: p.spec.recipient_id for p in planned}
    rows = [
        OutboundEmail(
            recipient_id=recipient[key],
            kind=EmailKind.INSTANT,
            nudge_id=ids[key],
            not_before=send_at,
            created_at=now,
        )
        for key, send_at in emails
        if key in ids
    ]
    # The nudge is unique per email, so a concurrent scan cannot queue a second one.
    OutboundEmail.objects.bulk_create(rows, ignore_conflicts=True)
    pushed = [
        p.nudge(now=now, pk=ids[p.spec.key]) for p in planned if p.pushed and p.spec.key in ids
    ]
    chat.queue_pushes(pushed, dict(emails), now=now)  # and a row per chat robot (issue 17)
    return ids, pushed


def _prepare(
    specs: Iterable[NudgeSpec], now: dt.datetime
) -> tuple[list[_Planned], list[tuple[str, dt.datetime]]]:
    rulebook = playbook.rules()
    fresh = _fresh_specs(specs, rulebook)
    if not fresh:
        return [], []
    return _plan(fresh, rulebook, now=now)


def create_nudges(specs: Iterable[NudgeSpec], *, now: dt.datetime | None = None) -> list[Nudge]:
    """Create the nudges that do not exist yet (their key is unique, so re-runs, retries and
    concurrent scans make each once). Event nudges are pushed and emailed at once (after quiet
    hours) on their own allowance; urgent scan findings are pushed up to each person's daily
    push budget, highest priority first; the rest wait for the daily digest. Returns the
    nudges this call created."""
    now = now or timezone.now()
    planned, emails = _prepare(specs, now)
    if not planned:
        return []
    ids, pushed = _store(planned, emails, now=now)
    saved = {n.key: n for n in pushed}
    return [
        saved.get(p.spec.key) or p.nudge(now=now, pk=ids[p.spec.key])
        for p in planned
        if p.spec.key in ids
    ]


def create_nudges_counted(specs: Iterable[NudgeSpec], *, now: dt.datetime) -> dict[str, int]:
    """create_nudges for a scan: the same nudges, emails and pushes, but only how many each
    rule made comes back, so no model object is built for the (many) nudges nobody reads."""
    planned, emails = _prepare(specs, now)
    if not planned:
        return {}
    ids, _pushed = _store(planned, emails, now=now)
    made: dict[str, int] = defaultdict(int)
    for p in planned:
        if p.spec.key in ids:
            made[p.spec.rule_id] += 1
    return dict(made)


# --- Closing nudges when their action happens --------------------------------------------------


def resolve(
    code: str,
    *,
    now: dt.datetime | None = None,
    recipient_id: int | None = None,
    lead_id: int | None = None,
    lead_or_general: bool = False,
    report_id: int | None = None,
    subject_user_id: int | None = None,
    exclude_context: dict[str, Any] | None = None,
) -> int:
    """Mark done the active nudges whose rules say `code` resolves them. Returns how many."""
    rule_ids = [r.id for r in playbook.rules().values() if code in r.resolves]
    if not rule_ids:
        return 0
    nudges = Nudge.objects.active().filter(rule_id__in=rule_ids)
    if recipient_id is not None:
        nudges = nudges.filter(recipient_id=recipient_id)
    if lead_or_general:
        nudges = (
            nudges.filter(Q(lead_id=lead_id) | Q(lead__isnull=True))
            if lead_id
            else (nudges.filter(lead__isnull=True))
        )
    elif lead_id is not None:
        nudges = nudges.filter(lead_id=lead_id)
    if report_id is not None:
        nudges = nudges.filter(report_id=report_id)
    if subject_user_id is not None:
        nudges = nudges.filter(subject_user_id=subject_user_id)
    if exclude_context:
        for name, value in exclude_context.items():
            # Only nudges that carry this value; those without the key stay in (NULL-safe).
            nudges = nudges.exclude(Q(context__has_key=name) & Q(**{f"context__{name}": value}))
    return nudges.update(state=NudgeState.DONE, acted_at=now or timezone.now(), resolved_by=code)


def expire_for_lead(
    *, lead_id: int, recipient_id: int | None = None, keep: Sequence[str] = ()
) -> int:
    """A lead that changed hands or closed no longer needs the old nudges about it."""
    nudges = Nudge.objects.active().filter(lead_id=lead_id).exclude(rule_id__in=keep)
    if recipient_id is not None:
        nudges = nudges.filter(recipient_id=recipient_id)
    return nudges.update(state=NudgeState.EXPIRED, acted_at=timezone.now(), resolved_by="expired")


# --- People acting on nudges -------------------------------------------------------------------


@transaction.atomic
def nudge_snooze(*, user: User, nudge: Nudge, until: dt.datetime, reason: str = "") -> Nudge:
    """Put a nudge away until a moment in the future; it comes back by itself."""
    nudge = Nudge.objects.select_for_update().get(pk=nudge.pk, recipient=user)
    if not nudge.is_active:
        raise ValidationError(_("This nudge is already closed."))
    now = timezone.now()
    if until <= now:
        raise ValidationError({"until": _("Choose a moment in the future.")})
    if until > now + dt.timedelta(days=366):
        raise ValidationError({"until": _("Snooze for a year at most.")})
    nudge.state = NudgeState.SNOOZED
    nudge.snoozed_until = until
    nudge.reason = reason.strip()[:300]
    nudge.acted_at = now
    nudge.save(update_fields=["state", "snoozed_until", "reason", "acted_at"])
    return nudge


@transaction.atomic
def nudge_dismiss(*, user: User, nudge: Nudge, reason: str) -> Nudge:
    """Dismiss a nudge, saying why (the coach learns which advice misses)."""
    nudge = Nudge.objects.select_for_update().get(pk=nudge.pk, recipient=user)
    if not nudge.is_active:
        raise ValidationError(_("This nudge is already closed."))
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": _("Say why you dismiss this advice.")})
    nudge.state = NudgeState.DISMISSED
    nudge.reason = reason[:300]
    nudge.acted_at = timezone.now()
    nudge.resolved_by = "dismissed"
    nudge.save(update_fields=["state", "reason", "acted_at", "resolved_by"])
    return nudge


def _card_nudges(user: User, rule_id: str, now: dt.datetime) -> Any:
    """The user's due nudges of one rule, locked: what their card shows."""
    return (
        Nudge.objects.select_for_update()
        .filter(recipient=user, rule_id=rule_id)
        .filter(Q(state=NudgeState.OPEN) | Q(state=NudgeState.SNOOZED, snoozed_until__lte=now))
    )


@transaction.atomic
def card_snooze(*, user: User, rule_id: str, until: dt.datetime, reason: str = "") -> int:
    """Put away a whole card (every due nudge of one rule for the user) until a moment in the
    future; each comes back by itself. Returns how many nudges were snoozed."""
    now = timezone.now()
    if until <= now:
        raise ValidationError({"until": _("Choose a moment in the future.")})
    if until > now + dt.timedelta(days=366):
        raise ValidationError({"until": _("Snooze for a year at most.")})
    ids = list(_card_nudges(user, rule_id, now).values_list("pk", flat=True))
    if not ids:
        raise ValidationError(_("This card is already closed."))
    return Nudge.objects.filter(pk__in=ids).update(
        state=NudgeState.SNOOZED, snoozed_until=until, reason=reason.strip()[:300], acted_at=now
    )


@transaction.atomic
def card_dismiss(*, user: User, rule_id: str, reason: str) -> int:
    """Dismiss a whole card, saying why. Returns how many nudges were dismissed."""
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": _("Say why you dismiss this advice.")})
    now = timezone.now()
    ids = list(_card_nudges(user, rule_id, now).values_list("pk", flat=True))
    if not ids:
        raise ValidationError(_("This card is already closed."))
    return Nudge.objects.filter(pk__in=ids).update(
        state=NudgeState.DISMISSED, reason=reason[:300], acted_at=now, resolved_by="dismissed"
    )


def wake_snoozed(*, now: dt.datetime | None = None) -> int:
    """Snoozed nudges whose time has come are open again."""
    return Nudge.objects.filter(
        state=NudgeState.SNOOZED, snoozed_until__lte=now or timezone.now()
    ).update(state=NudgeState.OPEN)
