"""The import job, from upload to summary: keep the uploaded file as a job (after the size and
row limits), fix its mapping and options, preview its first rows, and run it.

`import_run` is the one service behind both the web request (small files) and the Celery task
(big files, over KAOPU_IMPORT_BACKGROUND_ROWS): it claims the job with a guarded update, then
checks the rows and writes their leads in batches as it goes, all in one transaction — so a
re-run, or a run after a crash, never imports twice, and a 100,000-row file is never held whole.
`import_sweep` finds the jobs whose message or worker was lost.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import connections, transaction
from django.db.models import BinaryField, F, Q
from django.db.models.functions import Substr
from django.template.defaultfilters import filesizeformat
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from crm import audit, services
from crm.imports.checking import _check, _Checked, _error, checked_key
from crm.imports.mapping import mapping_clean, suggested_mapping
from crm.imports.questions import answers_clean, answers_remember
from crm.imports.reading import _records, _text, max_bytes, sniff
from crm.models import (
    DuplicatePolicy,
    ImportJob,
    ImportMode,
    ImportState,
    Lead,
    Role,
    Source,
    Team,
    User,
    tally,
)
from crm.permissions import can_import, managed_team
from crm.services.leads import leads_insert

log = logging.getLogger(__name__)

# A job that has been running this long was lost with its worker: run it again.
STALE_RUNNING = dt.timedelta(minutes=20)
# A job queued this long without starting lost its message (or the broker was down).
STALE_PENDING = dt.timedelta(seconds=30)
MAX_ATTEMPTS = 3
ABANDONED_AFTER = dt.timedelta(days=7)


def background_rows() -> int:
    """Files with more data rows than this are imported by a worker, not in the request."""
    return int(settings.KAOPU_IMPORT_BACKGROUND_ROWS)


def runs_in_background(job: ImportJob) -> bool:
    return job.row_count > background_rows()


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


def _saved_key(job_id: int) -> str:
    return f"import-saved-{job_id}"


def saved(job: ImportJob) -> int:
    """How many of the job's leads are written so far. The writes are one transaction, which
    the progress page cannot see into, so the count goes through the cache."""
    return int(cache.get(_saved_key(job.pk)) or 0)


def checked(job: ImportJob) -> int:
    """How many of the job's rows are checked so far (through the cache, as saved())."""
    return max(job.processed, int(cache.get(checked_key(job.pk)) or 0))


def progress(job: ImportJob) -> int:
    """The job's progress in percent: checking the rows is one half of the work, saving them
    (bulk inserts, company records and contacts, history, events) the other; the two go on
    together, the rows written in batches as the file is checked."""
    if job.state == ImportState.DONE:
        return 100
    if not job.row_count:
        return 0
    checked_part = min(checked(job), job.row_count) * 50 // job.row_count
    return min(99, checked_part + saved(job) * 50 // job.row_count)


class _Refused(Exception):
    """Writing the leads was refused (the team, a merged row, an update in all-or-nothing
    mode): nothing is imported and the message is a line of the report."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Undone(Exception):
    """All or nothing, and some rows have errors: the batches already written are undone."""

    def __init__(self, result: _Checked) -> None:
        super().__init__("rows with errors")
        self.result = result


class _Writer:
    """Writes the batches of leads to create (what _check hands to `write`) on a thread of its
    own, on the import's connection and so in its transaction, while the main thread checks
    the rows that follow: on PostgreSQL the server's part of a batch (its indexes, the trigram
    ones above all) then overlaps the next batch's check instead of following it. One batch is
    written at a time and the check reads nothing from the database meanwhile (the team's
    duplicate keys are read before the first batch), so the two threads never use the
    connection at once. Used as a context manager: leaving it waits for the last batch, and
    raises its error if it failed. On SQLite the writes are the process's own work, which a
    second thread only slows (51 s against 45 s at 100,000 rows): they stay in line there."""

    def __init__(self, job: ImportJob, actor: User, now: dt.datetime) -> None:
        self.job, self.actor, self.now = job, actor, now
        self.connection = transaction.get_connection()
        self.pool = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"import-{job.pk}")
            if self.connection.vendor == "postgresql"
            else None
        )
        self.writing: Future[None] | None = None

    def __enter__(self) -> _Writer:
        self.connection.inc_thread_sharing()
        return self

    def __exit__(self, kind: type[BaseException] | None, *_exc: object) -> None:
        try:
            if kind is None:
                self.wait()
            elif self.writing is not None:
                # The check failed: the batch being written must end before the rollback.
                futures_wait([self.writing])
        finally:
            if self.pool is not None:
                self.pool.shutdown()
            self.connection.dec_thread_sharing()

    def wait(self) -> None:
        """Wait for the batch being written; its error, if it failed, is raised here."""
        writing, self.writing = self.writing, None
        if writing is not None:
            writing.result()

    def write(self, result: _Checked) -> None:
        """Hand the pending rows over to be written, after the batch before them is."""
        first = result.taken
        batch = result.take()
        if self.job.mode == ImportMode.ALL_OR_NOTHING and result.error_lines:
            return  # nothing will be imported: the rows need not be kept either
        leads = []
        for offset, (data, lead) in enumerate(batch):
            if lead is None:  # a later row was merged into it
                try:
                    lead = services.lead_build(
                        actor=self.actor, team=self.job.team, data=data, now=self.now
                    )
                except ValidationError as error:
                    raise _Refused(
                        _("Row %(row)d: %(errors)s")
                        % {"row": result.lines[first + offset], "errors": "; ".join(error.messages)}
                    ) from error
            leads.append(lead)
        self.wait()
        result.written += len(leads)
        if self.pool is None:
            self._insert(leads, result.written)
        else:
            # In a copy of this thread's context: the tally's suspension (a ContextVar) with it.
            self.writing = self.pool.submit(
                contextvars.copy_context().run, self._insert, leads, result.written
            )

    def _insert(self, leads: list[Lead], written: int) -> None:
        """On the writer's thread: the batch saved, the count of saved rows put in the cache
        for the progress bar."""
        connections[self.connection.alias] = self.connection
        leads_insert(actor=self.actor, leads=leads, now=self.now)
        cache.set(_saved_key(self.job.pk), written, timeout=3600)


def _update(job: ImportJob, actor: User, result: _Checked) -> int:
    """Update the team's leads that rows matched (duplicates set to update). Returns how many."""
    updated = 0
    for lead_id, (lines, data) in result.updates.items():
        try:
            with transaction.atomic():
                services.lead_update(actor=actor, lead=Lead(pk=lead_id), data=data)
        except ValidationError as error:
            if job.mode == ImportMode.ALL_OR_NOTHING:
                raise _Refused(" ".join(error.messages)) from error
            messages = error.messages
        except Lead.DoesNotExist:
            if job.mode == ImportMode.ALL_OR_NOTHING:
                raise
            messages = [_("Lead not found.")]
        else:
            updated += 1
            continue
        for line in lines:
            result.errors.append(_error(line, "", " ".join(messages)))
            result.error_lines.add(line)
    return updated


def _check_and_write(
    job: ImportJob, actor: User, content: bytes, now: dt.datetime
) -> tuple[_Checked, int, int]:
    """Check the rows and write them as they come (inside the caller's transaction). Returns
    (the check's outcome, created, updated)."""
    try:
        services.lead_pool_team(actor=actor, team=job.team)
    except ValidationError as error:
        raise _Refused(" ".join(error.messages)) from error
    with _Writer(job, actor, now) as writer:
        result = _check(job, actor, content, now=now, write=writer.write)
        if job.mode == ImportMode.ALL_OR_NOTHING and result.error_lines:
            raise _Undone(result)
        writer.write(result)  # the last rows (every row when duplicates update)
    updated = _update(job, actor, result)
    if result.written or updated:
        audit.record(
            actor=actor,
            action="lead.imported",
            obj=job,
            summary=f"{result.written} created, {updated} updated from {job.file_name}",
        )
    return result, result.written, updated


def _dropped(result: _Checked) -> None:
    result.take()


def import_run(*, job_id: int) -> ImportJob | None:
    """Run a queued import: check every row, then write them all in one transaction (all or
    nothing, or the valid rows only, as the user chose). Claims the job first, so running it
    twice does nothing the second time. Returns the job, or None when it was not waiting."""
    now = timezone.now()
    claimed = ImportJob.objects.filter(pk=job_id, state=ImportState.PENDING).update(
        state=ImportState.RUNNING, started_at=now, processed=0, attempts=F("attempts") + 1
    )
    if not claimed:
        return None
    # The file is read once, by _run; the job rows carry no copy of it.
    job = ImportJob.objects.select_related("created_by", "team").defer("content").get(pk=job_id)
    actor = job.created_by
    with translation.override(actor.language):
        try:
            return _run(job, actor)
        except Exception as error:
            log.exception("lead import %s failed", job_id)
            message = (
                " ".join(error.messages)
                if isinstance(error, ValidationError)
                else _("The import stopped on an unexpected error; nothing was imported.")
            )
            ImportJob.objects.filter(pk=job_id).update(
                state=ImportState.FAILED,
                finished_at=timezone.now(),
                last_error=message,
            )
            job.refresh_from_db()
            return job


# The file is read from its row in pieces of this many bytes (see _content).
CONTENT_PIECE = 2 * 1024 * 1024


def _content(job_id: int) -> bytes:
    """The job's file, read in pieces: read whole, PostgreSQL sends a 17 MB file as 35 MB of
    hex text, which took the worker's peak memory 105 MB up for that moment alone."""
    pieces: list[bytes] = []
    start = 1
    while True:
        piece = bytes(
            ImportJob.objects.filter(pk=job_id)
            .annotate(piece=Substr("content", start, CONTENT_PIECE, output_field=BinaryField()))
            .values_list("piece", flat=True)
            .get()
            or b""
        )
        pieces.append(piece)
        if len(piece) < CONTENT_PIECE:
            return b"".join(pieces)
        start += CONTENT_PIECE


def _run(job: ImportJob, actor: User) -> ImportJob:
    content = _content(job.pk)
    now = timezone.now()
    counters = [checked_key(job.pk), _saved_key(job.pk)]
    cache.delete_many(counters)  # a run after a crash starts its bar again
    # One transaction: the leads are written in batches while the rows are checked (the bar
    # moves through the cache), and a crash or a refusal leaves nothing half imported.
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().defer("content").get(pk=job.pk)
        if job.state != ImportState.RUNNING:
            return job
        blocked = False
        try:
            # The tally left alone while the rows are written (the pool's tally row would stay
            # locked for the whole import, and hand-offs in the team wait): recounted below.
            with tally.tally_suspended(), transaction.atomic():
                result, created, updated = _check_and_write(job, actor, content, now)
        except _Undone as undone:
            result, created, updated, blocked = undone.result, 0, 0, True
        except _Refused as refused:
            # Undone; the rows are checked again, writing nothing, for the whole report.
            result = _check(job, actor, content, now=now, write=_dropped)
            if not (job.mode == ImportMode.ALL_OR_NOTHING and result.error_lines):
                result.errors.append(_error(0, "", refused.message))
            created = updated = 0
            blocked = True
        job.state = ImportState.DONE
        job.finished_at = timezone.now()
        job.processed = job.row_count
        job.created_count = created
        job.updated_count = updated
        job.skipped_count = result.skipped
        job.error_count = len(result.error_lines)
        job.errors = sorted(result.errors, key=lambda e: e["line"])
        job.duplicates = result.duplicates
        job.last_error = (
            _("Nothing was imported because some rows have errors. Fix them and upload again.")
            if blocked
            else ""
        )
        job.content = b""  # the report is all that is needed now; don't keep a second copy
        job.save()
        if created or updated:
            # Last: the teams' tally rows are locked from here to the commit only.
            teams = {job.team_id}
            if updated:
                teams.update(
                    Lead.objects.filter(pk__in=list(result.updates))
                    .values_list("team_id", flat=True)
                    .distinct()
                )
            tally.lead_tally_rebuild(teams)
    cache.delete_many(counters)
    return job


def import_sweep(*, now: dt.datetime | None = None) -> list[int]:
    """Jobs that should be running but are not: queued without starting for a while (a lost
    message, or the broker was down when the request queued it), or running far longer than any
    import takes (the worker died; nothing was written, since the writes are one transaction).
    Returns the ids to run; a job that failed too often is marked failed instead. Uploads left
    without a mapping for a week are deleted."""
    now = now or timezone.now()
    # Files uploaded and never mapped are not kept for ever.
    ImportJob.objects.filter(
        state=ImportState.UPLOADED, created_at__lt=now - ABANDONED_AFTER
    ).delete()
    stale = ImportJob.objects.filter(state=ImportState.RUNNING, started_at__lt=now - STALE_RUNNING)
    stale.filter(attempts__gte=MAX_ATTEMPTS).update(
        state=ImportState.FAILED,
        finished_at=now,
        last_error=_("The import stopped several times; nothing was imported."),
    )
    stale.update(state=ImportState.PENDING, queued_at=now - STALE_PENDING)
    return list(
        ImportJob.objects.filter(state=ImportState.PENDING)
        .filter(Q(queued_at__lte=now - STALE_PENDING) | Q(queued_at__isnull=True))
        .order_by("queued_at", "pk")
        .values_list("pk", flat=True)[:100]
    )


def summary(job: ImportJob) -> str:
    """One sentence on what the import did, in the active language."""
    parts = [
        ngettext("%(n)d lead created", "%(n)d leads created", job.created_count)
        % {"n": job.created_count},
        ngettext("%(n)d updated", "%(n)d updated", job.updated_count) % {"n": job.updated_count},
        ngettext("%(n)d duplicate skipped", "%(n)d duplicates skipped", job.skipped_count)
        % {"n": job.skipped_count},
        ngettext("%(n)d row with errors", "%(n)d rows with errors", job.error_count)
        % {"n": job.error_count},
    ]
    return _(", ").join(parts) + _(".")
