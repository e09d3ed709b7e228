"""Running an import job once it is configured (the upload and its options: crm.imports.uploads;
its progress and summary: crm.imports.progress).

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
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connections, transaction
from django.db.models import BinaryField, F, Q
from django.db.models.functions import Substr
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm import audit, services
from crm.imports.checking import _check, _Checked, _error, checked_key
from crm.imports.progress import _saved_key
from crm.models import (
    ImportJob,
    ImportMode,
    ImportState,
    Lead,
    User,
    tally,
)
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
