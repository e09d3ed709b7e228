"""An import job before it runs: the uploaded file kept as a job (after the size and row limits,
for the manager's own team or the one an admin chose), its first rows previewed for the mapping
page, and its mapping, value answers and options fixed, which queues it to run (see
crm.imports.running).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.imports.mapping import mapping_clean, suggested_mapping
from crm.imports.questions import answers_clean, answers_remember
from crm.imports.reading import _records, _text, max_bytes, sniff
from crm.models import (
    DuplicatePolicy,
    ImportJob,
    ImportMode,
    ImportState,
    Role,
    Source,
    Team,
    User,
)
from crm.permissions import can_import, managed_team


def megabytes(size: int) -> str:
    """A file size as people read it ("10 MB"), for the limits the import page states."""
    return str(filesizeformat(size)).replace("\xa0", " ")


def preview(job: ImportJob, rows: int = 10) -> list[tuple[int, list[str]]]:
    """The first data rows as text, padded to the header's width, for the mapping page."""
    width = len(job.header)
    out: list[tuple[int, list[str]]] = []
    with _records(job, bytes(job.content)) as records:
        next(records, None)
        for line, cells in records:
            texts = [_text(cell) for cell in cells[:width]]
            out.append((line, texts + [""] * (width - len(texts))))
            if len(out) >= rows:
                break
    return out


def _upload_team(actor: User, team: Team | None) -> Team:
    """The team whose pool the leads go to: a manager's own, or the one an admin chose."""
    if not can_import(actor):
        raise ValidationError(_("Only managers and admins import leads."))
    if actor.role == Role.MANAGER:
        team = managed_team(actor)
        if team is None:
            raise ValidationError(_("You do not manage a team yet; ask an admin to set it up."))
    elif team is None:
        raise ValidationError({"team": _("Choose the team whose pool the leads go to.")})
    return team


def _upload_content(upload: UploadedFile) -> bytes:
    """The uploaded file's bytes, refused when over KAOPU_IMPORT_MAX_BYTES."""
    limit = max_bytes()
    size = upload.size or 0
    if size > limit:
        raise ValidationError(
            {
                "file": _(
                    "The file is %(size)s; the limit is %(limit)s. Split it into smaller files."
                )
                % {"size": megabytes(size), "limit": megabytes(limit)}
            },
            code="too_big",
        )
    content = upload.read(limit + 1)
    if len(content) > limit:
        raise ValidationError(
            {"file": _("The file is bigger than %(limit)s.") % {"limit": megabytes(limit)}}
        )
    return content


@transaction.atomic
def import_upload(*, actor: User, upload: UploadedFile, team: Team | None = None) -> ImportJob:
    """Keep an uploaded file as a new import job waiting for its column mapping, after checking
    the size and row limits and that the file can be read."""
    team = _upload_team(actor, team)
    content = _upload_content(upload)
    name = (upload.name or "leads.csv")[-255:]
    try:
        sniffed = sniff(file_name=name, content=content)
    except ValidationError as error:
        raise ValidationError({"file": error.messages}) from error
    job = ImportJob.objects.create(
        created_by=actor,
        team=team,
        file_name=name,
        file_format=sniffed.file_format,
        encoding=sniffed.encoding,
        delimiter=sniffed.delimiter,
        content=content,
        header=sniffed.header,
        row_count=sniffed.row_count,
        profile=sniffed.profile,
    )
    job.mapping = suggested_mapping(user=actor, header=sniffed.header)
    job.save(update_fields=["mapping"])
    return job


@transaction.atomic
def import_configure(
    *,
    actor: User,
    job: ImportJob,
    mapping: Mapping[str, str],
    mode: str,
    on_duplicate: str,
    default_source: str,
    answers: Mapping[str, Any] | None = None,
) -> ImportJob:
    """Fix how the columns map to fields, the answers about its values (number style, date
    order, picklist values; see crm.imports.questions) and what to do with errors and
    duplicates; the job is then queued to run."""
    job = ImportJob.objects.select_for_update().get(pk=job.pk, created_by=actor)
    if job.state != ImportState.UPLOADED:
        raise ValidationError(_("This import has already started."))
    errors: dict[str, str] = {}
    clean = mapping_clean(header=job.header, mapping=mapping, errors=errors)
    if mode not in ImportMode.values:
        errors["mode"] = _("Choose how to treat rows with errors.")
    if on_duplicate not in DuplicatePolicy.values:
        errors["on_duplicate"] = _("Choose what to do with duplicates.")
    if default_source not in Source.values:
        errors["default_source"] = _("Choose a source for rows without one.")
    job_answers = answers_clean(job, clean, answers or {}, errors)
    if errors:
        raise ValidationError(errors)
    job.mapping = clean
    job.answers = job_answers
    job.mode = mode
    job.on_duplicate = on_duplicate
    job.default_source = default_source
    job.state = ImportState.PENDING
    job.queued_at = timezone.now()
    job.save(
        update_fields=[
            "mapping",
            "answers",
            "mode",
            "on_duplicate",
            "default_source",
            "state",
            "queued_at",
        ]
    )
    answers_remember(job)
    return job
