"""What the outbox's emails say, and the daily digests that fill it.

What a message says: an instant email is one push — a nudge, or a burst of one rule to one
person that folded into it while it waited, shown as one card that says how many; a digest is
the person's open cards (coaching.cards) as at most seven one-sentence lines with their links,
the most important first, then "and N more". A digest is made only when something changed
since the last one.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from coaching import cards, chat
from coaching.chat_models import ChannelState, ChatChannel
from coaching.models import (
    Delivery,
    EmailKind,
    NotificationPreference,
    Nudge,
    OutboundEmail,
)
from coaching.selectors import due_q
from crm.models import User

log = logging.getLogger(__name__)


def folded_burst(nudge: Nudge | None, until: dt.datetime, unsent: Q) -> list[Nudge]:
    """A push's nudge and the ones of the same rule to the same person that folded into it
    while it waited (pushed since, `unsent`: with no message of their own on this channel),
    oldest first. Email and the chat robots differ only in `unsent`."""
    if nudge is None:
        return []
    return list(
        Nudge.objects.active()
        .filter(
            recipient_id=nudge.recipient_id,
            rule_id=nudge.rule_id,
            delivery=Delivery.PUSH,
            created_at__gte=nudge.created_at,
            created_at__lte=until,
        )
        .filter(Q(pk=nudge.pk) | unsent)
        .distinct()
        .select_related("lead", "report", "report__lead", "report__author")
        .order_by("created_at", "id")
    )


def burst_of(email: OutboundEmail, now: dt.datetime | None = None) -> list[Nudge]:
    """An instant email's burst: the nudges folded into it with no email of their own."""
    until = email.claimed_at or now or timezone.now()
    return folded_burst(email.nudge, until, Q(email__isnull=True))


def digest_lines(*, user: User, now: dt.datetime | None = None) -> tuple[list[cards.Line], int]:
    """The digest's lines for a person (in their language): one sentence per card with its
    link, the most important first, at most seven, and how many cards did not fit."""
    with translation.override(user.language):
        return cards.card_lines(cards.cards_for(user=user, language=user.language, now=now))


def _instant_context(email: OutboundEmail) -> dict[str, Any]:
    """One push: the nudge alone, or a burst shown as one card ("5 leads handed to you")."""
    assert email.nudge is not None
    # The outbox has just looked the burst up (to skip a resolved one): reuse it.
    burst = getattr(email, "burst", None) or burst_of(email) or [email.nudge]
    card = cards.build_cards(burst, language=email.recipient.language)[0]
    return {"card": card, "subject": card.title}


def _digest_context(email: OutboundEmail) -> dict[str, Any]:
    lines, more = digest_lines(user=email.recipient)
    subject = translation.gettext("Your Kaopu coaching digest for %(date)s") % {
        "date": email.digest_date
    }
    return {"lines": lines, "more": more, "more_label": cards.more_label(more), "subject": subject}


def render(email: OutboundEmail) -> EmailMultiAlternatives:
    """The message in the recipient's language: plain text and HTML, a link to preferences.
    An instant email is one card (a burst of one rule says how many); a digest is at most
    seven one-sentence lines, grouped by card, the most important first."""
    user = email.recipient
    site = settings.KAOPU_SITE_URL
    with translation.override(user.language):
        context: dict[str, Any] = {
            "user": user,
            "site": site,
            "preferences_url": site + reverse("coach-preferences"),
            "nudges_url": site + reverse("coach-nudges"),
            # A chat robot of theirs that broke: say so, this email may be its message.
            "chat_broken": ChatChannel.objects.filter(owner=user, state=ChannelState.BROKEN)
            .order_by("-broken_at", "-id")
            .first(),
        }
        if email.kind == EmailKind.INSTANT and email.nudge is not None:
            context |= _instant_context(email)
            template = "coaching/email/message"
        else:
            context |= _digest_context(email) | {"digest_date": email.digest_date}
            template = "coaching/email/digest"
        text = render_to_string(f"{template}.txt", context)
        html = render_to_string(f"{template}.html", context)
    message = EmailMultiAlternatives(
        subject=context["subject"],
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
        reply_to=settings.KAOPU_EMAIL_REPLY_TO or None,
        # The same row is the same Message-ID; the same advice is the same X-Kaopu-Key, so a
        # receiver (and our tests) can drop the one resend a crash after the accept can cause.
        headers={
            "Message-ID": email.message_id,
            "X-Kaopu-Email": str(email.pk),
            "X-Kaopu-Key": email.idempotency_key,
        },
    )
    message.attach_alternative(html, "text/html")
    return message


def build_digests(*, now: dt.datetime | None = None) -> int:
    """One digest per person per local day, at their digest time (08:30 by default): their open
    cards as at most seven lines. Skipped when nothing changed since the last one (no new
    advice waiting for a digest). The new nudges are attached to it. Idempotent: the
    (recipient, local date) pair is unique, so two beats or retries make one digest."""
    now = now or timezone.now()
    waiting = (
        Nudge.objects.filter(due_q(now))
        .filter(delivery=Delivery.DIGEST, digest__isnull=True, recipient__is_active=True)
        .values_list("recipient_id", flat=True)
        .distinct()
    )
    users = User.objects.filter(pk__in=waiting)
    prefs = {p.user_id: p for p in NotificationPreference.objects.filter(user__in=users)}
    robots = chat.digest_owners(users)
    robot_down = chat.broken_owners(users.values_list("pk", flat=True), digest=True)
    made = 0
    for user in users:  # one row per person with something waiting, not per lead
        pref = prefs.get(user.pk) or NotificationPreference(user=user)
        local = now.astimezone(user.zone)
        if local.time() < pref.digest_time:
            continue
        with transaction.atomic():
            if user.pk in robots:  # the person's digest robots, once per local day (issue 17)
                chat.queue_digest(user=user, day=local.date(), now=now)
            if not (pref.email_enabled or user.pk in robot_down) or not user.email:
                continue  # a broken digest robot's digest goes by email (issue 17)
            email, created = OutboundEmail.objects.get_or_create(
                recipient=user,
                kind=EmailKind.DIGEST,
                digest_date=local.date(),
                defaults={"not_before": now, "created_at": now},
            )
            if not created:
                continue
            Nudge.objects.filter(due_q(now)).filter(
                recipient=user, delivery=Delivery.DIGEST, digest__isnull=True
            ).update(digest=email)
            made += 1
    return made
