"""Reads for the nudge center, the team feed, the year-end letter and the coaching numbers."""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import pgettext

from coaching import playbook
from coaching.links import action_url
from coaching.models import (
    ACTIVE_STATES,
    CLOSED_STATES,
    CreditPost,
    Nudge,
    NudgeState,
    Thanks,
    ThanksKind,
)
from crm.models import (
    AskKind,
    AskState,
    Lead,
    PlanDecision,
    Report,
    ReportReply,
    ReportState,
    Role,
    Team,
    User,
)
from crm.permissions import reports_to_a_manager, visible_people, visible_teams
from crm.pipeline import Stage


def due_q(now: dt.datetime | None = None) -> Q:
    """Open nudges, and snoozed ones whose time has come."""
    now = now or timezone.now()
    return Q(state=NudgeState.OPEN) | Q(state=NudgeState.SNOOZED, snoozed_until__lte=now)


@dataclass(frozen=True)
class ShownNudge:
    nudge: Nudge
    title: str
    advice: str
    action_label: str
    action_url: str
    audience: str


def show(nudge: Nudge, language: str) -> ShownNudge:
    """A nudge's text in the reader's language, with the link to its action."""
    rule = playbook.rules().get(nudge.rule_id)
    if rule is None:  # a rule removed from the playbook: keep the row readable
        return ShownNudge(nudge, nudge.rule_id, "", "", action_url(nudge, "lead"), "")
    return ShownNudge(
        nudge=nudge,
        title=rule.text("title", language, nudge.context),
        advice=rule.text("advice", language, nudge.context),
        action_label=rule.label(language),
        action_url=action_url(nudge, rule.action_target),
        audience=rule.audience,
    )


# The nudge center's lists (the page's and the API's `show`): due now, snoozed, closed.
SHOW_STATES: tuple[str, ...] = ("open", "snoozed", "closed")


def nudges_for(*, user: User, show_state: str = "open") -> QuerySet[Nudge]:
    """The user's nudges in one of the SHOW_STATES lists (anything else: the closed ones)."""
    nudges = Nudge.objects.filter(recipient=user).select_related("lead", "report")
    if show_state == "open":
        return nudges.filter(due_q()).order_by("-priority", "-created_at", "-id")
    if show_state == "snoozed":
        return nudges.filter(state=NudgeState.SNOOZED, snoozed_until__gt=timezone.now()).order_by(
            "snoozed_until"
        )
    return nudges.filter(state__in=CLOSED_STATES).order_by("-acted_at", "-id")


def team_feed(*, user: User) -> dict[str, Any]:
    """Credit posts on the user's team(s), and the thanks they received."""
    if reports_to_a_manager(user):
        teams: QuerySet[Team] = Team.objects.filter(pk=user.team_id or 0)
    else:
        teams = visible_teams(user)
    posts = (
        CreditPost.objects.filter(team__in=teams)
        .select_related("author", "lead", "team")
        .prefetch_related("credited")[:50]
    )
    received = Thanks.objects.filter(recipient=user).select_related("author", "lead")[:50]
    sent = Thanks.objects.filter(author=user).select_related("recipient", "lead")[:50]
    return {"posts": posts, "received": received, "sent": sent}


# What someone did for a win, in the order the year-end letter names it.
HELP_KINDS: tuple[str, ...] = ("handoff", "joint_visit", "decision", "ask", "advice", "credited")


def help_label(kind: str) -> str:
    """What a helper did for a win, as a phrase after "you" in the reader's language."""
    labels = {
        "handoff": pgettext("year-end letter: what you did", "handed the lead to me"),
        "joint_visit": pgettext("year-end letter: what you did", "came with me to the customer"),
        "decision": pgettext("year-end letter: what you did", "decided on my plan"),
        "ask": pgettext("year-end letter: what you did", "gave me what I asked for"),
        "advice": pgettext("year-end letter: what you did", "advised me on it"),
        "credited": pgettext("year-end letter: what you did", "helped me win it"),
    }
    return labels.get(kind, kind)


@dataclass
class Helper:
    """Someone who helped the user this year: the wins they helped with and what they did on
    each (never a loss), and whether the user has thanked them yet."""

    person: User
    wins: dict[int, tuple[Lead, set[str]]] = field(default_factory=dict)
    added: bool = False
    thanked: bool = False
    draft: str = ""

    def helped(self, lead: Lead, kind: str) -> None:
        self.wins.setdefault(lead.pk, (lead, set()))[1].add(kind)

    @property
    def lines(self) -> list[tuple[Lead, list[str]]]:
        """Each win, biggest first, with what they did in HELP_KINDS order."""
        ordered = sorted(self.wins.values(), key=lambda w: (-(w[0].value or 0), w[0].company))
        return [(lead, [k for k in HELP_KINDS if k in kinds]) for lead, kinds in ordered]

    @property
    def described(self) -> list[tuple[Lead, list[str]]]:
        """The same wins, with what they did in words (the active language)."""
        return [(lead, [help_label(k) for k in kinds]) for lead, kinds in self.lines]


def _report_helps(user: User, wins: dict[int, Lead]) -> list[tuple[int, int, str]]:
    """(person id, lead id, kind) for the answers to the user's reports on those wins: the
    joint visits, decisions, asks answered and replies of anyone but the user."""
    found: list[tuple[int, int, str]] = []
    reports = Report.objects.filter(
        author=user, lead_id__in=wins, state=ReportState.SUBMITTED
    ).values("lead_id", "decision", "decided_by_id", "ask_state", "ask_kind", "team__manager_id")
    for r in reports:
        if r["decided_by_id"] and r["decision"]:
            kind = "joint_visit" if r["decision"] == PlanDecision.JOINT_VISIT else "decision"
            found.append((r["decided_by_id"], r["lead_id"], kind))
        if r["ask_state"] == AskState.DONE and r["team__manager_id"]:
            kind = "joint_visit" if r["ask_kind"] == AskKind.JOINT_VISIT else "ask"
            found.append((r["team__manager_id"], r["lead_id"], kind))
    replies = (
        ReportReply.objects.filter(report__author=user, report__lead_id__in=wins)
        .exclude(author=user)
        .values_list("author_id", "report__lead_id")
        .distinct()
    )
    found += [(person, lead, "advice") for person, lead in replies]
    credited = CreditPost.credited.through.objects.filter(
        creditpost__author=user, creditpost__lead_id__in=wins
    ).values_list("user_id", "creditpost__lead_id")
    found += [(person, lead, "credited") for person, lead in credited]
    return found


def year_end_candidates(*, user: User, year: int, added: Sequence[int] = ()) -> list[Helper]:
    """The people who helped the user win deals this year, with each win and what they did
    (hand-off, joint visit, decision, ask answered, advice, public credit) — never a loss —;
    the user's own manager always; and the active colleagues the user `added` by hand."""
    start = dt.datetime(year, 1, 1, tzinfo=dt.UTC)
    end = dt.datetime(year + 1, 1, 1, tzinfo=dt.UTC)
    wins = {
        lead.pk: lead
        for lead in Lead.objects.filter(
            owner=user, stage=Stage.WON, closed_at__gte=start, closed_at__lt=end
        )
    }
    helps = [(lead.handed_by_id, lead.pk, "handoff") for lead in wins.values() if lead.handed_by_id]
    helps += _report_helps(user, wins)
    ids = {person for person, _lead, _kind in helps if person != user.pk}
    manager_id = user.team.manager_id if user.team_id and user.team else None
    wanted = ids | set(added) | ({manager_id} if manager_id else set())
    wanted.discard(user.pk)
    people = {
        u.pk: Helper(person=u)
        for u in User.objects.filter(pk__in=wanted, is_active=True).order_by(
            "display_name", "username"
        )
    }
    for person, lead_id, kind in helps:
        if person in people:
            people[person].helped(wins[lead_id], kind)
    for pk in added:
        if pk in people and pk not in ids and pk != manager_id:
            people[pk].added = True
    already = set(
        Thanks.objects.filter(
            author=user, kind=ThanksKind.YEAR_END, created_at__gte=start, created_at__lt=end
        ).values_list("recipient_id", flat=True)
    )
    for pk, helper in people.items():
        helper.thanked = pk in already
    return sorted(
        people.values(),
        key=lambda h: (h.added, h.person.pk != manager_id, -len(h.wins), str(h.person)),
    )


def colleagues(*, user: User) -> QuerySet[User]:
    """Everyone active in the company but the user: the seniors and peers a rep may add to
    their year-end thanks."""
    return (
        User.objects.filter(is_active=True)
        .exclude(pk=user.pk)
        .select_related("team")
        .order_by("display_name", "username")
    )


def rule_stats(*, scope: QuerySet[Nudge]) -> list[dict[str, Any]]:
    """Per rule: how often it fired, was acted on, was dismissed, and the median time to act."""
    rows = {
        r["rule_id"]: r
        for r in scope.values("rule_id").annotate(
            fired=Count("pk"),
            done=Count("pk", filter=Q(state=NudgeState.DONE)),
            dismissed=Count("pk", filter=Q(state=NudgeState.DISMISSED)),
            open=Count("pk", filter=Q(state__in=ACTIVE_STATES)),
        )
    }
    waits: dict[str, list[float]] = {}
    lag = ExpressionWrapper(F("acted_at") - F("created_at"), output_field=DurationField())
    for rule_id, took in (
        scope.filter(state=NudgeState.DONE, acted_at__isnull=False)
        .annotate(took=lag)
        .values_list("rule_id", "took")
    ):
        if took is not None:
            waits.setdefault(rule_id, []).append(took.total_seconds() / 3600)
    out = []
    for rule_id, rule in playbook.rules().items():
        row = rows.get(rule_id, {"fired": 0, "done": 0, "dismissed": 0, "open": 0})
        hours = waits.get(rule_id)
        out.append(
            {
                "rule": rule,
                "fired": row["fired"],
                "done": row["done"],
                "dismissed": row["dismissed"],
                "open": row["open"],
                "median_hours": statistics.median(hours) if hours else None,
            }
        )
    return out


def reliability(*, viewer: User, days: int = 90) -> list[dict[str, Any]]:
    """The 靠谱 measures per rep the viewer may see: reports on time, how complete they are,
    answers to nudges, conversion of the leads handed down, thanks given after wins."""
    since = timezone.now() - dt.timedelta(days=days)
    reps = (
        visible_people(viewer).filter(role=Role.REP)
        if viewer.role != Role.REP
        else (User.objects.filter(pk=viewer.pk))
    )
    reports = Q(reports__state=ReportState.SUBMITTED, reports__submitted_at__gte=since)
    stats = reps.annotate(
        n_reports=Count("reports", filter=reports, distinct=True),
        n_on_time=Count("reports", filter=reports & Q(reports__on_time=True), distinct=True),
    ).values("pk", "display_name", "username", "n_reports", "n_on_time")
    avg_quality = dict(
        Report.objects.filter(author__in=reps, state=ReportState.SUBMITTED, submitted_at__gte=since)
        .values_list("author_id")
        .annotate(avg=Avg("quality_score"))
    )
    nudge_rows = {
        r["recipient_id"]: r
        for r in Nudge.objects.filter(recipient__in=reps, created_at__gte=since)
        .values("recipient_id")
        .annotate(
            total=Count("pk"),
            done=Count("pk", filter=Q(state=NudgeState.DONE)),
        )
    }
    lead_rows = {
        r["owner_id"]: r
        for r in Lead.objects.filter(owner__in=reps, handed_by__isnull=False)
        .exclude(handed_by=F("owner"))
        .values("owner_id")
        .annotate(
            won=Count("pk", filter=Q(stage="won")),
            lost=Count("pk", filter=Q(stage="lost")),
        )
    }
    thanked = dict(
        Thanks.objects.filter(author__in=reps, kind=ThanksKind.WIN)
        .values_list("author_id")
        .annotate(n=Count("lead_id", distinct=True))
    )
    out = []
    for r in stats:
        leads = lead_rows.get(r["pk"], {"won": 0, "lost": 0})
        nudges = nudge_rows.get(r["pk"], {"total": 0, "done": 0})
        closed = leads["won"] + leads["lost"]
        out.append(
            {
                "name": r["display_name"] or r["username"],
                "reports": r["n_reports"],
                "on_time": r["n_on_time"],
                "on_time_share": (r["n_on_time"] / r["n_reports"]) if r["n_reports"] else None,
                "quality": avg_quality.get(r["pk"]),
                "nudges": nudges["total"],
                "nudges_done": nudges["done"],
                "won": leads["won"],
                "conversion": (leads["won"] / closed) if closed else None,
                "thanked": thanked.get(r["pk"], 0),
            }
        )
    return out
