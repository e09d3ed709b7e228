"""How loudly the coach speaks: each person's notification preferences (push budget, email,
quiet hours and digest time, read in their own User.zone) and each team's thresholds for the
playbook's rules.

Reads fall back to the defaults (a person without a preference row gets the model's defaults; a
team without a rule setting gets the playbook's thresholds). Writes are keyword-only services
that check who may make them and raise ValidationError with a message the user can read.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from coaching import playbook
from coaching.models import NotificationPreference, RuleSetting
from crm.models import Team, User
from crm.permissions import can_manage_team

# Teams that share a rule's thresholds: (team ids, or None for "all other teams"; team ids to
# leave out; the thresholds).
ThresholdGroup = tuple[list[int] | None, list[int], dict[str, int]]


def preference_for(user: User) -> NotificationPreference:
    """The user's preferences, or an unsaved row with the defaults."""
    pref = NotificationPreference.objects.filter(user=user).first()
    return pref or NotificationPreference(user=user)


@transaction.atomic
def preference_update(*, user: User, **values: Any) -> NotificationPreference:
    """Keep a person's nudge budget, email switch, quiet hours and digest time."""
    budget = values.get("daily_push_budget")
    if budget is not None and not 0 <= int(budget) <= 50:
        raise ValidationError({"daily_push_budget": _("Choose between 0 and 50.")})
    pref, _created = NotificationPreference.objects.get_or_create(user=user)
    for name, value in values.items():
        setattr(pref, name, value)
    pref.save()
    return pref


def threshold_groups(
    rule: playbook.Rule, settings: list[RuleSetting] | None = None
) -> list[ThresholdGroup]:
    """Teams that share the rule's thresholds, as (team ids or None for "all others",
    excluded team ids, thresholds). One query however many leads (none when the rule's
    `settings` are given, as the scan reads every rule's at once); one group per override."""
    overrides = list(RuleSetting.objects.filter(rule_id=rule.id)) if settings is None else settings
    special = [s.team_id for s in overrides]
    groups: list[ThresholdGroup] = [(None, special, dict(rule.thresholds))]
    for setting in overrides:
        if setting.enabled:
            merged = dict(rule.thresholds) | {
                k: int(v) for k, v in setting.thresholds.items() if k in rule.thresholds
            }
            groups.append(([setting.team_id], [], merged))
    return groups


def thresholds_for(rule: playbook.Rule, team_id: int | None) -> dict[str, int]:
    """The rule's thresholds for one team: the playbook's, with the team's own values over
    them (one query)."""
    thresholds = dict(rule.thresholds)
    if team_id is None:
        return thresholds
    setting = RuleSetting.objects.filter(rule_id=rule.id, team_id=team_id).first()
    if setting is not None:
        thresholds |= {k: int(v) for k, v in setting.thresholds.items() if k in thresholds}
    return thresholds


@transaction.atomic
def rule_setting_update(
    *, actor: User, team: Team, rule_id: str, enabled: bool, values: dict[str, int]
) -> RuleSetting:
    """A manager (their team) or an admin changes a rule's thresholds for a team."""
    if not can_manage_team(actor, team):
        raise ValidationError(_("Only the team's manager or an admin changes its coaching."))
    rule = playbook.rules().get(rule_id)
    if rule is None:
        raise ValidationError(_("Unknown rule."))
    clean: dict[str, int] = {}
    for name, value in values.items():
        if name not in rule.thresholds:
            continue
        if not isinstance(value, int) or value < 0 or value > 100_000_000:
            raise ValidationError({name: _("Enter a whole number of zero or more.")})
        clean[name] = value
    setting, _created = RuleSetting.objects.update_or_create(
        team=team,
        rule_id=rule_id,
        defaults={
            "enabled": enabled,
            "thresholds": clean,
            "updated_at": timezone.now(),
            "updated_by": actor,
        },
    )
    return setting
