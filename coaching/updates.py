"""Updates: nudges that tell what someone did (the playbook's `kind: update` rules: your
manager answered, a rep thanked you, a lead you handed down was won). Seen is done: these
services close them when their reader has seen them.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from coaching import playbook
from coaching.models import Nudge, NudgeState
from coaching.nudges import resolve
from crm.models import User


def mark_seen(*, user: User, nudge: Nudge) -> int:
    """The reader opened an update: it is done (resolved by "seen"). Advice is not closed by
    looking at it; the action it asks for closes it. Returns how many nudges closed (0 or 1)."""
    if nudge.recipient_id != user.pk:
        raise ValidationError(_("This nudge is not yours."))
    rule = playbook.rules().get(nudge.rule_id)
    if rule is None or rule.kind != "update" or "seen" not in rule.resolves:
        return 0
    return (
        Nudge.objects.active()
        .filter(pk=nudge.pk)
        .update(state=NudgeState.DONE, resolved_by="seen", acted_at=timezone.now())
    )


def feed_seen(*, user: User) -> int:
    """The reader opened the team feed: the thanks and credit they received there are seen."""
    return resolve("feed_seen", recipient_id=user.pk)
