"""A person's calendar feed (iCalendar, RFC 5545): the dates their work hangs on, served at a
secret link they can reset (crm.views.calendar), for Outlook, Google, Apple and DingTalk.

What each person gets (the decision, issue 17):
- A rep: for each of their open leads, the next step on its date, the tender date and the
  expected close date; and the progress reports due (7 days after the last report or the
  hand-off, 3 when a tender or close is within 14 days: crm.reporting.report_due_days) as one
  event a day ("Reports due · Acme and 4 more"), not one per lead.
- A manager: the next steps, tenders and closes of leads they own themselves; the plan
  decisions waiting on them (an escalation plan with no decision yet, on its "needed by" date,
  else today); the tender and expected-close dates of the team's leads (named with the rep),
  because those are the days a manager joins or chases; and the team's reports due as ONE
  event per rep and day ("Reports due: Tom (3)"), not one per lead. Not every rep's next step:
  that is the rep's diary, and fifty of them a day would bury the manager's own.
- A director (+2): their own leads, and the tender dates of their teams' leads.
- An admin: their own leads.
A date already past that is still owed (a report overdue, a decision not taken) shows on today,
so it is never lost off the back of the window; the dates a person set (next step, tender,
close) stay where they were put.

Every event is an all-day one (these are dates, not meetings), transparent (it never blocks
busy time), and carries a stable UID per (kind, object, person) so a refresh updates it instead
of adding a copy; its DTSTAMP is the object's last change, so an unchanged feed is byte for byte
the same and answers 304. The window is 30 days back to 180 ahead, at most MAX_EVENTS events
(the nearest first). Three queries: the person, their leads, their pending plan decisions.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import icalendar
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm import audit
from crm.labels import choice_labels
from crm.models import Lead, Report, ReportKind, ReportState, Role, Team, User
from crm.pipeline import OPEN_STAGES, Stage
from crm.reporting import report_due_days

DAYS_BACK = 30
DAYS_AHEAD = 180
MAX_EVENTS = 500
# How often a calendar app should fetch again (Outlook and Apple read these; Google decides
# for itself, about twice a day).
REFRESH = dt.timedelta(hours=1)


class Kind:
    NEXT_STEP = "next-step"
    TENDER = "tender"
    CLOSE = "close"
    REPORT_DUE = "report-due"
    TEAM_REPORTS_DUE = "team-reports-due"
    DECISION = "decision"


@dataclass(frozen=True)
class FeedEvent:
    """One all-day event: what, when, where it links to, and when its object last changed."""

    kind: str
    key: str  # the object's id (or ids) within its kind: with the kind, the event's identity
    day: dt.date
    summary: str
    describe: Callable[[], str]  # the event's text, written only for the events kept
    path: str
    changed: dt.datetime


# --- The secret link ------------------------------------------------------------------------


def calendar_link_reset(*, user: User) -> str:
    """Give `user` a new secret calendar link (turning the feed on if it was off); the old one
    stops working at once. Returns the new token. Audited."""
    with transaction.atomic():
        user.calendar_token = secrets.token_urlsafe(32)
        user.save(update_fields=["calendar_token"])
        audit.record(actor=user, action="calendar.link_reset", obj=user)
    return feed_token(user)


def calendar_link_off(*, user: User) -> None:
    """Turn `user`'s feed off: their link answers 404 until they turn it on again. Audited."""
    with transaction.atomic():
        user.calendar_token = None
        user.save(update_fields=["calendar_token"])
        audit.record(actor=user, action="calendar.link_off", obj=user)


def feed_token(user: User) -> str:
    """The token in `user`'s link: their id and their secret. The id picks the row by primary
    key, so the secret is compared in constant time (hmac.compare_digest) rather than by an
    index search whose timing depends on how much of a guess was right."""
    return f"{user.pk}-{user.calendar_token}" if user.calendar_token else ""


def feed_user(token: str) -> User | None:
    """The active person whose feed `token` opens, or None (a bad, old or switched-off link)."""
    pk, _sep, secret = token.partition("-")
    if not (pk.isascii() and pk.isdigit() and 0 < len(pk) < 19) or not secret:
        return None
    user = User.objects.filter(pk=int(pk), is_active=True).first()
    stored = (user.calendar_token or "") if user is not None else ""
    # Compared even when there is no such person, so a missing id and a wrong secret cost the
    # same; an empty stored secret (feed off) never matches.
    matches = hmac.compare_digest(secret.encode(), (stored or "\x00" * 43).encode())
    return user if user is not None and stored and matches else None


def feed_urls(user: User) -> dict[str, str]:
    """The link to paste (https, or whatever KAOPU_SITE_URL says) and its webcal:// twin that
    opens Apple Calendar and Outlook directly; empty while the feed is off."""
    token = feed_token(user)
    if not token:
        return {}
    url = settings.KAOPU_SITE_URL + reverse("calendar-feed", args=[token])
    return {"url": url, "webcal": "webcal://" + url.split("://", 1)[-1]}


# --- The events -----------------------------------------------------------------------------


LEAD_FIELDS = (
    "pk",
    "company",
    "stage",
    "next_step",
    "next_step_due",
    "tender_date",
    "expected_close",
    "handed_at",
    "created_at",
    "updated_at",
    "owner_id",
    "owner__display_name",
    "owner__first_name",
    "owner__last_name",
    "owner__username",
)


def _leads(user: User, start: dt.date, end: dt.date) -> QuerySet[Lead, dict[str, Any]]:
    """The open leads whose dates this person's calendar shows (see the module's docstring):
    all of their own (a rep's report is due on each, whatever its other dates), a manager's
    whole team (each rep's reports due), a director's teams' leads with a tender in the
    window. Rows, not models: a manager's team can be thousands of leads."""
    # Each part reads its own index (owner; team and stage) and the parts are joined with
    # UNION: one OR across both made PostgreSQL scan every lead (measured at 100k leads,
    # bench/calendar_bench.py).
    # Their own leads only where the app shows them too: a manager or director who still owns
    # a lead in a team they no longer lead must not read it here (crm.permissions.lead_scope).
    parts = [Q(owner=user)]
    if user.is_admin_role:
        pass
    elif user.role == Role.MANAGER:
        teams = Team.objects.filter(manager=user).values("pk")
        parts = [Q(team_id__in=teams)]  # their own leads are among the team's
    elif user.role == Role.DIRECTOR:
        teams = Team.objects.filter(director=user).values("pk")
        parts = [
            Q(owner=user, team_id__in=teams),
            Q(team_id__in=teams, tender_date__range=(start, end)),
        ]
    found = [
        Lead.objects.filter(part, stage__in=OPEN_STAGES)
        # The lead keeps its latest report's time (crm.services.reports), as the coach reads it.
        .annotate(last_report_at=F("last_reported_at"))
        .order_by()
        .values(*LEAD_FIELDS, "last_report_at")
        for part in parts
    ]
    # UNION ALL (a lead both owned and in the team comes twice; feed_events keeps one).
    return found[0].union(*found[1:], all=True).order_by() if len(found) > 1 else found[0]


def _report_due(lead: dict[str, Any], *, today: dt.date, zone: Any) -> dt.date:
    """The day the next progress report on `lead` is due (crm.reporting's rhythm), counted
    from the latest of the last report, the hand-off and the lead's creation."""
    moments = [lead[k] for k in ("last_report_at", "handed_at", "created_at") if lead[k]]
    since = max(moments).astimezone(zone).date()
    upcoming = [lead[k] for k in ("tender_date", "expected_close") if lead[k] and lead[k] >= today]
    return since + dt.timedelta(
        days=report_due_days(close_or_tender=min(upcoming, default=None), today=today)
    )


class _Words:
    """The feed's phrases, translated once per feed rather than once per event."""

    def __init__(self) -> None:
        self.next_step = _("Next step · %(company)s: %(step)s")
        self.not_written = _("(not written)")
        self.tender = _("Tender · %(company)s")
        self.close = _("Expected close · %(company)s")
        self.report_due = _("Report due · %(company)s")
        self.report_overdue = _("Report overdue · %(company)s (due %(date)s)")
        self.reports_due = _("Reports due · %(company)s and %(more)s more")
        self.due_on = _("%(company)s (due %(date)s)")
        self.team_due = _("Reports due: %(rep)s (%(count)s)")
        self.decision = _("Decide %(rep)s's plan · %(company)s")
        self.step_line = _("Next step: %(step)s")
        self.owner_line = _("Owner: %(name)s")
        self.stages = choice_labels(Stage.choices)
        self.names: dict[int, str] = {}

    def owner(self, lead: dict[str, Any]) -> str:
        """The owner's name as everywhere else (User.__str__), built once per owner."""
        pk = lead["owner_id"]
        if pk not in self.names:
            person = User(
                display_name=lead["owner__display_name"] or "",
                first_name=lead["owner__first_name"] or "",
                last_name=lead["owner__last_name"] or "",
                username=lead["owner__username"] or "",
            )
            self.names[pk] = str(person)
        return self.names[pk]

    def lead_text(self, lead: dict[str, Any]) -> str:
        lines = [f"{lead['company']} · {self.stages.get(lead['stage'], lead['stage'])}"]
        if lead["next_step"]:
            lines.append(self.step_line % {"step": lead["next_step"]})
        if lead["owner_id"]:
            lines.append(self.owner_line % {"name": self.owner(lead)})
        return "\n".join(lines)


def _lead_events(
    user: User, leads: list[dict[str, Any]], words: _Words, today: dt.date, end: dt.date
) -> Iterator[FeedEvent]:
    start = today - dt.timedelta(days=DAYS_BACK)
    zone = user.zone
    is_rep = user.role == Role.REP and not user.is_admin_role
    is_manager = user.role == Role.MANAGER and not user.is_admin_role
    team_due: dict[tuple[int, dt.date], list[dict[str, Any]]] = {}
    own_due: dict[dt.date, list[tuple[dict[str, Any], dt.date]]] = {}
    for lead in leads:
        mine = lead["owner_id"] == user.pk
        path = reverse("lead-detail", args=[lead["pk"]])
        key, company, changed = str(lead["pk"]), lead["company"], lead["updated_at"]
        whose = "" if mine or not lead["owner_id"] else f" · {words.owner(lead)}"

        def text(lead: dict[str, Any] = lead) -> str:
            return words.lead_text(lead)

        step_day = lead["next_step_due"]
        if mine and step_day and start <= step_day <= end:
            step = lead["next_step"] or words.not_written
            summary = words.next_step % {"company": company, "step": step}
            yield FeedEvent(Kind.NEXT_STEP, key, step_day, summary, text, path, changed)
        tender = lead["tender_date"]
        if tender and start <= tender <= end:
            summary = words.tender % {"company": company} + whose
            yield FeedEvent(Kind.TENDER, key, tender, summary, text, path, changed)
        close = lead["expected_close"]
        if (mine or is_manager) and close and start <= close <= end:
            summary = words.close % {"company": company} + whose
            yield FeedEvent(Kind.CLOSE, key, close, summary, text, path, changed)
        if mine and is_rep:
            due = _report_due(lead, today=today, zone=zone)
            if max(due, today) <= end:
                own_due.setdefault(max(due, today), []).append((lead, due))
        elif is_manager and not mine and lead["owner_id"]:
            due = max(_report_due(lead, today=today, zone=zone), today)
            if due <= end:
                team_due.setdefault((lead["owner_id"], due), []).append(lead)
    yield from _own_reports_due(own_due, words, today)
    inbox = reverse("report-inbox")
    for (owner_id, day), group in team_due.items():

        def companies(group: list[dict[str, Any]] = group) -> str:
            return "\n".join(sorted(lead["company"] for lead in group))

        summary = words.team_due % {"rep": words.owner(group[0]), "count": len(group)}
        changed = max(lead["updated_at"] for lead in group)
        key = f"{owner_id}-{day.isoformat()}"
        yield FeedEvent(Kind.TEAM_REPORTS_DUE, key, day, summary, companies, inbox, changed)


def _own_reports_due(
    own_due: dict[dt.date, list[tuple[dict[str, Any], dt.date]]], words: _Words, today: dt.date
) -> Iterator[FeedEvent]:
    """A rep's reports due, one event a day: a rep with 300 open leads would otherwise get 300
    of them a week. Overdue ones are on today."""
    for day, group in own_due.items():
        group.sort(key=lambda item: (item[1], item[0]["company"]))
        (first, due), more = group[0], len(group) - 1
        company = first["company"]
        changed = max(
            m for lead, _due in group for m in (lead["last_report_at"], lead["updated_at"]) if m
        )
        if more:
            summary = words.reports_due % {"company": company, "more": more}
            path = reverse("report-create")
        elif due < today:
            summary = words.report_overdue % {"company": company, "date": due.isoformat()}
            path = reverse("lead-detail", args=[first["pk"]])
        else:
            summary = words.report_due % {"company": company}
            path = reverse("lead-detail", args=[first["pk"]])

        def text(group: list[tuple[dict[str, Any], dt.date]] = group) -> str:
            return "\n".join(
                lead["company"] if due >= today else words.due_on % {
                    "company": lead["company"], "date": due.isoformat()
                }
                for lead, due in group
            )  # fmt: skip

        yield FeedEvent(Kind.REPORT_DUE, day.isoformat(), day, summary, text, path, changed)


def _fixed(text: str) -> Callable[[], str]:
    return lambda: text


def _decision_events(user: User, words: _Words, today: dt.date) -> Iterator[FeedEvent]:
    """Escalation plans from the manager's team that wait for their decision."""
    if user.role != Role.MANAGER:
        return
    waiting = (
        Report.objects.filter(
            team__manager=user,
            kind=ReportKind.ESCALATION,
            state=ReportState.SUBMITTED,
            decision="",
            lead__stage__in=OPEN_STAGES,
        )
        .select_related("author", "lead")
        .order_by("submitted_at")
    )
    for report in waiting:
        assert report.lead is not None  # the filter above reaches the lead's stage
        summary = words.decision % {"rep": report.author, "company": report.lead.company}
        lines = [report.status_now, report.next_step, report.ask]
        text = "\n".join(line.strip() for line in lines if line.strip())
        yield FeedEvent(
            Kind.DECISION,
            str(report.pk),
            max(report.ask_due or today, today),
            summary,
            _fixed(text),
            report.get_absolute_url(),
            report.updated_at,
        )


def feed_events(*, user: User, today: dt.date | None = None) -> list[FeedEvent]:
    """What `user`'s calendar shows (the module's docstring says what and why), in the window,
    at most MAX_EVENTS of them: the nearest to today kept when there are more. Call it with the
    person's language active (the summaries are written in it)."""
    today = today or timezone.localdate(timezone=user.zone)
    start, end = today - dt.timedelta(days=DAYS_BACK), today + dt.timedelta(days=DAYS_AHEAD)
    words = _Words()
    leads = list({lead["pk"]: lead for lead in _leads(user, start, end)}.values())
    found = (*_lead_events(user, leads, words, today, end), *_decision_events(user, words, today))
    events = [event for event in found if start <= event.day <= end]
    if len(events) > MAX_EVENTS:
        events.sort(key=lambda e: (e.day < today, abs((e.day - today).days)))
        events = events[:MAX_EVENTS]
    return sorted(events, key=lambda e: (e.day, e.kind, e.key))


# --- The iCalendar file ---------------------------------------------------------------------


def _host() -> str:
    return urlsplit(settings.KAOPU_SITE_URL).hostname or "kaopu"


def feed_ics(*, user: User, today: dt.date | None = None) -> bytes:
    """`user`'s calendar as an iCalendar file, in their language."""
    with translation.override(user.language):
        events = feed_events(user=user, today=today)
        cal = icalendar.Calendar()
        cal.add("prodid", "-//Kaopu//Kaopu CRM calendar feed//EN")
        cal.add("version", "2.0")
        cal.add("calscale", "GREGORIAN")
        cal.add("method", "PUBLISH")
        cal.add("x-wr-calname", _("Kaopu · %(name)s") % {"name": user})
        cal.add(
            "x-wr-caldesc",
            _("Your next steps, tenders, closes, reports due and decisions, from Kaopu."),
        )
        cal.add("x-wr-timezone", str(user.zone))
        cal.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
        cal.add("x-published-ttl", icalendar.vDuration(REFRESH))
        site, host = settings.KAOPU_SITE_URL, _host()
        for item in events:
            url = site + item.path
            event = icalendar.Event()
            event.add("uid", f"kaopu-{item.kind}-{item.key}-u{user.pk}@{host}")
            stamp = item.changed.astimezone(dt.UTC).replace(microsecond=0)
            event.add("dtstamp", stamp)
            event.add("last-modified", stamp)
            event.add("dtstart", item.day)
            event.add("dtend", item.day + dt.timedelta(days=1))
            event.add("summary", item.summary)
            event.add("description", f"{item.describe()}\n\n{url}".strip())
            event.add("url", url)
            event.add("transp", "TRANSPARENT")
            event.add("class", "PRIVATE")
            cal.add_component(event)
        return cal.to_ical()
