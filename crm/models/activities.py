"""What a rep did on a lead: an activity (call, visit, meeting, email, waiting at the door, a
note), its outcome and whom it was with, logged by crm.services.activity_log."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models.leads import Lead


class ActivityKind(models.TextChoices):
    CALL = "call", _("Call")
    VISIT = "visit", _("Visit")
    MEETING = "meeting", _("Meeting")
    EMAIL = "email", _("Email")
    DOORSTEP = "doorstep", _("Waiting at the customer's door (蹲点)")
    NOTE = "note", _("Note")


class Outcome(models.TextChoices):
    REACHED = "reached", _("Reached")
    UNREACHABLE = "unreachable", _("Unreachable")
    REFUSED = "refused", _("Refused")
    INTERESTED = "interested", _("Interested")
    FOLLOW_UP = "follow_up", _("Follow-up agreed")
    NO_OUTCOME = "none", _("No outcome")


class Activity(models.Model):
    lead = models.ForeignKey(
        Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="activities"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        on_delete=models.PROTECT,
        related_name="activities",
    )
    kind = models.CharField(_("kind"), max_length=16, choices=ActivityKind.choices)
    outcome = models.CharField(
        _("outcome"), max_length=16, choices=Outcome.choices, default=Outcome.NO_OUTCOME
    )
    happened_at = models.DateTimeField(_("when"), default=timezone.now)
    note = models.TextField(_("note"), blank=True)
    # Whom it was with (crm.models.companies.Contact); empty when not said.
    contacts = models.ManyToManyField(
        "crm.Contact", verbose_name=_("with whom"), blank=True, related_name="activities"
    )
    created_at = models.DateTimeField(_("logged at"), default=timezone.now)
    # Made by the phone for a log kept offline (static/js/kaopu.js): sent again, it is the same
    # activity (crm.services.activity_log returns the first); empty for everything else.
    client_key = models.CharField(_("key made on the phone"), max_length=64, blank=True, default="")

    class Meta:
        ordering = ["-happened_at", "-id"]
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        indexes = [models.Index(fields=["lead", "-happened_at"], name="activity_lead_time")]
        constraints = [
            models.UniqueConstraint(
                fields=["author", "client_key"],
                condition=~Q(client_key=""),
                name="activity_client_key_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.lead}"
