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

One module per subject, each name re-exported here so that `from coaching import nudges` and
`nudges.create_nudges(...)` stay: making (specs to nudges, stored at once), budget (quiet
hours and the push budget), keys (looking keys up), closing (resolving, expiring) and acting
(snoozing, dismissing, waking).
"""

from coaching.nudges.acting import (
    _card_nudges,
    card_dismiss,
    card_snooze,
    nudge_dismiss,
    nudge_snooze,
    wake_snoozed,
)
from coaching.nudges.budget import (
    BURST,
    EVENT_EMAILS_PER_DAY,
    _Allowances,
    _email_at,
    _in_quiet_hours,
    _local_midnights,
    _pushed_today,
    _quiet_end,
)
from coaching.nudges.closing import (
    expire_for_lead,
    resolve,
)
from coaching.nudges.keys import (
    CHUNK,
    _chunks,
    _key_set,
    _missing,
)
from coaching.nudges.making import (
    _FROM_SPEC,
    _Exact,
    _fresh_specs,
    _insert,
    _plan,
    _Planned,
    _prepare,
    _row,
    _store,
    create_nudges,
    create_nudges_counted,
)

__all__ = [
    "BURST",
    "CHUNK",
    "EVENT_EMAILS_PER_DAY",
    "_FROM_SPEC",
    "_Allowances",
    "_Exact",
    "_Planned",
    "_card_nudges",
    "_chunks",
    "_email_at",
    "_fresh_specs",
    "_in_quiet_hours",
    "_insert",
    "_key_set",
    "_local_midnights",
    "_missing",
    "_plan",
    "_prepare",
    "_pushed_today",
    "_quiet_end",
    "_row",
    "_store",
    "card_dismiss",
    "card_snooze",
    "create_nudges",
    "create_nudges_counted",
    "expire_for_lead",
    "nudge_dismiss",
    "nudge_snooze",
    "resolve",
    "wake_snoozed",
]
