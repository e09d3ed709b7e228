"""Making nudges from specs: the new keys, each pushed or left for the digest, stored at once."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from coaching import chat, playbook
from coaching.models import (
    Delivery,
    EmailKind,
    NotificationPreference,
    Nudge,
    OutboundEmail,
    Priority,
)
from coaching.nudges.budget import EVENT_EMAILS_PER_DAY, _email_at, _pushed_today
from coaching.nudges.keys import _chunks, _key_set, _missing
from coaching.rules import NudgeSpec
from crm.models import User


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
