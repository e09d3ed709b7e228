"""Lead imports: one job per uploaded CSV/XLSX file, with its column mapping, mode, duplicate
policy, progress and per-row error report. The running lives in crm.imports."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models.leads import Source
from crm.models.people import Team


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
    # What the whole file says (crm.imports.values): each column's number style, the date
    # order, each column's distinct values (for picklists); and what the user answered.
    profile = models.JSONField(_("file profile"), default=dict, blank=True)
    answers = models.JSONField(_("answers"), default=dict, blank=True)
    default_source = models.CharField(
        _("source for rows without one"), max_length=20, choices=Source.choices, blank=True
    )
    mode = models.CharField(
        _("mode"), max_length=16, choices=ImportMode.choices, default=ImportMode.VALID_ROWS
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


class ImportValueMap(models.Model):
    """How a user's files with one set of header names map a picklist column's values ("Organic
    Search" → website, 合作伙伴 → referral, "" = other, the original kept in the notes), so the
    next export from the same CRM is mapped as last time."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    header_key = models.CharField(_("header names"), max_length=40)
    field = models.CharField(_("field"), max_length=30)
    values = models.JSONField(_("values"), default=dict, blank=True)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("picklist value mapping")
        verbose_name_plural = _("picklist value mappings")
        constraints = [
            models.UniqueConstraint(
                fields=["created_by", "header_key", "field"], name="import_value_map_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.field} ({self.header_key[:8]})"
