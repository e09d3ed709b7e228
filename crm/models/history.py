"""A lead's history (`LeadEvent`): one row per change, written by the service that made it
(see crm.history)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models.leads import Lead
from crm.models.people import Team
from crm.pipeline import Stage


class LeadEventKind(models.TextChoices):
    CREATED = "created", _("Created")
    UPDATED = "updated", _("Updated")
    HANDED_DOWN = "handed_down", _("Handed down")
    REASSIGNED = "reassigned", _("Reassigned")
    RETURNED = "returned", _("Returned to the team pool")
    STAGE_CHANGED = "stage_changed", _("Stage changed")
    NEXT_STEP = "next_step", _("Next step set")


class LeadEvent(models.Model):
    """The lead's history: who did what, when. Written by the service that made the change."""

    lead = models.ForeignKey(
        Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="events"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=LeadEventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    from_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("from"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    to_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("to"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="lead_events_received",
    )
    from_stage = models.CharField(_("from stage"), max_length=16, choices=Stage.choices, blank=True)
    to_stage = models.CharField(_("to stage"), max_length=16, choices=Stage.choices, blank=True)
    note = models.TextField(_("note"), blank=True)
    changes = models.JSONField(_("changed fields"), default=dict, blank=True)
    created_at = models.DateTimeField(_("when"), default=timezone.now)
    # A hand-off's team, and whether the lead was a chicken-rib one, as they were when it was
    # handed (crm.history sets them on hand-offs and reassignments only): the cockpit counts
    # each rep's hand-offs of a period from leadevent_handoff_team alone (issue 22). Never
    # shown, so never translated.
    team = models.ForeignKey(
        Team,
        verbose_name="team at hand-off",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        db_index=False,
        editable=False,
        related_name="+",
    )
    was_chicken_rib = models.BooleanField("chicken-rib at hand-off", default=False, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("lead history entry")
        verbose_name_plural = _("lead history")
        indexes = [
            models.Index(fields=["lead", "-created_at"], name="leadevent_lead_time"),
            models.Index(fields=["to_user", "kind", "-created_at"], name="leadevent_to_kind"),
            models.Index(fields=["kind", "created_at"], name="leadevent_kind_time"),
            # The hand-offs alone in time order (My day's week of them): walked newest first,
            # stopping at the page's 15; (kind, created_at) gives two kinds in no one order,
            # and PostgreSQL read and sorted the week's every hand-off (issue 22).
            models.Index(
                fields=["created_at"],
                condition=models.Q(kind__in=["handed_down", "reassigned"]),
                name="leadevent_handoff_time",
            ),
            # The cockpit's leads handed to each rep in the period (coaching.cockpit.figures):
            # the team's range of hand-offs, every column the count reads in the key.
            models.Index(
                fields=["team", "created_at", "to_user", "was_chicken_rib", "lead"],
                name="leadevent_handoff_team",
                condition=models.Q(team__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.lead_id}"

    def changed_labels(self) -> list[str]:
        """The edited fields' names in the reader's language."""
        names = {field.name: field for field in Lead._meta.fields}
        fields = [names[name] for name in self.changes if name in names]
        return [str(getattr(field, "verbose_name", field.name)) for field in fields]
