"""Running the scans: one input per group of teams sharing thresholds, and run_scans."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.utils import timezone

from coaching import playbook, rules
from coaching.models import RuleSetting
from coaching.nudges import create_nudges_counted, wake_snoozed
from coaching.preferences import threshold_groups
from coaching.rules import NudgeSpec
from coaching.scans.registry import SCANS, ScanInput

# Scans that judge every team in one statement, each team with its thresholds (a CASE on the
# team), instead of one statement per group of teams sharing them: each statement reads all
# the open leads, so a team's own thresholds would otherwise cost a second read of them.
FOLDED = {"report_due", "stalled"}


def _inputs(
    rule: playbook.Rule,
    *,
    now: dt.datetime,
    today: dt.date,
    settings: list[RuleSetting] | None = None,
    batches: list[rules.Batch] | None = None,
) -> list[ScanInput]:
    """One input per group of teams sharing the rule's thresholds; one in all for a FOLDED
    scan, leaving out only the teams that switched the rule off. `settings`: the rule's team
    settings, when read already (run_scans reads every rule's in one query); `batches`: the
    FOLDED rules' large recent hand-offs, when read already (rules.recent_batches, counted
    for every team that has a setting of one of them)."""
    groups = threshold_groups(rule, settings)
    if rule.scan in FOLDED and len(groups) > 1:
        _everyone, special, t = groups[0]
        team_t = {team_ids[0]: own for team_ids, _exclude, own in groups[1:] if team_ids}
        off = [team for team in special if team not in team_t]
        groups = [(None, off, t)]
    else:
        team_t = None
    if rule.scan not in FOLDED:
        batches = None
    return [
        ScanInput(
            rule=rule,
            t=t,
            leads=rules.open_owned_leads(team_ids, exclude),
            reps=rules.active_reps(team_ids, exclude),
            now=now,
            today=today,
            team_ids=team_ids,
            exclude=exclude,
            team_t=team_t,
            batches=batches,
            left_out=exclude if batches is not None else None,
        )
        for team_ids, exclude, t in groups
    ]


def run_scans(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Apply every scan rule to all leads, reps and reports with set-based queries, and make
    the nudges they call for. Returns how many new nudges each rule made."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    wake_snoozed(now=now)
    specs: list[NudgeSpec] = []
    made: dict[str, int] = {}
    settings: dict[str, list[RuleSetting]] = defaultdict(list)
    for setting in RuleSetting.objects.all():  # every rule's team settings, one query
        settings[setting.rule_id].append(setting)
    # report_due and stalled both spread large hand-offs: one read of them for both, counted
    # for each team that has its own setting of either.
    folded = [rule.id for rule in playbook.rules().values() if rule.scan in FOLDED]
    named = {setting.team_id for rule_id in folded for setting in settings.get(rule_id, [])}
    batches = rules.recent_batches(rules.open_owned_leads(None, []), now, named) if folded else None
    for rule in playbook.rules().values():
        if not rule.scan:
            continue
        made[rule.id] = 0
        inputs = _inputs(
            rule, now=now, today=today, settings=settings.get(rule.id, []), batches=batches
        )
        for found in inputs:
            specs.extend(SCANS[rule.scan](found))
    # One batch, so the daily push budget goes to the most important nudges across all rules.
    for rule_id, count in create_nudges_counted(specs, now=now).items():
        made[rule_id] += count
    return made
