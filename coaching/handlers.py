"""The coach's answers to the CRM's domain events: one small function per event, registered
under the event's stable name (crm.events.NAMES) with `@handles(...)`.

A handler reads the event's facts, resolves or expires the nudges the event settles, and
returns the specs of the nudges the event calls for; `handle_event` makes them. The events the
coach answers are the registry's keys (HANDLED_EVENTS), never a list kept by hand, and the
start-up check (coaching.receivers.connect) refuses a playbook rule listening to an event no
handler answers.

`process_pending_events` reads the outbox (crm.DomainEvent): it claims each row with a guarded
update, so several workers may run at once and each event is handled once, in its own
transaction; a failing event is retried a few times, then set aside with its error.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, KeysView

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from coaching import playbook, rules
from coaching.next_lead import next_lead_asks_close
from coaching.nudges import create_nudges, expire_for_lead, resolve
from coaching.preferences import thresholds_for
from coaching.rules import NudgeSpec
from crm.models import DomainEvent, Lead, Report, ReportKind, ReportState, User

log = logging.getLogger(__name__)
MAX_EVENT_ATTEMPTS = 5
CLAIM_TIMEOUT = dt.timedelta(minutes=5)

Handler = Callable[[DomainEvent], list[NudgeSpec]]
HANDLERS: dict[str, Handler] = {}
# The events the coach answers: a live view of the registry.
HANDLED_EVENTS: KeysView[str] = HANDLERS.keys()


def handles(*names: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of the events `names`."""

    def register(handler: Handler) -> Handler:
        for name in names:
            if name in HANDLERS:
                raise ValueError(f"event '{name}' already has a handler: {HANDLERS[name]}")
            HANDLERS[name] = handler
        return handler

    return register


def handle_event(event: DomainEvent) -> None:
    """Apply the playbook's event rules and resolutions to one domain event."""
    handler = HANDLERS.get(event.name)
    if handler is None:
        return
    now = timezone.now()
    specs = handler(event)
    if specs:
        create_nudges(specs, now=now)


def _lead_facts(lead_id: int | None) -> Lead | None:
    if lead_id is None:
        return None
    return Lead.objects.filter(pk=lead_id).select_related("team").first()


# --- Leads -------------------------------------------------------------------------------------


def _person(user_id: int | None) -> str:
    if user_id is None:
        return ""
    user = User.objects.filter(pk=user_id).only("display_name", "username").first()
    return str(user) if user else ""


def _local_date(moment: dt.datetime) -> dt.date:
    return timezone.localdate(moment)


@handles("lead_handed_down")
def on_lead_handed_down(event: DomainEvent) -> list[NudgeSpec]:
    """The old owner's nudges on the lead expire; the new owner is asked for a first plan by a
    date the team's working_days sets, with the manager's note."""
    p = event.payload
    lead = _lead_facts(p["lead_id"])
    if lead is None:
        return []
    if p.get("from_user_id"):
        expire_for_lead(lead_id=lead.pk, recipient_id=p["from_user_id"])
    # A new hand-off supersedes the manager's "first plan is late" about the previous one.
    resolve("first_plan_sent", lead_id=lead.pk)
    if p.get("to_user_id"):
        resolve("lead_handed_to_rep", subject_user_id=p["to_user_id"])
        # The rep's ask for the next good lead is answered by this lead.
        next_lead_asks_close(
            rep_id=p["to_user_id"],
            lead_id=lead.pk,
            actor_id=p.get("actor_id"),
            handed_at=event.created_at,
        )
    t = thresholds_for(playbook.rule("handoff_first_plan"), lead.team_id)
    return rules.on_lead_handed_down(
        lead_id=lead.pk,
        company=lead.company,
        to_user_id=p.get("to_user_id"),
        event_id=event.pk,
        chicken_rib=lead.is_chicken_rib,
        note=p.get("note") or "",
        handed_on=_local_date(event.created_at),
        working_days=t.get("working_days", 2),
    )


@handles("lead_updated")
def on_lead_updated(event: DomainEvent) -> list[NudgeSpec]:
    """A lead just flagged chicken-rib asks its owner for a plan within the team's threshold."""
    p = event.payload
    if "is_chicken_rib" not in (p.get("changed") or []):
        return []
    lead = _lead_facts(p["lead_id"])
    if lead is None or not lead.is_chicken_rib or lead.stage not in rules.OPEN_STAGES:
        return []
    t = thresholds_for(playbook.rule("chicken_rib_plan"), lead.team_id)
    return rules.on_chicken_rib_flagged(
        lead_id=lead.pk,
        company=lead.company,
        owner_id=lead.owner_id,
        event_id=event.pk,
        flagged_on=_local_date(event.created_at),
        working_days=t.get("working_days", 3),
    )


@handles("lead_next_step_set")
def on_lead_next_step_set(event: DomainEvent) -> list[NudgeSpec]:
    """A next step set by a report, a decision or an activity: the lead is not stalled."""
    resolve("next_step_set", lead_id=event.payload["lead_id"])
    return []


@handles("activity_logged")
def on_activity_logged(event: DomainEvent) -> list[NudgeSpec]:
    """Any other activity on the lead settles its waiting nudges; a refusal or an unanswered
    call asks the owner not to bounce it back."""
    p = event.payload
    lead = _lead_facts(p["lead_id"])
    if lead is None:
        return []
    resolve("activity_logged", lead_id=lead.pk, exclude_context={"activity_id": p["activity_id"]})
    return rules.on_activity_logged(
        lead_id=lead.pk,
        company=lead.company,
        owner_id=lead.owner_id,
        activity_id=p["activity_id"],
        outcome=p["outcome"],
    )


def _closed(event: DomainEvent) -> Lead | None:
    """A closed lead: its nudges are done or moot, except the thanks and the loss review."""
    lead = _lead_facts(event.payload["lead_id"])
    if lead is not None:
        resolve("lead_closed", lead_id=lead.pk)
        expire_for_lead(lead_id=lead.pk, keep=("lead_won_thanks", "loss_review"))
    return lead


def _told_manager(lead: Lead, outcome: str) -> list[NudgeSpec]:
    """The manager who handed the lead down hears how it ended."""
    return rules.on_handed_lead_closed(
        lead_id=lead.pk,
        company=lead.company,
        owner_id=lead.owner_id,
        owner_name=_person(lead.owner_id),
        handed_by_id=lead.handed_by_id,
        outcome=outcome,
    )


@handles("lead_won")
def on_lead_won(event: DomainEvent) -> list[NudgeSpec]:
    lead = _closed(event)
    if lead is None:
        return []
    return rules.on_lead_won(
        lead_id=lead.pk,
        company=lead.company,
        owner_id=lead.owner_id,
        handed_by_id=lead.handed_by_id,
    ) + _told_manager(lead, "won")


@handles("lead_lost")
def on_lead_lost(event: DomainEvent) -> list[NudgeSpec]:
    lead = _closed(event)
    if lead is None:
        return []
    return rules.on_lead_lost(
        lead_id=lead.pk, company=lead.company, owner_id=lead.owner_id
    ) + _told_manager(lead, "lost")


# --- Reports -----------------------------------------------------------------------------------


def _resolve_by_report(report: Report) -> None:
    """What a submitted report settles, by its kind and its parts."""
    author, lead_id = report.author_id, report.lead_id
    resolve("report_submitted", recipient_id=author, lead_id=lead_id, lead_or_general=True)
    if report.has_plan and report.kind != ReportKind.QUESTION:
        resolve("report_with_plan", recipient_id=author)
    if report.kind == ReportKind.ESCALATION and lead_id:
        resolve("escalation_submitted", lead_id=lead_id)
    if report.kind == ReportKind.LOSS_REVIEW and lead_id:
        resolve("loss_review_submitted", recipient_id=author, lead_id=lead_id)
    if report.share_with_director and lead_id:
        resolve("report_shared_with_director", recipient_id=author, lead_id=lead_id)
    if lead_id and report.lead is not None and report.lead.owner_id == author:
        resolve("first_plan_sent", lead_id=lead_id)


def _first_plan(report: Report) -> bool:
    """The author's first report with a plan on this lead since it was handed to them."""
    lead = report.lead
    if lead is None or not report.has_plan or lead.owner_id != report.author_id:
        return False
    before = Q(submitted_at__lt=report.submitted_at) | Q(
        submitted_at=report.submitted_at, pk__lt=report.pk
    )
    earlier = Report.objects.filter(
        before, lead=lead, author_id=report.author_id, state=ReportState.SUBMITTED
    ).exclude(next_step="")
    if lead.handed_at is not None:
        earlier = earlier.filter(submitted_at__gte=lead.handed_at)
    return not earlier.exists()


@handles("report_submitted")
def on_report_submitted(event: DomainEvent) -> list[NudgeSpec]:
    report = (
        Report.objects.filter(pk=event.payload["report_id"])
        .select_related("lead", "team", "author")
        .first()
    )
    if report is None:
        return []
    _resolve_by_report(report)
    company = report.lead.company if report.lead else ""
    return rules.on_report_submitted(
        report_id=report.pk,
        kind=report.kind,
        lead_id=report.lead_id,
        company=company,
        author_name=str(report.author),
        manager_id=report.team.manager_id,
    ) + rules.on_first_plan(
        report_id=report.pk,
        company=company,
        author_id=report.author_id,
        author_name=str(report.author),
        handed_by_id=report.lead.handed_by_id if report.lead else None,
        first_plan=_first_plan(report),
    )


def _answered(event: DomainEvent) -> list[NudgeSpec]:
    """The report's author hears the answer at once (an update until they open the report)."""
    p = event.payload
    if p.get("by_author"):
        return []
    report = Report.objects.filter(pk=p["report_id"]).select_related("lead").first()
    if report is None:
        return []
    return rules.on_report_answered(
        event_id=event.pk,
        report_id=report.pk,
        author_id=report.author_id,
        actor_id=p.get("actor_id"),
        manager=_person(p.get("actor_id")),
        company=report.lead.company if report.lead else "",
        answer=rules.answer_code(event.name, p),
        until=p.get("until") or (report.park_until.isoformat() if report.park_until else None),
    )


@handles("report_acknowledged")
def on_report_acknowledged(event: DomainEvent) -> list[NudgeSpec]:
    resolve("report_acknowledged", report_id=event.payload["report_id"])
    return _answered(event)


@handles("report_replied")
def on_report_replied(event: DomainEvent) -> list[NudgeSpec]:
    return _answered(event)


@handles("ask_answered")
def on_ask_answered(event: DomainEvent) -> list[NudgeSpec]:
    return _answered(event)


@handles("plan_decided")
def on_plan_decided(event: DomainEvent) -> list[NudgeSpec]:
    resolve("plan_decided", report_id=event.payload["report_id"])
    return _answered(event)


@handles("report_seen")
def on_report_seen(event: DomainEvent) -> list[NudgeSpec]:
    """The author opened the report: its answers are seen, the updates about it close."""
    p = event.payload
    resolve("report_seen", report_id=p["report_id"], recipient_id=p.get("author_id"))
    return []


# --- Reading the outbox ------------------------------------------------------------------------


def _unclaimed(stale: dt.datetime) -> Q:
    return Q(claimed_at__isnull=True) | Q(claimed_at__lt=stale)


def _handle_claimed(event: DomainEvent) -> bool:
    """Handle a claimed event in its own transaction; on failure, count the attempt and free
    the claim (or set the event aside after the last attempt). True when it was handled."""
    try:
        with transaction.atomic():
            handle_event(event)
            DomainEvent.objects.filter(pk=event.pk).update(processed_at=timezone.now())
        return True
    except Exception as error:
        log.exception("domain event %s failed", event.pk)
        attempts = event.attempts + 1
        DomainEvent.objects.filter(pk=event.pk).update(
            attempts=attempts,
            last_error=repr(error)[:2000],
            claimed_at=None,
            processed_at=timezone.now() if attempts >= MAX_EVENT_ATTEMPTS else None,
        )
        return False


def process_pending_events(*, limit: int = 500) -> int:
    """Claim unprocessed domain events with a guarded update and handle each in its own
    transaction. Safe to run from several workers at once. Returns how many were handled."""
    now = timezone.now()
    stale = now - CLAIM_TIMEOUT
    # Events no rule listens to (a 100k-row import's lead_created, say) are done in one update,
    # so they never hold up the ones the coach answers.
    DomainEvent.objects.filter(processed_at__isnull=True).exclude(
        name__in=list(HANDLED_EVENTS)
    ).update(processed_at=now)
    candidates = list(
        DomainEvent.objects.filter(_unclaimed(stale), processed_at__isnull=True)
        .order_by("id")
        .values_list("pk", flat=True)[:limit]
    )
    handled = 0
    for pk in candidates:
        claimed = DomainEvent.objects.filter(
            _unclaimed(stale), pk=pk, processed_at__isnull=True
        ).update(claimed_at=now)
        if not claimed:
            continue  # another worker has it
        handled += _handle_claimed(DomainEvent.objects.get(pk=pk))
    return handled
