"""The coach's rows: nudges, per-team rule settings, people's notification preferences,
thanks notes and credit posts, and the email outbox."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class NudgeState(models.TextChoices):
    OPEN = "open", _("Open")
    SNOOZED = "snoozed", _("Snoozed")
    DONE = "done", _("Done")
    DISMISSED = "dismissed", _("Dismissed")
    EXPIRED = "expired", _("Expired")


# The states in which a nudge still asks something of its recipient.
ACTIVE_STATES: tuple[str, ...] = (NudgeState.OPEN, NudgeState.SNOOZED)
# The states in which it is closed, for good.
CLOSED_STATES: tuple[str, ...] = (NudgeState.DONE, NudgeState.DISMISSED, NudgeState.EXPIRED)


class Priority(models.IntegerChoices):
    LOW = 1, _("Low")
    NORMAL = 2, _("Normal")
    HIGH = 3, _("High")


class Delivery(models.TextChoices):
    PUSH = "push", _("Pushed now")
    DIGEST = "digest", _("In the daily digest")


class NudgeQuerySet(models.QuerySet["Nudge"]):
    def active(self) -> NudgeQuerySet:
        """Nudges still open or snoozed: the ones that resolve, expire or get emailed."""
        return self.filter(state__in=ACTIVE_STATES)

    def closed(self) -> NudgeQuerySet:
        return self.filter(state__in=CLOSED_STATES)


class Nudge(models.Model):
    """One piece of advice for one person about one subject (a lead, a report or a rep)."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recipient"),
        on_delete=models.CASCADE,
        related_name="nudges",
        db_index=False,  # nudge_inbox leads with it
    )
    rule_id = models.CharField(_("rule"), max_length=60)
    lead = models.ForeignKey(
        "crm.Lead",
        verbose_name=_("lead"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        db_index=False,  # nudge_lead_state leads with it
    )
    report = models.ForeignKey(
        "crm.Report",
        verbose_name=_("report"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        db_index=False,  # nudge_report_state
    )
    subject_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("about"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # nudge_subject
    )
    period = models.CharField(_("period"), max_length=32, default="once")
    key = models.CharField(_("key"), max_length=200)  # unique: nudge_key
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=Priority.choices, default=Priority.NORMAL
    )
    context = models.JSONField(_("context"), default=dict, blank=True)
    delivery = models.CharField(
        _("delivery"), max_length=8, choices=Delivery.choices, default=Delivery.DIGEST
    )
    state = models.CharField(
        _("state"), max_length=10, choices=NudgeState.choices, default=NudgeState.OPEN
    )
    snoozed_until = models.DateTimeField(_("snoozed until"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    resolved_by = models.CharField(_("resolved by"), max_length=40, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    acted_at = models.DateTimeField(_("acted on at"), null=True, blank=True)
    digest = models.ForeignKey(
        "coaching.OutboundEmail",
        verbose_name=_("digest"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="digest_nudges",
        db_index=False,  # nudge_digest
    )

    objects = NudgeQuerySet.as_manager()

    class Meta:
        ordering = ["-priority", "-created_at", "-id"]
        verbose_name = _("nudge")
        verbose_name_plural = _("nudges")
        indexes = [
            models.Index(fields=["recipient", "state", "-created_at"], name="nudge_inbox"),
            models.Index(fields=["rule_id", "state"], name="nudge_rule_state"),
            models.Index(fields=["lead", "state"], name="nudge_lead_state"),
            models.Index(
                fields=["report", "state"],
                name="nudge_report_state",
                condition=Q(report__isnull=False),
            ),
            models.Index(
                fields=["subject_user"],
                name="nudge_subject",
                condition=Q(subject_user__isnull=False),
            ),
            models.Index(fields=["digest"], name="nudge_digest", condition=Q(digest__isnull=False)),
        ]
        constraints = [models.UniqueConstraint(fields=["key"], name="nudge_key")]

    def __str__(self) -> str:
        return f"{self.rule_id} → {self.recipient}"

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES


class RuleSetting(models.Model):
    """A team's own thresholds for a rule (or the rule switched off for that team)."""

    team = models.ForeignKey(
        "crm.Team", verbose_name=_("team"), on_delete=models.CASCADE, related_name="+"
    )
    rule_id = models.CharField(_("rule"), max_length=60)
    enabled = models.BooleanField(_("enabled"), default=True)
    thresholds = models.JSONField(_("thresholds"), default=dict, blank=True)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("updated by"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("rule setting")
        verbose_name_plural = _("rule settings")
        constraints = [
            models.UniqueConstraint(fields=["team", "rule_id"], name="one_setting_per_team_rule")
        ]

    def __str__(self) -> str:
        return f"{self.team} · {self.rule_id}"


class NotificationPreference(models.Model):
    """How and when a person wants to be nudged."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="notification_preference",
    )
    daily_push_budget = models.PositiveSmallIntegerField(
        _("urgent scan findings pushed per day"), default=3
    )
    email_enabled = models.BooleanField(_("send me email"), default=True)
    quiet_start = models.TimeField(_("quiet hours from"), default=dt.time(21, 0))
    quiet_end = models.TimeField(_("quiet hours until"), default=dt.time(8, 0))
    digest_time = models.TimeField(_("daily digest at"), default=dt.time(8, 30))

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")

    def __str__(self) -> str:
        return str(self.user)


class ThanksKind(models.TextChoices):
    WIN = "win", _("Thanks after a win")
    YEAR_END = "year_end", _("Year-end thanks")


class Thanks(models.Model):
    """A private thank-you note from a rep to the manager or senior who helped."""

    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("from"),
        on_delete=models.CASCADE,
        related_name="thanks_sent",
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("to"),
        on_delete=models.CASCADE,
        related_name="thanks_received",
    )
    lead = models.ForeignKey(
        "crm.Lead", verbose_name=_("lead"), on_delete=models.SET_NULL, null=True, blank=True
    )
    kind = models.CharField(_("kind"), max_length=10, choices=ThanksKind.choices)
    body = models.TextField(_("note"))
    reward_note = models.TextField(_("sharing the reward"), blank=True)
    created_at = models.DateTimeField(_("sent at"), default=timezone.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("thank-you note")
        verbose_name_plural = _("thank-you notes")

    def __str__(self) -> str:
        return f"{self.author} → {self.recipient}"


class CreditPost(models.Model):
    """A public post on the team feed crediting the people who helped win a deal."""

    team = models.ForeignKey(
        "crm.Team", verbose_name=_("team"), on_delete=models.CASCADE, related_name="+"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("author"), on_delete=models.CASCADE
    )
    lead = models.ForeignKey(
        "crm.Lead", verbose_name=_("lead"), on_delete=models.SET_NULL, null=True, blank=True
    )
    body = models.TextField(_("post"))
    credited = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("credited"), related_name="credits"
    )
    created_at = models.DateTimeField(_("posted at"), default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("credit post")
        verbose_name_plural = _("credit posts")

    def __str__(self) -> str:
        return f"{self.author}: {self.body[:40]}"


class EmailKind(models.TextChoices):
    INSTANT = "instant", _("Instant")
    DIGEST = "digest", _("Daily digest")


class EmailState(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class OutboxRow(models.Model):
    """What every outbox row shares, whatever the channel (email, or a chat robot in
    coaching.chat_models): its state, when it is due, its tries and the claim that a sender
    holds on it. coaching.delivery.outbox claims, leases, retries and fails these rows the
    same way for every model built on this."""

    state = models.CharField(
        _("state"), max_length=8, choices=EmailState.choices, default=EmailState.PENDING
    )
    not_before = models.DateTimeField(_("not before"), default=timezone.now)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    # The claim names its holder and lasts a short lease, renewed before each send: a killed
    # worker's rows are claimable again once the lease lapses, and only the holder may mark
    # a row sent or failed.
    claimed_by = models.CharField(_("claimed by"), max_length=80, blank=True)
    lease_until = models.DateTimeField(_("lease until"), null=True, blank=True)
    # Set at the first temporary failure: retries stop (the row fails) after this moment.
    retry_until = models.DateTimeField(_("retry until"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        abstract = True


class OutboundEmail(OutboxRow):
    """The email outbox. A row is written with the nudge that caused it; workers claim pending
    rows with a guarded update and send them. Its Message-ID comes from the row."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recipient"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    kind = models.CharField(_("kind"), max_length=8, choices=EmailKind.choices)
    nudge = models.OneToOneField(
        Nudge,
        verbose_name=_("nudge"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="email",
    )
    digest_date = models.DateField(_("digest for"), null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("outbound email")
        verbose_name_plural = _("outbound emails")
        indexes = [
            models.Index(
                fields=["not_before"],
                name="email_due",
                condition=Q(state__in=["pending", "sending"]),
            )
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "digest_date"],
                condition=Q(kind="digest"),
                name="one_digest_per_local_day",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {self.recipient} ({self.state})"

    @property
    def message_id(self) -> str:
        return f"<kaopu.email.{self.pk}@{settings.KAOPU_MAIL_DOMAIN}>"

    @property
    def idempotency_key(self) -> str:
        """The X-Kaopu-Key header: the nudge's key for an instant email (the same advice is
        the same message, whichever row carries it), the person and day for a digest."""
        if self.nudge_id is not None and self.nudge is not None:
            return self.nudge.key
        return f"digest|{self.recipient_id}|{self.digest_date}|{self.pk}"


class NextLeadAsk(models.Model):
    """A rep who meets the team's reliability bar asks for the next good lead (ideas I9, I15).

    It stays open until the manager hands that rep a lead (answered_at, answered_by and the
    lead are then filled in) or the rep withdraws it; the manager sees the open ones beside the
    hand-off suggestion."""

    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("rep"),
        on_delete=models.CASCADE,
        related_name="next_lead_asks",
    )
    team = models.ForeignKey(
        "crm.Team", verbose_name=_("team"), on_delete=models.CASCADE, related_name="+"
    )
    note = models.CharField(_("note"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("asked at"), default=timezone.now)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("answered by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    lead = models.ForeignKey(
        "crm.Lead",
        verbose_name=_("lead handed"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("ask for the next lead")
        verbose_name_plural = _("asks for the next lead")
        indexes = [models.Index(fields=["team", "answered_at"], name="next_lead_ask_open")]
        constraints = [
            models.UniqueConstraint(
                fields=["rep"],
                condition=Q(answered_at__isnull=True),
                name="one_open_next_lead_ask_per_rep",
            )
        ]

    def __str__(self) -> str:
        return f"{self.rep} → {self.team}"

    @property
    def is_open(self) -> bool:
        return self.answered_at is None


# The chat channels and their outbox (issue 17) live in their own module; imported here so
# Django registers them with the app.
from coaching.chat_models import ChatChannel, ChatMessage  # noqa: E402, F401
