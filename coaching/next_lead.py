"""The rep's side of hand-outs (ideas I9, I15): a rep who reports reliably may ask for the next
good lead, and the ask closes when the manager hands that rep a lead.

The bar is the team's own `reliable_rep` thresholds — the same numbers that make the coach tell
the manager "consider handing this rep a better lead": at least `min_reports` reports to the
team in the last `days`, `on_time_share_percent` of them on time. Every report counts here (not
only those on chicken-rib leads), so a rep who was never handed a 鸡肋 can still earn it.

Writes are keyword-only services in one transaction that raise ValidationError with a message
in the user's language and change nothing when refused.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from coaching import playbook
from coaching.cockpit.figures import HANDED, Figures, rep_figures
from coaching.models import NextLeadAsk, RuleSetting
from coaching.nudges import create_nudges
from coaching.rules import NudgeSpec
from crm.models import LeadEvent, Role, Team, User

BAR_RULE = "reliable_rep"
BAR_DEFAULTS = {"min_reports": 3, "on_time_share_percent": 80, "days": 30}


@dataclass(frozen=True)
class Bar:
    """The team's bar for asking for the next lead."""

    min_reports: int
    on_time_percent: int
    days: int

    def met_by(self, row: Figures) -> bool:
        return row.reports >= self.min_reports and (row.on_time_share or 0) >= (
            self.on_time_percent
        )

    def reports_missing(self, row: Figures) -> int:
        """Reports still to send in the window to reach the count."""
        return max(self.min_reports - row.reports, 0)


def bar_for(team: Team | None) -> Bar:
    """The team's reliable_rep thresholds (the playbook's, or the team's own setting)."""
    rule = playbook.rules().get(BAR_RULE)
    t = BAR_DEFAULTS | (dict(rule.thresholds) if rule else {})
    if team is not None:
        setting = RuleSetting.objects.filter(team=team, rule_id=BAR_RULE).first()
        if setting is not None:
            t |= {k: int(v) for k, v in setting.thresholds.items() if k in t}
    return Bar(
        min_reports=int(t["min_reports"]),
        on_time_percent=int(t["on_time_share_percent"]),
        days=int(t["days"]),
    )


def standing(*, rep: User, now: dt.datetime | None = None) -> tuple[Bar, Figures, bool]:
    """The rep's team bar, their figures over the bar's window, and whether they meet it."""
    bar = bar_for(rep.team if rep.team_id else None)
    row = rep_figures(rep=rep, days=bar.days, now=now)
    return bar, row, bar.met_by(row)


def _handed_since() -> Exists:
    """A lead handed (or reassigned) to the ask's rep, in the ask's team, after the ask."""
    return Exists(
        LeadEvent.objects.filter(
            kind__in=HANDED,
            to_user_id=OuterRef("rep_id"),
            lead__team_id=OuterRef("team_id"),
            created_at__gte=OuterRef("created_at"),
        )
    )


def open_asks(teams: QuerySet[Team] | list[int]) -> QuerySet[NextLeadAsk]:
    """Asks not yet answered in those teams, the oldest first. An ask whose rep got a lead
    after it counts as answered even before the hand-off was processed by the coach."""
    return (
        NextLeadAsk.objects.filter(team__in=teams, answered_at__isnull=True)
        .exclude(_handed_since())
        .select_related("rep")
        .order_by("created_at", "pk")
    )


def open_ask_of(rep: User) -> NextLeadAsk | None:
    """The rep's open ask, if any."""
    return open_asks([rep.team_id or 0]).filter(rep=rep).first()


@transaction.atomic
def next_lead_asks_close(
    *,
    rep_id: int,
    lead_id: int | None = None,
    actor_id: int | None = None,
    handed_at: dt.datetime | None = None,
) -> int:
    """The rep was handed a lead: their open asks made before that hand-off are answered by it.
    Returns how many closed; a rep without an open ask is left alone."""
    asks = NextLeadAsk.objects.filter(rep_id=rep_id, answered_at__isnull=True)
    if handed_at is not None:
        # The coach may process an older hand-off after the ask: that lead did not answer it.
        asks = asks.filter(created_at__lte=handed_at)
    return asks.update(
        answered_at=handed_at or timezone.now(), answered_by_id=actor_id, lead_id=lead_id
    )


def _close_already_handed(rep: User) -> None:
    """Stamp the open ask a hand-off already answered (in case the coach has not run yet)."""
    for ask in NextLeadAsk.objects.filter(rep=rep, answered_at__isnull=True):
        event = (
            LeadEvent.objects.filter(kind__in=HANDED, to_user=rep, created_at__gte=ask.created_at)
            .order_by("created_at", "pk")
            .first()
        )
        if event is not None:
            ask.answered_at = event.created_at
            ask.answered_by_id = event.actor_id
            ask.lead_id = event.lead_id
            ask.save(update_fields=["answered_at", "answered_by", "lead"])


@transaction.atomic
def next_lead_ask(*, rep: User, note: str = "", now: dt.datetime | None = None) -> NextLeadAsk:
    """A rep who meets their team's bar asks their manager for the next good lead."""
    if rep.role != Role.REP or not rep.is_active or not rep.team_id:
        raise ValidationError(_("Only a rep in a team asks for the next lead."))
    _close_already_handed(rep)
    if NextLeadAsk.objects.filter(rep=rep, answered_at__isnull=True).exists():
        raise ValidationError(_("You have already asked; your manager will answer with a lead."))
    bar, _row, met = standing(rep=rep, now=now)
    if not met:
        raise ValidationError(
            _(
                "Ask once you meet your team's bar: %(count)d reports in %(days)d days, "
                "%(percent)d%% of them on time."
            )
            % {"count": bar.min_reports, "days": bar.days, "percent": bar.on_time_percent}
        )
    note = note.strip()
    if len(note) > 300:
        raise ValidationError({"note": _("Keep it under 300 characters.")})
    ask = NextLeadAsk.objects.create(
        rep=rep, team_id=rep.team_id, note=note, created_at=now or timezone.now()
    )
    manager_id = Team.objects.filter(pk=rep.team_id).values_list("manager_id", flat=True).first()
    if manager_id:
        # Heard at once: the manager sees the ask in the bell, beside the hand-off suggestion.
        create_nudges(
            [
                NudgeSpec(
                    "next_lead_asked",
                    manager_id,
                    period=f"a{ask.pk}",
                    subject_user_id=rep.pk,
                    context={"rep": str(rep), "note": note},
                )
            ],
            now=now,
        )
    return ask


@transaction.atomic
def next_lead_ask_withdraw(*, rep: User) -> int:
    """The rep takes back their open ask."""
    return NextLeadAsk.objects.filter(rep=rep, answered_at__isnull=True).update(
        answered_at=timezone.now(), answered_by=rep
    )


__all__ = [
    "Bar",
    "bar_for",
    "next_lead_ask",
    "next_lead_ask_withdraw",
    "next_lead_asks_close",
    "open_ask_of",
    "open_asks",
    "standing",
]
