"""Chat channels (issue 17): a person's robot for pushes and/or the digest, a team's group robot
for public credit posts and the weekly summary, and their outbox.

A channel's webhook URL and secret are credentials: they are written by their owner (or an
admin), shown masked (`masked_url`), and never appear in __str__, logs, exports or the admin's
lists. A ChatMessage is an outbox row (coaching.models.OutboxRow) like an email: claimed,
leased, retried and failed by the same code (coaching.delivery.outbox).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from coaching.models import OutboxRow


class ChatPlatform(models.TextChoices):
    WECOM = "wecom", _("WeCom (企业微信) robot")
    DINGTALK = "dingtalk", _("DingTalk (钉钉) robot")
    FEISHU = "feishu", _("Feishu (飞书) bot")
    SLACK = "slack", _("Slack incoming webhook")


class ChannelState(models.TextChoices):
    OK = "ok", _("Working")
    BROKEN = "broken", _("Broken")


class ChatChannel(models.Model):
    """Where chat messages go: a person's robot (owner set) or a team's group robot (team set),
    never both."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="chat_channels",
    )
    team = models.ForeignKey(
        "crm.Team",
        verbose_name=_("team"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    platform = models.CharField(_("platform"), max_length=10, choices=ChatPlatform.choices)
    webhook_url = models.CharField(_("webhook URL"), max_length=500)
    secret = models.CharField(_("signing secret"), max_length=200, blank=True)
    for_pushes = models.BooleanField(_("pushes"), default=True)
    for_digest = models.BooleanField(_("daily digest"), default=False)
    state = models.CharField(
        _("state"), max_length=8, choices=ChannelState.choices, default=ChannelState.OK
    )
    broken_reason = models.CharField(_("why it is broken"), max_length=300, blank=True)
    broken_at = models.DateTimeField(_("broken since"), null=True, blank=True)
    # Pacing (at most KAOPU_CHAT_PER_MINUTE sends a minute per robot): the moments of the last
    # sends, taken with a compare-and-swap on `pace_version` (coaching.delivery.chat_pacing).
    send_slots = models.JSONField(_("recent sends"), default=list, blank=True)
    pace_version = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        ordering = ["id"]
        verbose_name = _("chat channel")
        verbose_name_plural = _("chat channels")
        constraints = [
            models.CheckConstraint(
                condition=Q(owner__isnull=False, team__isnull=True)
                | Q(owner__isnull=True, team__isnull=False),
                name="chat_channel_person_or_team",
            ),
            models.UniqueConstraint(
                fields=["team"], condition=Q(team__isnull=False), name="one_robot_per_team"
            ),
        ]

    def __str__(self) -> str:
        # Never the URL or the secret: this is what logs and the admin show.
        whose = f"team {self.team_id}" if self.team_id else f"user {self.owner_id}"
        return f"{self.get_platform_display()} #{self.pk} ({whose})"

    @property
    def is_broken(self) -> bool:
        return self.state == ChannelState.BROKEN

    @property
    def masked_url(self) -> str:
        """The URL as shown back: the host and the last four characters, nothing between."""
        from coaching.delivery.chat_urls import mask

        return mask(self.webhook_url)


class ChatKind(models.TextChoices):
    INSTANT = "instant", _("Push")
    DIGEST = "digest", _("Daily digest")
    CREDIT = "credit", _("Credit post")
    SUMMARY = "summary", _("Weekly summary")
    TEST = "test", _("Test message")


class ChatMessage(OutboxRow):
    """One message to one chat channel: a nudge's push, a digest, a credit post or a weekly
    summary, or a test. Unique per (what, channel): `key`, the idempotency key the receiver
    sees, is made of both."""

    channel = models.ForeignKey(
        ChatChannel, verbose_name=_("channel"), on_delete=models.CASCADE, related_name="messages"
    )
    kind = models.CharField(_("kind"), max_length=8, choices=ChatKind.choices)
    key = models.CharField(_("idempotency key"), max_length=240, unique=True)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recipient"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    nudge = models.ForeignKey(
        "coaching.Nudge",
        verbose_name=_("nudge"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="chat_messages",
    )
    digest_date = models.DateField(_("digest for"), null=True, blank=True)
    credit_post = models.ForeignKey(
        "coaching.CreditPost",
        verbose_name=_("credit post"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    week = models.DateField(_("week of"), null=True, blank=True)
    # Set when the channel was found broken with this message in hand and the message went by
    # email instead (or there was nobody to email).
    fell_back = models.BooleanField(_("sent by email instead"), default=False)

    class Meta:
        ordering = ["id"]
        verbose_name = _("chat message")
        verbose_name_plural = _("chat messages")
        indexes = [
            models.Index(
                fields=["not_before"],
                name="chat_due",
                condition=Q(state__in=["pending", "sending"]),
            )
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["nudge", "channel"],
                condition=Q(nudge__isnull=False),
                name="one_chat_per_nudge_channel",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {self.channel} ({self.state})"

    @property
    def idempotency_key(self) -> str:
        return self.key
