"""The coach's writes: nudges made idempotently from rule specs, resolved when their action
happens, snoozed or dismissed by people; thanks and credit; the domain-event consumer and the
scans. Email delivery lives in coaching.delivery.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from coaching import playbook, rules
from coaching.models import (
    CreditPost,
    Delivery,
    EmailKind,
    NotificationPreference,
    Nudge,
    NudgeState,
    OutboundEmail,
    Priority,
    RuleSetting,
    Thanks,
    ThanksKind,
)
from coaching.rules import NudgeSpec
from crm.models import DomainEvent, Lead, Report, ReportKind, Role, Team, User
from crm.permissions import visible_leads

log = logging.getLogger(__name__)
ACTIVE = (NudgeState.OPEN, NudgeState.SNOOZED)
CHUNK = 400  # keys per IN (...) list: well under SQLite's variable limit


# --- Preferences and thresholds ----------------------------------------------------------------


def preference_for(user: User) -> NotificationPreference:
    pref = NotificationPreference.objects.filter(user=user).first()
    return pref or NotificationPreference(user=user)


def thresholds(rule: playbook.Rule, team_id: int | None) -> dict[str, int]:
    """The rule's thresholds for a team: the playbook's defaults with the team's overrides."""
    values = dict(rule.thresholds)
    if team_id is not None:
        setting = RuleSetting.objects.filter(team_id=team_id, rule_id=rule.id).first()
        if setting is not None:
            values.update({k: int(v) for k, v in setting.thresholds.items() if k in values})
    return values


def threshold_groups(
    rule: playbook.Rule,
) -> list[tuple[list[int] | None, list[int], dict[str, int]]]:
    """Teams that share the rule's thresholds, as (team ids or None for "all others",
    excluded team ids, thresholds). One query however many leads; one group per override."""
    overrides = list(RuleSetting.objects.filter(rule_id=rule.id))
    special = [s.team_id for s in overrides]
    groups: list[tuple[list[int] | None, list[int], dict[str, int]]] = [
        (None, special, dict(rule.thresholds))
    ]
    for setting in overrides:
        if setting.enabled:
            merged = dict(rule.thresholds) | {
                k: int(v) for k, v in setting.thresholds.items() if k in rule.thresholds
            }
            groups.append(([setting.team_id], [], merged))
    return groups


@transaction.atomic
def rule_setting_update(
    *, actor: User, team: Team, rule_id: str, enabled: bool, values: dict[str, int]
) -> RuleSetting:
    """A manager (their team) or an admin changes a rule's thresholds for a team."""
    if not (actor.is_admin_role or (actor.role == Role.MANAGER and team.manager_id == actor.pk)):
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


# --- Making nudges -----------------------------------------------------------------------------


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _in_quiet_hours(local: dt.datetime, pref: NotificationPreference) -> bool:
    start, end, now = pref.quiet_start, pref.quiet_end, local.time()
    if start == end:
        return False
    if start < end:
        return start <= now < end
    return now >= start or now < end


def _quiet_end(local: dt.datetime, pref: NotificationPreference) -> dt.datetime:
    """The next moment the quiet hours are over, in the user's zone (DST-safe)."""
    candidate = local.replace(
        hour=pref.quiet_end.hour, minute=pref.quiet_end.minute, second=0, microsecond=0
    )
    if candidate <= local:
        naive = candidate.replace(tzinfo=None) + dt.timedelta(days=1)
        candidate = naive.replace(tzinfo=local.tzinfo)
    return candidate


def user_zone(user: User) -> ZoneInfo:
    try:
        return ZoneInfo(user.time_zone)
    except Exception:
        return ZoneInfo(settings.TIME_ZONE)


def create_nudges(specs: Iterable[NudgeSpec], *, now: dt.datetime | None = None) -> list[Nudge]:
    """Create the nudges that do not exist yet (their key is unique, so re-runs, retries and
    concurrent scans make each once). Highest priority first, up to each person's daily push
    budget, nudges are pushed (and emailed at once when high priority, after quiet hours);
    the rest wait for the daily digest. Returns the nudges this call created."""
    now = now or timezone.now()
    rulebook = playbook.rules()
    by_key: dict[str, NudgeSpec] = {}
    for spec in specs:
        if spec.rule_id in rulebook:
            by_key.setdefault(spec.key, spec)
    if not by_key:
        return []
    keys = list(by_key)
    existing: set[str] = set()
    for chunk in _chunks(keys):
        existing.update(Nudge.objects.filter(key__in=chunk).values_list("key", flat=True))
    fresh = [by_key[k] for k in keys if k not in existing]
    if not fresh:
        return []
    fresh.sort(key=lambda s: -rulebook[s.rule_id].priority)
    recipients = {u.pk: u for u in User.objects.filter(pk__in={s.recipient_id for s in fresh})}
    prefs = {
        p.user_id: p for p in NotificationPreference.objects.filter(user_id__in=list(recipients))
    }
    # The budget is per local day: count each person's pushes since their own midnight.
    pushed_today: dict[int, int] = defaultdict(int)
    midnight = {
        pk: now.astimezone(user_zone(u)).replace(hour=0, minute=0, second=0, microsecond=0)
        for pk, u in recipients.items()
    }
    for recipient_id, created_at in Nudge.objects.filter(
        recipient_id__in=list(recipients),
        delivery=Delivery.PUSH,
        created_at__gte=now - dt.timedelta(hours=48),
    ).values_list("recipient_id", "created_at"):
        if created_at >= midnight[recipient_id]:
            pushed_today[recipient_id] += 1
    nudges: list[Nudge] = []
    emails: list[tuple[str, dt.datetime]] = []
    for spec in fresh:
        user = recipients.get(spec.recipient_id)
        if user is None or not user.is_active:
            continue
        rule = rulebook[spec.rule_id]
        pref = prefs.get(user.pk) or NotificationPreference(user=user)
        pushed = pushed_today[user.pk] < pref.daily_push_budget
        if pushed:
            pushed_today[user.pk] += 1
        nudges.append(
            Nudge(
                recipient=user,
                rule_id=spec.rule_id,
                lead_id=spec.lead_id,
                report_id=spec.report_id,
                subject_user_id=spec.subject_user_id,
                period=spec.period,
                key=spec.key,
                priority=rule.priority,
                context=spec.context,
                delivery=Delivery.PUSH if pushed else Delivery.DIGEST,
                created_at=now,
            )
        )
        if pushed and rule.priority == Priority.HIGH and pref.email_enabled and user.email:
            local = now.astimezone(user_zone(user))
            send_at = _quiet_end(local, pref) if _in_quiet_hours(local, pref) else now
            emails.append((spec.key, send_at))
    with transaction.atomic():
        Nudge.objects.bulk_create(nudges, ignore_conflicts=True)
        created: list[Nudge] = []
        for chunk in _chunks([n.key for n in nudges]):
            created.extend(
                Nudge.objects.filter(key__in=chunk, created_at=now).select_related("recipient")
            )
        ids = {n.key: n for n in created}
        rows = [
            OutboundEmail(
                recipient_id=ids[key].recipient_id,
                kind=EmailKind.INSTANT,
                nudge=ids[key],
                not_before=send_at,
                created_at=now,
            )
            for key, send_at in emails
            if key in ids
        ]
        # The nudge is unique per email, so a concurrent scan cannot queue a second one.
        OutboundEmail.objects.bulk_create(rows, ignore_conflicts=True)
    return created


def resolve(
    code: str,
    *,
    now: dt.datetime | None = None,
    recipient_id: int | None = None,
    lead_id: int | None = None,
    lead_or_general: bool = False,
    report_id: int | None = None,
    subject_user_id: int | None = None,
    exclude_context: dict[str, Any] | None = None,
) -> int:
    """Mark done the active nudges whose rules say `code` resolves them. Returns how many."""
    rule_ids = [r.id for r in playbook.rules().values() if code in r.resolves]
    if not rule_ids:
        return 0
    nudges = Nudge.objects.filter(rule_id__in=rule_ids, state__in=ACTIVE)
    if recipient_id is not None:
        nudges = nudges.filter(recipient_id=recipient_id)
    if lead_or_general:
        nudges = (
            nudges.filter(Q(lead_id=lead_id) | Q(lead__isnull=True))
            if lead_id
            else (nudges.filter(lead__isnull=True))
        )
    elif lead_id is not None:
        nudges = nudges.filter(lead_id=lead_id)
    if report_id is not None:
        nudges = nudges.filter(report_id=report_id)
    if subject_user_id is not None:
        nudges = nudges.filter(subject_user_id=subject_user_id)
    if exclude_context:
        for name, value in exclude_context.items():
            # Only nudges that carry this value; those without the key stay in (NULL-safe).
            nudges = nudges.exclude(Q(context__has_key=name) & Q(**{f"context__{name}": value}))
    return nudges.update(state=NudgeState.DONE, acted_at=now or timezone.now(), resolved_by=code)


def expire_for_lead(
    *, lead_id: int, recipient_id: int | None = None, keep: Sequence[str] = ()
) -> int:
    """A lead that changed hands or closed no longer needs the old nudges about it."""
    nudges = Nudge.objects.filter(lead_id=lead_id, state__in=ACTIVE).exclude(rule_id__in=keep)
    if recipient_id is not None:
        nudges = nudges.filter(recipient_id=recipient_id)
    return nudges.update(state=NudgeState.EXPIRED, acted_at=timezone.now(), resolved_by="expired")


# --- People acting on nudges -------------------------------------------------------------------

SNOOZE_CHOICES = {"1d": 1, "3d": 3, "1w": 7}


@transaction.atomic
def nudge_snooze(*, user: User, nudge: Nudge, until: dt.datetime, reason: str = "") -> Nudge:
    """Put a nudge away until a moment in the future; it comes back by itself."""
    nudge = Nudge.objects.select_for_update().get(pk=nudge.pk, recipient=user)
    if not nudge.is_active:
        raise ValidationError(_("This nudge is already closed."))
    now = timezone.now()
    if until <= now:
        raise ValidationError({"until": _("Choose a moment in the future.")})
    if until > now + dt.timedelta(days=366):
        raise ValidationError({"until": _("Snooze for a year at most.")})
    nudge.state = NudgeState.SNOOZED
    nudge.snoozed_until = until
    nudge.reason = reason.strip()[:300]
    nudge.acted_at = now
    nudge.save(update_fields=["state", "snoozed_until", "reason", "acted_at"])
    return nudge


@transaction.atomic
def nudge_dismiss(*, user: User, nudge: Nudge, reason: str) -> Nudge:
    """Dismiss a nudge, saying why (the coach learns which advice misses)."""
    nudge = Nudge.objects.select_for_update().get(pk=nudge.pk, recipient=user)
    if not nudge.is_active:
        raise ValidationError(_("This nudge is already closed."))
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": _("Say why you dismiss this advice.")})
    nudge.state = NudgeState.DISMISSED
    nudge.reason = reason[:300]
    nudge.acted_at = timezone.now()
    nudge.resolved_by = "dismissed"
    nudge.save(update_fields=["state", "reason", "acted_at", "resolved_by"])
    return nudge


def wake_snoozed(*, now: dt.datetime | None = None) -> int:
    """Snoozed nudges whose time has come are open again."""
    return Nudge.objects.filter(
        state=NudgeState.SNOOZED, snoozed_until__lte=now or timezone.now()
    ).update(state=NudgeState.OPEN)


# --- Thanks and credit -------------------------------------------------------------------------


@transaction.atomic
def thanks_send(
    *,
    author: User,
    lead: Lead,
    body: str,
    reward_note: str = "",
    public_post: str = "",
    credited: Sequence[User] = (),
) -> Thanks:
    """After a win: a private note to the manager who handed the lead down, an optional public
    credit post on the team feed naming who helped, an optional note on sharing the reward."""
    lead = visible_leads(author).select_related("team").get(pk=lead.pk)
    if lead.owner_id != author.pk:
        raise ValidationError(_("Only the lead's owner sends thanks for it."))
    if lead.handed_by_id is None:
        raise ValidationError(_("Nobody handed this lead down; there is no manager to thank."))
    body = body.strip()
    if not body:
        raise ValidationError({"body": _("Write a few words of thanks.")})
    thanks = Thanks.objects.create(
        author=author,
        recipient_id=lead.handed_by_id,
        lead=lead,
        kind=ThanksKind.WIN,
        body=body,
        reward_note=reward_note.strip(),
    )
    if public_post.strip():
        post = CreditPost.objects.create(
            team=lead.team, author=author, lead=lead, body=public_post.strip()
        )
        people = [u for u in credited if u.pk != author.pk]
        post.credited.set(people or [lead.handed_by_id])
    resolve("thanks_sent", recipient_id=author.pk, lead_id=lead.pk)
    return thanks


@transaction.atomic
def year_end_note_send(*, author: User, recipient: User, body: str) -> Thanks:
    """A year-end thank-you note to a manager or senior who helped."""
    body = body.strip()
    if not body:
        raise ValidationError({"body": _("Write a few words of thanks.")})
    if recipient.pk == author.pk:
        raise ValidationError(_("Thank someone else."))
    thanks = Thanks.objects.create(
        author=author, recipient=recipient, kind=ThanksKind.YEAR_END, body=body
    )
    resolve("year_end_note_sent", recipient_id=author.pk)
    return thanks


# --- The domain-event consumer -----------------------------------------------------------------

MAX_EVENT_ATTEMPTS = 5
# The events handle_event acts on; keep in step with it.
HANDLED_EVENTS = (
    "lead_handed_down",
    "activity_logged",
    "lead_won",
    "lead_lost",
    "report_submitted",
    "report_acknowledged",
    "plan_decided",
)
CLAIM_TIMEOUT = dt.timedelta(minutes=5)


def _lead_facts(lead_id: int | None) -> Lead | None:
    if lead_id is None:
        return None
    return Lead.objects.filter(pk=lead_id).select_related("team").first()


def handle_event(event: DomainEvent) -> None:
    """Apply the playbook's event rules and resolutions to one domain event."""
    p = event.payload
    name = event.name
    now = timezone.now()
    specs: list[NudgeSpec] = []
    if name == "lead_handed_down":
        lead = _lead_facts(p["lead_id"])
        if lead is None:
            return
        if p.get("from_user_id"):
            expire_for_lead(lead_id=lead.pk, recipient_id=p["from_user_id"])
        if p.get("to_user_id"):
            resolve("lead_handed_to_rep", subject_user_id=p["to_user_id"])
        specs = rules.on_lead_handed_down(
            lead_id=lead.pk,
            company=lead.company,
            to_user_id=p.get("to_user_id"),
            event_id=event.pk,
            chicken_rib=lead.is_chicken_rib,
        )
    elif name == "activity_logged":
        lead = _lead_facts(p["lead_id"])
        if lead is None:
            return
        resolve(
            "activity_logged",
            lead_id=lead.pk,
            exclude_context={"activity_id": p["activity_id"]},
        )
        specs = rules.on_activity_logged(
            lead_id=lead.pk,
            company=lead.company,
            owner_id=lead.owner_id,
            activity_id=p["activity_id"],
            outcome=p["outcome"],
        )
    elif name in ("lead_won", "lead_lost"):
        lead = _lead_facts(p["lead_id"])
        if lead is None:
            return
        resolve("lead_closed", lead_id=lead.pk)
        expire_for_lead(lead_id=lead.pk, keep=("lead_won_thanks", "loss_review"))
        if name == "lead_won":
            specs = rules.on_lead_won(
                lead_id=lead.pk,
                company=lead.company,
                owner_id=lead.owner_id,
                handed_by_id=lead.handed_by_id,
            )
        else:
            specs = rules.on_lead_lost(
                lead_id=lead.pk, company=lead.company, owner_id=lead.owner_id
            )
    elif name == "report_submitted":
        report = (
            Report.objects.filter(pk=p["report_id"])
            .select_related("lead", "team", "author")
            .first()
        )
        if report is None:
            return
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
        specs = rules.on_report_submitted(
            report_id=report.pk,
            kind=report.kind,
            lead_id=lead_id,
            company=report.lead.company if report.lead else "",
            author_name=str(report.author),
            manager_id=report.team.manager_id,
        )
    elif name == "report_acknowledged":
        resolve("report_acknowledged", report_id=p["report_id"])
    elif name == "plan_decided":
        resolve("plan_decided", report_id=p["report_id"])
    if specs:
        create_nudges(specs, now=now)


def process_pending_events(*, limit: int = 500) -> int:
    """Claim unprocessed domain events with a guarded update and handle each in its own
    transaction. Safe to run from several workers at once. Returns how many were handled."""
    now = timezone.now()
    stale = now - CLAIM_TIMEOUT
    # Events no rule listens to (a 100k-row import's lead_created, say) are done in one update,
    # so they never hold up the ones the coach answers.
    DomainEvent.objects.filter(processed_at__isnull=True).exclude(name__in=HANDLED_EVENTS).update(
        processed_at=now
    )
    candidates = list(
        DomainEvent.objects.filter(processed_at__isnull=True)
        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=stale))
        .order_by("id")
        .values_list("pk", flat=True)[:limit]
    )
    handled = 0
    for pk in candidates:
        claimed = (
            DomainEvent.objects.filter(pk=pk, processed_at__isnull=True)
            .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=stale))
            .update(claimed_at=now)
        )
        if not claimed:
            continue  # another worker has it
        event = DomainEvent.objects.get(pk=pk)
        try:
            with transaction.atomic():
                handle_event(event)
                DomainEvent.objects.filter(pk=pk).update(processed_at=timezone.now())
            handled += 1
        except Exception as error:
            log.exception("domain event %s failed", pk)
            attempts = event.attempts + 1
            DomainEvent.objects.filter(pk=pk).update(
                attempts=attempts,
                last_error=repr(error)[:2000],
                claimed_at=None,
                processed_at=timezone.now() if attempts >= MAX_EVENT_ATTEMPTS else None,
            )
    return handled


# --- Scans -------------------------------------------------------------------------------------


def _person(row: Mapping[str, Any], prefix: str = "") -> str:
    return row.get(f"{prefix}display_name") or row.get(f"{prefix}username") or ""


def run_scans(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Apply every scan rule to all leads, reps and reports with set-based queries, and make
    the nudges they call for. Returns how many new nudges each rule made."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    wake_snoozed(now=now)
    specs: list[NudgeSpec] = []
    made: dict[str, int] = {}
    for rule in playbook.rules().values():
        if not rule.scan:
            continue
        made[rule.id] = 0
        for team_ids, exclude, t in threshold_groups(rule):
            specs.extend(_scan(rule, team_ids, exclude, t, now=now, today=today))
    # One batch, so the daily push budget goes to the most important nudges across all rules.
    for nudge in create_nudges(specs, now=now):
        made[nudge.rule_id] += 1
    return made


def _scan(
    rule: playbook.Rule,
    team_ids: list[int] | None,
    exclude: list[int],
    t: dict[str, int],
    *,
    now: dt.datetime,
    today: dt.date,
) -> list[NudgeSpec]:
    leads = rules.open_owned_leads(team_ids, exclude)
    reps = rules.active_reps(team_ids, exclude)
    kw: dict[str, Any] = {"now": now, "today": today, "t": t}
    rid = rule.id
    if rule.scan == "report_due":
        return [
            NudgeSpec(
                rid,
                r["owner_id"],
                period=r["reference"].date().isoformat(),
                lead_id=r["pk"],
                context={"company": r["company"], "days": (now - r["reference"]).days},
            )
            for r in rules.report_due(leads, **kw)
        ]
    if rule.scan == "stalled":
        return [
            NudgeSpec(
                rid,
                r["owner_id"],
                period=r["idle_since"].date().isoformat(),
                lead_id=r["pk"],
                context={"company": r["company"], "days": (now - r["idle_since"]).days},
            )
            for r in rules.stalled(leads, **kw)
        ]
    if rule.scan == "stalled_ignored":
        ignored = Nudge.objects.filter(
            rule_id="stalled_lead",
            state__in=ACTIVE,
            created_at__lt=now - dt.timedelta(days=t.get("days_ignored", 3)),
            lead__stage__in=rules.OPEN_STAGES,
        )
        if team_ids is not None:
            ignored = ignored.filter(lead__team_id__in=team_ids)
        if exclude:
            ignored = ignored.exclude(lead__team_id__in=exclude)
        return [
            NudgeSpec(
                rid,
                r["lead__team__manager_id"],
                period=r["period"],
                lead_id=r["lead_id"],
                context={
                    "company": r["lead__company"],
                    "rep": _person(r, "recipient__"),
                    "days": (now - r["idle_since"]).days,
                },
            )
            for r in ignored.annotate(
                idle_since=Coalesce("lead__last_activity_at", "lead__handed_at", "lead__created_at")
            ).values(
                "lead_id",
                "lead__team__manager_id",
                "lead__company",
                "period",
                "context",
                "recipient__display_name",
                "recipient__username",
                "idle_since",
            )
        ]
    if rule.scan == "deadline_near":
        return [
            NudgeSpec(
                rid,
                r["owner_id"],
                period=r["deadline"].isoformat(),
                lead_id=r["pk"],
                context={
                    "company": r["company"],
                    "days": (r["deadline"] - today).days,
                    "date": r["deadline"].isoformat(),
                },
            )
            for r in rules.deadline_near(leads, **kw)
        ]
    if rule.scan == "big_deal":
        return [
            NudgeSpec(rid, r["owner_id"], lead_id=r["pk"], context={"company": r["company"]})
            for r in rules.big_deal(leads, **kw)
        ]
    if rule.scan == "low_contact":
        return [
            NudgeSpec(
                rid,
                r["pk"],
                period=r["reference"].date().isoformat(),
                context={"days": (now - r["reference"]).days},
            )
            for r in rules.low_contact(reps, **kw)
        ]
    if rule.scan == "only_help":
        return [
            NudgeSpec(rid, r["pk"], period=f"r{r['latest']}", context={"count": t.get("last", 3)})
            for r in rules.only_help(reps, **kw)
        ]
    if rule.scan == "unacknowledged":
        reports = Report.objects.order_by()
        if team_ids is not None:
            reports = reports.filter(team_id__in=team_ids)
        if exclude:
            reports = reports.exclude(team_id__in=exclude)
        return [
            NudgeSpec(
                rid,
                r["team__manager_id"],
                report_id=r["pk"],
                context={"rep": _person(r, "author__"), "days": (now - r["submitted_at"]).days},
            )
            for r in rules.unacknowledged(reports, **kw)
        ]
    if rule.scan == "reliable_rep":
        return [
            NudgeSpec(
                rid,
                r["team__manager_id"],
                period=today.strftime("%Y-%m"),
                subject_user_id=r["pk"],
                context={"rep": _person(r), "count": r["rib_on_time"]},
            )
            for r in rules.reliable_rep(reps, **kw)
        ]
    if rule.scan == "year_end":
        if not rules.year_end_due(today=today, t=t):
            return []
        year_start = dt.datetime(today.year, 1, 1, tzinfo=dt.UTC)
        wins = dict(
            Lead.objects.filter(stage="won", closed_at__gte=year_start, handed_by__isnull=False)
            .values_list("owner_id")
            .annotate(n=Count("pk"))
        )
        return [
            NudgeSpec(rid, pk, period=str(today.year), context={"count": wins.get(pk, 0)})
            for pk in reps.values_list("pk", flat=True)
        ]
    if rule.scan == "uneven_distribution":
        counts: dict[int, dict[int, int]] = defaultdict(dict)
        managers: dict[int, int] = {}
        names: dict[int, str] = {}
        for person in reps.values("pk", "team_id", "team__manager_id", "display_name", "username"):
            counts[person["team_id"]][person["pk"]] = 0
            managers[person["team_id"]] = person["team__manager_id"]
            names[person["pk"]] = _person(person)
        for load in leads.values("owner_id", "owner__team_id").annotate(n=Count("pk")):
            if load["owner_id"] in counts.get(load["owner__team_id"], {}):
                counts[load["owner__team_id"]][load["owner_id"]] = load["n"]
        week = f"{today.isocalendar().year}-W{today.isocalendar().week:02d}"
        return [
            NudgeSpec(
                rid,
                managers[team],
                period=week,
                subject_user_id=rep,
                context={"rep": names[rep], "count": n},
            )
            for team, per_rep in counts.items()
            for rep, n, _median in rules.uneven(per_rep, t=t)
        ]
    log.warning("rule %s names an unknown scan %s", rule.id, rule.scan)
    return []
