"""The hand-off suggestion: the reps a manager may hand a lead to, ranked by reliability,
fairness (who gnawed the chicken-rib leads) and load, each with a one-line reason in the
reader's language. The manager still chooses.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Avg, Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from coaching.cockpit.figures import HANDED
from crm.models import Lead, LeadEvent, ReportState, Team, User
from crm.permissions import hand_off_targets
from crm.pipeline import OPEN_STAGES

# The hand-off suggestion judges reliability over this many days.
SUGGESTION_DAYS = 30


@dataclass
class Suggestion:
    rep: User
    open_leads: int
    reports: int
    on_time: int
    quality: float | None
    rib_this_month: int
    score: float = 0.0
    reason: str = ""
    ask: Any = None  # the rep's open ask for the next lead (coaching.models.NextLeadAsk)

    @property
    def reliability(self) -> float:
        """0 to 1: the mean of the on-time share and the average quality; 0 with no reports,
        since reliability is shown by reporting (I9)."""
        if not self.reports:
            return 0.0
        return (self.on_time / self.reports + (self.quality or 0) / 100) / 2


def _subquery_count(queryset: QuerySet[Any], group: str) -> Coalesce:
    counted = queryset.order_by().values(group).annotate(n=Count("lead", distinct=True))
    return Coalesce(Subquery(counted.values("n")[:1], output_field=IntegerField()), 0)


def month_start(now: dt.datetime) -> dt.datetime:
    """Midnight on the first of the current month, in the active time zone."""
    today = timezone.localdate(now)
    first = dt.datetime.combine(today.replace(day=1), dt.time.min)
    return timezone.make_aware(first, timezone.get_current_timezone())


def reason_for(suggestion: Suggestion) -> str:
    """One line, in the active language, saying why a rep ranks where they do."""
    parts = []
    if suggestion.reports:
        parts.append(
            ngettext(
                "reports on time %(on_time)d of %(total)d",
                "reports on time %(on_time)d of %(total)d",
                suggestion.reports,
            )
            % {"on_time": suggestion.on_time, "total": suggestion.reports}
        )
        if suggestion.quality is not None:
            parts.append(_("average quality %(score)d") % {"score": round(suggestion.quality)})
    else:
        parts.append(_("no reports in the last 30 days"))
    parts.append(
        ngettext("%(count)d open lead", "%(count)d open leads", suggestion.open_leads)
        % {"count": suggestion.open_leads}
    )
    parts.append(
        ngettext(
            "got %(count)d chicken-rib lead this month",
            "got %(count)d chicken-rib leads this month",
            suggestion.rib_this_month,
        )
        % {"count": suggestion.rib_this_month}
    )
    return pgettext("separator between the parts of a reason", "; ").join(parts)


def handoff_suggestions(
    *, user: User, team: Team | None = None, now: dt.datetime | None = None
) -> list[Suggestion]:
    """The reps `user` may hand a lead to, best candidate first.

    Score = 2 × reliability (on-time share and average quality, last 30 days)
            + fairness (chicken-rib leads handed to them this month, relative to the most any
              rep of the list got: who gnawed the 鸡肋 has earned a better lead, I5/I9/I15)
            − load (open leads, relative to the busiest rep).
    Ties go to the rep with fewer open leads, then by name. The manager still chooses.
    """
    now = now or timezone.now()
    since = now - dt.timedelta(days=SUGGESTION_DAYS)
    recent = Q(
        reports__state=ReportState.SUBMITTED,
        reports__submitted_at__gte=since,
        reports__team_id=F("team_id"),
    )
    open_leads = Lead.objects.filter(owner=OuterRef("pk"), stage__in=OPEN_STAGES)
    ribs = LeadEvent.objects.filter(
        to_user=OuterRef("pk"),
        kind__in=HANDED,
        created_at__gte=month_start(now),
        lead__is_chicken_rib=True,
    )
    reps = hand_off_targets(user, team).annotate(
        n_open=Coalesce(
            Subquery(
                open_leads.order_by().values("owner").annotate(n=Count("pk")).values("n")[:1],
                output_field=IntegerField(),
            ),
            0,
        ),
        n_rib=_subquery_count(ribs, "to_user"),
        n_reports=Count("reports", filter=recent),
        n_on_time=Count("reports", filter=recent & Q(reports__on_time=True)),
        avg_quality=Avg("reports__quality_score", filter=recent),
    )
    found = [
        Suggestion(
            rep=rep,
            open_leads=rep.n_open,  # type: ignore[attr-defined]
            reports=rep.n_reports,  # type: ignore[attr-defined]
            on_time=rep.n_on_time,  # type: ignore[attr-defined]
            quality=float(rep.avg_quality) if rep.avg_quality is not None else None,  # type: ignore[attr-defined]
            rib_this_month=rep.n_rib,  # type: ignore[attr-defined]
        )
        for rep in reps
    ]
    busiest = max((s.open_leads for s in found), default=0)
    most_ribs = max((s.rib_this_month for s in found), default=0)
    for s in found:
        load = s.open_leads / busiest if busiest else 0.0
        fairness = s.rib_this_month / most_ribs if most_ribs else 0.0
        s.score = round(2 * s.reliability + fairness - load, 4)
        s.reason = reason_for(s)
    return sorted(found, key=lambda s: (-s.score, s.open_leads, str(s.rep), s.rep.pk))
