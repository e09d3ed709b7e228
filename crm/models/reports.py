"""Reports (汇报) from a rep to their manager, on a lead or general, with the manager's answer
(acknowledgement, ask resolution, plan decision) and the reply thread under each one."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models.leads import Lead
from crm.models.people import Team


class ReportKind(models.TextChoices):
    PROGRESS = "progress", _("Progress report")
    QUESTION = "question", _("Question / asking for advice")
    ESCALATION = "escalation", _("Escalation plan")
    LOSS_REVIEW = "loss_review", _("Loss review")


class ReportState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")


class AskState(models.TextChoices):
    NONE = "", _("No ask")
    OPEN = "open", _("Open")
    ACCEPTED = "accepted", _("Accepted")
    IN_PROGRESS = "in_progress", _("I'll handle it")
    DONE = "done", _("Done")
    DECLINED = "declined", _("Declined")


class AskKind(models.TextChoices):
    GENERAL = "", _("Advice or resources")
    JOINT_VISIT = "joint_visit", _("Come with me to the customer (joint visit)")


class PlanDecision(models.TextChoices):
    KEEP_PUSHING = "keep_pushing", _("Keep pushing")
    JOINT_VISIT = "joint_visit", _("I'll come with you (joint visit)")
    PARK = "park", _("Park until a date")
    HAND_BACK = "hand_back", _("Hand back to the team pool")
    CLOSE_LOST = "close_lost", _("Close as lost")


class Report(models.Model):
    """A rep's report (汇报) to their manager: on a lead, or a general weekly update.

    The same five parts serve every kind; an escalation plan reads them as the facts / what I
    will do / what I need from you.
    """

    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        on_delete=models.PROTECT,
        related_name="reports",
    )
    team = models.ForeignKey(
        Team, verbose_name=_("team"), on_delete=models.PROTECT, related_name="reports"
    )
    lead = models.ForeignKey(
        Lead,
        verbose_name=_("lead"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="reports",
    )
    kind = models.CharField(
        _("kind"), max_length=16, choices=ReportKind.choices, default=ReportKind.PROGRESS
    )
    state = models.CharField(
        _("state"), max_length=16, choices=ReportState.choices, default=ReportState.DRAFT
    )
    status_now = models.TextField(_("status now"), blank=True)
    what_i_did = models.TextField(_("what I did"), blank=True)
    next_step = models.TextField(_("next step"), blank=True)
    next_step_due = models.DateField(_("next step by"), null=True, blank=True)
    backup_plan = models.TextField(_("backup plan if it fails"), blank=True)
    ask = models.TextField(_("what I need from my manager"), blank=True)
    ask_due = models.DateField(_("needed by"), null=True, blank=True)
    ask_kind = models.CharField(
        _("kind of ask"),
        max_length=16,
        choices=AskKind.choices,
        default=AskKind.GENERAL,
        blank=True,
    )
    # The big-deal parts (I14): what was conceded, and which departments must agree.
    concessions = models.TextField(_("terms or price conceded"), blank=True)
    departments = models.TextField(_("departments to align with"), blank=True)
    # The weekly update's optional part (I12): growth the rep attributes to the manager.
    learning = models.TextField(_("what I learned (思想汇报)"), blank=True)
    share_with_director = models.BooleanField(_("share with the +2"), default=False)

    quality_score = models.PositiveSmallIntegerField(_("quality"), default=0)
    quality_issues = models.JSONField(_("weaknesses"), default=list, blank=True)
    on_time = models.BooleanField(_("on time"), null=True, blank=True)

    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("acknowledged by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    ask_state = models.CharField(
        _("ask"), max_length=16, choices=AskState.choices, default=AskState.NONE, blank=True
    )
    ask_resolved_at = models.DateTimeField(_("ask answered at"), null=True, blank=True)
    ask_resolution_note = models.TextField(_("answer to the ask"), blank=True)
    # The latest answer of any kind (acknowledgement, reply, ask, decision) and when the author
    # last looked: "new" on the rep's pages is answered_at after author_seen_at.
    answered_at = models.DateTimeField(_("last answered at"), null=True, blank=True)
    author_seen_at = models.DateTimeField(_("author last saw the answers"), null=True, blank=True)

    decision = models.CharField(
        _("manager's decision"), max_length=16, choices=PlanDecision.choices, blank=True
    )
    decision_note = models.TextField(_("decision note"), blank=True)
    park_until = models.DateField(_("parked until"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-submitted_at", "-id"]
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        indexes = [
            models.Index(fields=["team", "state", "-submitted_at"], name="report_team_inbox"),
            models.Index(fields=["author", "state", "-submitted_at"], name="report_author"),
            models.Index(fields=["lead", "state", "-submitted_at"], name="report_lead"),
            models.Index(fields=["team", "ask_state"], name="report_team_asks"),
            # The cockpit's report figures by team and author (coaching.cockpit.reports): every
            # column they read, in group order, so a +2's nine teams' 9,000 reports are counted
            # from the index without reading the table or sorting (SQLite 11.9 → 3.0 ms).
            models.Index(
                fields=[
                    "team",
                    "state",
                    "author",
                    "submitted_at",
                    "on_time",
                    "quality_score",
                    "ask_state",
                    "acknowledged_at",
                ],
                name="report_team_figures",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.author}"

    def get_absolute_url(self) -> str:
        if self.state == ReportState.DRAFT:
            return reverse("report-edit", args=[self.pk])
        return reverse("report-detail", args=[self.pk])

    @property
    def has_plan(self) -> bool:
        return bool(self.next_step.strip())

    def quality_issue_labels(self) -> list[str]:
        from crm.reporting import issue_label

        return [issue_label(code) for code in self.quality_issues]


class ReportReply(models.Model):
    """One message in the thread under a report."""

    report = models.ForeignKey(
        Report, verbose_name=_("report"), on_delete=models.CASCADE, related_name="replies"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("author"), on_delete=models.PROTECT
    )
    body = models.TextField(_("reply"))
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("reply")
        verbose_name_plural = _("replies")

    def __str__(self) -> str:
        return f"{self.author}: {self.body[:40]}"
