"""Chat channels (issue 17): who may keep which robot, and what fills their outbox.

A person keeps their own robots (for pushes and/or the digest); a team's manager, and the
admins, keep the team's group robot (public credit posts and the weekly summary). The webhook
URL and the secret are write-only: a blank field on an edit keeps what is stored, and what is
stored is only ever shown masked.

The fan-out writes one ChatMessage per (what, channel) in the same transaction as what caused
it, with a unique key, so a retry or a second beat never makes a second row: a pushed nudge
gets a row per push channel of its recipient (a burst of one rule folds into the row still
waiting, as it does for email), a digest a row per digest channel, a credit post and the
weekly summary a row to the team's robot.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from coaching.chat_models import ChannelState, ChatChannel, ChatKind, ChatMessage, ChatPlatform
from coaching.delivery.chat_urls import check_url
from coaching.models import CreditPost, Delivery, EmailState, NotificationPreference, Nudge
from crm import audit
from crm.models import Team, User
from crm.permissions import can_manage_team

SIGNED = (ChatPlatform.DINGTALK, ChatPlatform.FEISHU)


# --- Who keeps which robot ---------------------------------------------------------------------


def may_edit(actor: User, channel: ChatChannel) -> bool:
    """A person's channel: its owner and the admins; a team's robot: its manager and admins."""
    if actor.is_admin_role:
        return True
    if channel.owner_id is not None:
        return channel.owner_id == actor.pk
    team = channel.team
    return team is not None and can_manage_team(actor, team)


@transaction.atomic
def channel_save(
    *,
    actor: User,
    channel: ChatChannel | None = None,
    owner: User | None = None,
    team: Team | None = None,
    platform: str,
    webhook_url: str = "",
    secret: str = "",
    for_pushes: bool = True,
    for_digest: bool = False,
) -> ChatChannel:
    """Add a robot (owner or team given) or change one. A blank URL or secret on a change
    keeps the stored one. A new URL or secret makes a broken channel working again."""
    if channel is None:
        channel = ChatChannel(owner=owner, team=team)
        if team is not None and ChatChannel.objects.filter(team=team).exists():
            raise ValidationError(_("This team has a robot already; change that one."))
    if not may_edit(actor, channel):
        raise PermissionDenied
    if platform not in ChatPlatform.values:
        raise ValidationError({"platform": _("Choose a platform.")})
    errors: dict[str, str] = {}
    url = webhook_url.strip()
    if url:
        try:
            url = check_url(url)
        except ValidationError as error:
            errors["webhook_url"] = " ".join(error.messages)
    elif not channel.pk:
        errors["webhook_url"] = _("Paste the robot's webhook address.")
    if secret.strip() and platform not in SIGNED:
        # Dropped without a word, the person would think their robot signs.
        errors["secret"] = _("Only DingTalk and Feishu robots sign. Leave the secret empty.")
    if errors:
        raise ValidationError(errors)
    renewed = bool(url) or bool(secret.strip())
    channel.platform = platform
    if url:
        channel.webhook_url = url
    if secret.strip():
        channel.secret = secret.strip()
    if platform not in SIGNED:
        channel.secret = ""  # only DingTalk and Feishu sign (a switch of platform drops it)
    channel.for_pushes, channel.for_digest = for_pushes, for_digest
    if renewed and channel.state == ChannelState.BROKEN:
        channel.state, channel.broken_reason, channel.broken_at = ChannelState.OK, "", None
    channel.updated_at = timezone.now()
    created = channel.pk is None
    channel.save()
    audit.record(
        actor=actor,
        action="chat_channel_added" if created else "chat_channel_changed",
        obj=channel,
        summary=str(channel),  # never the URL or the secret
    )
    return channel


@transaction.atomic
def channel_remove(*, actor: User, channel: ChatChannel) -> None:
    if not may_edit(actor, channel):
        raise PermissionDenied
    audit.record(actor=actor, action="chat_channel_removed", obj=channel, summary=str(channel))
    channel.delete()


def channel_test(*, actor: User, channel: ChatChannel) -> ChatMessage:
    """Queue a test message (the worker sends it; the web never posts to a robot)."""
    if not may_edit(actor, channel):
        raise PermissionDenied
    now = timezone.now()
    return ChatMessage.objects.create(
        channel=channel,
        kind=ChatKind.TEST,
        recipient=channel.owner,
        key=f"test|{channel.pk}|{now.timestamp():.6f}",
        not_before=now,
        created_at=now,
    )


def last_test(channel: ChatChannel) -> ChatMessage | None:
    return channel.messages.filter(kind=ChatKind.TEST).order_by("-id").first()


# --- Fan-out -----------------------------------------------------------------------------------


def _working(**filters: object) -> list[ChatChannel]:
    return list(ChatChannel.objects.filter(state=ChannelState.OK, **filters).order_by("id"))


def queue_pushes(
    nudges: Iterable[Nudge], send_at: dict[str, dt.datetime], *, now: dt.datetime
) -> int:
    """A row per push channel for each pushed nudge just made, due when its email is (after
    the person's quiet hours). A nudge of a rule whose row on that channel still waits folds
    into it (the row, when sent, says how many). A robot gets at most EVENT_EMAILS_PER_DAY
    pushes in 24 hours, as email does (the planner counts emails only, so a person with email
    switched off is held to it here); past it the nudge waits in the app. Returns the rows
    queued."""
    from coaching.nudges import BURST, EVENT_EMAILS_PER_DAY, _email_at

    pushed = [n for n in nudges if n.delivery == Delivery.PUSH]
    if not pushed:
        return 0
    channels: dict[int, list[ChatChannel]] = {}
    for channel in _working(owner_id__in={n.recipient_id for n in pushed}, for_pushes=True):
        channels.setdefault(channel.owner_id or 0, []).append(channel)
    if not channels:
        return 0
    waiting: set[tuple[int, str]] = set()
    today: dict[int, int] = {}
    for channel_id, rule_id, state, created_at, not_before in ChatMessage.objects.filter(
        Q(state=EmailState.PENDING) | Q(created_at__gte=now - dt.timedelta(hours=24)),
        channel_id__in=[c.pk for cs in channels.values() for c in cs],
        kind=ChatKind.INSTANT,
    ).values_list("channel_id", "nudge__rule_id", "state", "created_at", "not_before"):
        if created_at >= now - dt.timedelta(hours=24):
            today[channel_id] = today.get(channel_id, 0) + 1
        if state == EmailState.PENDING and (created_at >= now - BURST or not_before > now):
            waiting.add((channel_id, rule_id))
    prefs = {
        p.user_id: p for p in NotificationPreference.objects.filter(user_id__in=list(channels))
    }
    rows = []
    for nudge in pushed:
        for channel in channels.get(nudge.recipient_id, []):
            if (channel.pk, nudge.rule_id) in waiting:
                continue
            if today.get(channel.pk, 0) >= EVENT_EMAILS_PER_DAY:
                continue
            waiting.add((channel.pk, nudge.rule_id))
            today[channel.pk] = today.get(channel.pk, 0) + 1
            when = send_at.get(nudge.key)
            if when is None:
                pref = prefs.get(nudge.recipient_id) or NotificationPreference(user=nudge.recipient)
                when = _email_at(nudge.recipient, pref, now)
            rows.append(
                ChatMessage(
                    channel=channel,
                    kind=ChatKind.INSTANT,
                    key=f"{nudge.key}|chat{channel.pk}",
                    recipient_id=nudge.recipient_id,
                    nudge=nudge,
                    not_before=when,
                    created_at=now,
                )
            )
    ChatMessage.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def broken_owners(user_ids: Iterable[int], *, digest: bool = False) -> set[int]:
    """Of these people, the ones with a broken push robot (a broken digest robot with
    digest=True): what that robot would have carried goes by email instead, whatever their
    email setting, since the page tells them so (the planner asks this; so does the digest)."""
    kind = {"for_digest": True} if digest else {"for_pushes": True}
    return {
        pk
        for pk in ChatChannel.objects.filter(
            state=ChannelState.BROKEN, owner_id__in=user_ids, **kind
        ).values_list("owner_id", flat=True)
        if pk is not None
    }


def digest_owners(users: QuerySet[User]) -> set[int]:
    """Of these people, the ones with a working digest robot."""
    return {
        pk
        for pk in ChatChannel.objects.filter(
            state=ChannelState.OK, for_digest=True, owner__in=users
        ).values_list("owner_id", flat=True)
        if pk is not None
    }


def queue_digest(*, user: User, day: dt.date, now: dt.datetime) -> int:
    """A digest row per digest channel of the person for their local day (once per day), when
    advice came for the digest since the robot's last one (with email switched off nothing
    attaches the nudges to an email digest, so this asks the nudges themselves)."""
    newest = Nudge.objects.filter(
        recipient=user, delivery=Delivery.DIGEST, created_at__lte=now
    ).aggregate(at=Max("created_at"))["at"]
    made = 0
    for channel in _working(owner=user, for_digest=True):
        last = (
            channel.messages.filter(kind=ChatKind.DIGEST)
            .order_by("-created_at")
            .values_list("created_at", flat=True)
            .first()
        )
        if newest is None or (last is not None and last >= newest):
            continue
        _row, created = ChatMessage.objects.get_or_create(
            key=f"digest|{channel.pk}|{day.isoformat()}",
            defaults={
                "channel": channel,
                "kind": ChatKind.DIGEST,
                "recipient": user,
                "digest_date": day,
                "not_before": now,
                "created_at": now,
            },
        )
        made += created
    return made


def queue_credit_post(post: CreditPost) -> int:
    """The team's robot carries the public credit (in the same transaction as the post)."""
    now = timezone.now()
    made = 0
    for channel in _working(team_id=post.team_id):
        _row, created = ChatMessage.objects.get_or_create(
            key=f"credit|{post.pk}|{channel.pk}",
            defaults={
                "channel": channel,
                "kind": ChatKind.CREDIT,
                "credit_post": post,
                "not_before": now,
                "created_at": now,
            },
        )
        made += created
    return made


SUMMARY_WEEKDAY = 0  # Monday
SUMMARY_TIME = dt.time(9, 0)


def build_weekly_summaries(*, now: dt.datetime | None = None) -> int:
    """Monday from 09:00 in the team manager's time zone, the team's robot gets last week's
    summary (the week starting the Monday before). Once per team and week: the key is unique."""
    now = now or timezone.now()
    made = 0
    for channel in ChatChannel.objects.filter(
        state=ChannelState.OK, team__isnull=False
    ).select_related("team__manager"):
        team = channel.team
        assert team is not None
        local = now.astimezone(team.manager.zone)
        if local.weekday() != SUMMARY_WEEKDAY or local.time() < SUMMARY_TIME:
            continue
        week = local.date() - dt.timedelta(days=7)
        _row, created = ChatMessage.objects.get_or_create(
            key=f"summary|{team.pk}|{week.isoformat()}|{channel.pk}",
            defaults={
                "channel": channel,
                "kind": ChatKind.SUMMARY,
                "week": week,
                "not_before": now,
                "created_at": now,
            },
        )
        made += created
    return made
