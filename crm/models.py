"""People, teams, leads and everything that happens to a lead."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.pipeline import OPEN_STAGES, Stage


class Role(models.TextChoices):
    REP = "rep", _("Sales rep")
    MANAGER = "manager", _("Manager")
    DIRECTOR = "director", _("Director (+2)")
    ADMIN = "admin", _("Admin")


class Language(models.TextChoices):
    ZH_HANS = "zh-hans", "简体中文"
    EN = "en", "English"


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.REP)
    language = models.CharField(
        _("language"), max_length=8, choices=Language.choices, default=Language.ZH_HANS
    )
    time_zone = models.CharField(_("time zone"), max_length=64, default="Asia/Shanghai")
    display_name = models.CharField(_("display name"), max_length=100, blank=True)
    team = models.ForeignKey(
        "crm.Team",
        verbose_name=_("team"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="members",
        help_text=_("The team a rep currently sells for."),
    )

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.display_name or self.get_full_name() or self.username

    @property
    def is_admin_role(self) -> bool:
        return self.is_superuser or self.role == Role.ADMIN

    @property
    def is_manager(self) -> bool:
        return self.role == Role.MANAGER

    @property
    def is_director(self) -> bool:
        return self.role == Role.DIRECTOR


class Team(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    manager = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("manager"),
        on_delete=models.PROTECT,
        related_name="managed_team",
    )
    director = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("director (+2)"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="directed_teams",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self) -> str:
        return self.name


class TeamMembership(models.Model):
    """Which team a rep sold for, and when: moving teams keeps this history."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="memberships",
    )
    team = models.ForeignKey(
        Team, verbose_name=_("team"), on_delete=models.CASCADE, related_name="memberships"
    )
    joined_at = models.DateTimeField(_("joined at"), default=timezone.now)
    left_at = models.DateTimeField(_("left at"), null=True, blank=True)

    class Meta:
        ordering = ["-joined_at"]
        verbose_name = _("team membership")
        verbose_name_plural = _("team memberships")
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(left_at__isnull=True), name="one_open_membership"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.team}"


class Source(models.TextChoices):
    BRAND = "brand", _("Company brand / inbound request")
    TRADE_SHOW = "trade_show", _("Trade show")
    WEBSITE = "website", _("Website (SEO)")
    MARKETING = "marketing", _("Marketing")
    PROSPECTING = "prospecting", _("Own prospecting")
    COLD_VISIT = "cold_visit", _("Cold visit")
    REFERRAL = "referral", _("Referral")


class Currency(models.TextChoices):
    CNY = "CNY", _("CNY ¥")
    USD = "USD", _("USD $")
    EUR = "EUR", _("EUR €")


class ChickenRibReason(models.TextChoices):
    WORKED_BEFORE = "worked_before", _("Worked before without closing")
    COMPETITOR = "competitor", _("Competitor entrenched")
    UNREACHABLE = "unreachable", _("Unreachable")
    NO_BUDGET = "no_budget", _("No purchasing power")
    WILL_BUY_FOREVER = "will_buy_forever", _("“Will buy” for a long time")
    OTHER = "other", _("Other")


class Lead(models.Model):
    company = models.CharField(_("company"), max_length=200)
    contact_name = models.CharField(_("contact person"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    email = models.EmailField(_("email"), blank=True)
    source = models.CharField(_("source"), max_length=20, choices=Source.choices)
    value = models.DecimalField(
        _("estimated value"),
        max_digits=14,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    currency = models.CharField(
        _("currency"), max_length=3, choices=Currency.choices, default=Currency.CNY
    )
    stage = models.CharField(_("stage"), max_length=16, choices=Stage.choices, default=Stage.NEW)
    expected_close = models.DateField(_("expected close date"), null=True, blank=True)
    tender_date = models.DateField(_("tender date"), null=True, blank=True)
    competitor = models.CharField(_("competitor"), max_length=200, blank=True)
    next_step = models.CharField(_("next step"), max_length=300, blank=True)
    next_step_due = models.DateField(_("next step due"), null=True, blank=True)
    is_chicken_rib = models.BooleanField(_("chicken-rib lead (鸡肋)"), default=False)
    chicken_rib_reasons = models.JSONField(_("chicken-rib reasons"), default=list, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    lost_reason = models.CharField(_("reason lost"), max_length=300, blank=True)

    team = models.ForeignKey(
        Team, verbose_name=_("team"), on_delete=models.PROTECT, related_name="leads"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_leads",
    )
    handed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("handed down by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="handed_leads",
    )
    handed_at = models.DateTimeField(_("handed down at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    stage_changed_at = models.DateTimeField(_("stage changed at"), default=timezone.now)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    last_activity_at = models.DateTimeField(_("last activity"), null=True, blank=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        indexes = [
            models.Index(fields=["owner", "-updated_at"], name="lead_owner_updated"),
            models.Index(fields=["team", "-updated_at"], name="lead_team_updated"),
            models.Index(fields=["team", "stage"], name="lead_team_stage"),
            models.Index(fields=["owner", "next_step_due"], name="lead_owner_due"),
            models.Index(fields=["stage", "last_activity_at"], name="lead_stage_activity"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(value__gte=0), name="lead_value_not_negative"),
            models.CheckConstraint(
                condition=~Q(stage=Stage.LOST) | ~Q(lost_reason=""),
                name="lost_lead_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return self.company

    def get_absolute_url(self) -> str:
        return reverse("lead-detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.stage in OPEN_STAGES

    def chicken_rib_reason_labels(self) -> list[str]:
        labels = dict(ChickenRibReason.choices)
        return [str(labels.get(code, code)) for code in self.chicken_rib_reasons]


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
    created_at = models.DateTimeField(_("logged at"), default=timezone.now)

    class Meta:
        ordering = ["-happened_at", "-id"]
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        indexes = [models.Index(fields=["lead", "-happened_at"], name="activity_lead_time")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.lead}"


class LeadEventKind(models.TextChoices):
    CREATED = "created", _("Created")
    UPDATED = "updated", _("Updated")
    HANDED_DOWN = "handed_down", _("Handed down")
    REASSIGNED = "reassigned", _("Reassigned")
    RETURNED = "returned", _("Returned to the team pool")
    STAGE_CHANGED = "stage_changed", _("Stage changed")


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

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("lead history entry")
        verbose_name_plural = _("lead history")
        indexes = [
            models.Index(fields=["lead", "-created_at"], name="leadevent_lead_time"),
            models.Index(fields=["to_user", "kind", "-created_at"], name="leadevent_to_kind"),
            models.Index(fields=["kind", "created_at"], name="leadevent_kind_time"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.lead_id}"

    def changed_labels(self) -> list[str]:
        """The edited fields' names in the reader's language."""
        fields = [Lead._meta.get_field(name) for name in self.changes]
        return [str(getattr(field, "verbose_name", field.name)) for field in fields]


class DomainEvent(models.Model):
    """The outbox: one row per domain event, written in the transaction that caused it.

    Background workers claim unprocessed rows (`processed_at` empty) with a guarded update.
    """

    name = models.CharField(_("event"), max_length=40)
    payload = models.JSONField(_("payload"), default=dict)
    created_at = models.DateTimeField(_("when"), default=timezone.now)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("domain event")
        verbose_name_plural = _("domain events")
        indexes = [
            models.Index(
                fields=["id"],
                name="domainevent_pending",
                condition=Q(processed_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} #{self.pk}"


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
    DONE = "done", _("Done")
    DECLINED = "declined", _("Declined")


class PlanDecision(models.TextChoices):
    KEEP_PUSHING = "keep_pushing", _("Keep pushing")
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


class AuditEntry(models.Model):
    """Who did what, when, from which address: hand-offs, stage changes, report answers,
    admin actions. Written by the service (or admin hook) that made the change."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("who"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    action = models.CharField(_("action"), max_length=40)
    object_type = models.CharField(_("object type"), max_length=40)
    object_id = models.CharField(_("object id"), max_length=40, blank=True)
    summary = models.CharField(_("what"), max_length=300, blank=True)
    ip_address = models.GenericIPAddressField(_("from address"), null=True, blank=True)
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit trail")
        indexes = [
            models.Index(fields=["-created_at"], name="audit_time"),
            models.Index(fields=["object_type", "object_id"], name="audit_object"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}:{self.object_id}"


class ImportState(models.TextChoices):
    UPLOADED = "uploaded", _("Waiting for the column mapping")
    PENDING = "pending", _("Waiting to run")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Import failed")


class ImportMode(models.TextChoices):
    ALL_OR_NOTHING = "all_or_nothing", _("All or nothing: import only if every row is valid")
    VALID_ROWS = "valid_rows", _("Import the valid rows and report the others")


class DuplicatePolicy(models.TextChoices):
    SKIP = "skip", _("Skip the row")
    UPDATE = "update", _("Update the existing lead with the row's values")


class ImportJob(models.Model):
    """One upload of leads from a CSV or XLSX file into a team's pool: the file, how its
    columns map to lead fields, and what came of it (counts and a per-row error report).

    The file's bytes live in the row (not on a disk a worker may not share) until the job has
    imported something.
    """

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("imported by"),
        on_delete=models.CASCADE,
        related_name="lead_imports",
    )
    team = models.ForeignKey(
        Team, verbose_name=_("team"), on_delete=models.CASCADE, related_name="+"
    )
    file_name = models.CharField(_("file"), max_length=255)
    file_format = models.CharField(_("format"), max_length=8)
    encoding = models.CharField(_("encoding"), max_length=20, blank=True)
    delimiter = models.CharField(_("delimiter"), max_length=1, blank=True)
    content = models.BinaryField(_("content"), editable=False, default=b"")
    header = models.JSONField(_("columns"), default=list, blank=True)
    row_count = models.PositiveIntegerField(_("rows"), default=0)
    mapping = models.JSONField(_("column mapping"), default=dict, blank=True)
    default_source = models.CharField(
        _("source for rows without one"), max_length=20, choices=Source.choices, blank=True
    )
    mode = models.CharField(
        _("mode"), max_length=16, choices=ImportMode.choices, default=ImportMode.ALL_OR_NOTHING
    )
    on_duplicate = models.CharField(
        _("duplicates"), max_length=8, choices=DuplicatePolicy.choices, default=DuplicatePolicy.SKIP
    )
    state = models.CharField(
        _("state"), max_length=10, choices=ImportState.choices, default=ImportState.UPLOADED
    )
    processed = models.PositiveIntegerField(_("rows checked"), default=0)
    created_count = models.PositiveIntegerField(_("leads created"), default=0)
    updated_count = models.PositiveIntegerField(_("leads updated"), default=0)
    skipped_count = models.PositiveIntegerField(_("rows skipped"), default=0)
    error_count = models.PositiveIntegerField(_("rows with errors"), default=0)
    errors = models.JSONField(_("errors"), default=list, blank=True)
    duplicates = models.JSONField(_("duplicates"), default=list, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("uploaded at"), default=timezone.now)
    queued_at = models.DateTimeField(_("queued at"), null=True, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("lead import")
        verbose_name_plural = _("lead imports")
        indexes = [
            models.Index(fields=["created_by", "-created_at"], name="import_user_time"),
            models.Index(
                fields=["state", "queued_at"],
                name="import_waiting",
                condition=Q(state__in=["pending", "running"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_state_display()})"

    def get_absolute_url(self) -> str:
        return reverse("lead-import-detail", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.state in (ImportState.PENDING, ImportState.RUNNING)

    @property
    def percent(self) -> int:
        if self.state == ImportState.DONE:
            return 100
        if not self.row_count:
            return 0
        # Checking the rows is most of the work; saving them is the last tenth.
        return min(90, self.processed * 90 // self.row_count)
