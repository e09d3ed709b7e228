"""An import's progress and outcome as people read them: how many rows are checked and how
many leads saved while it runs (through the cache, as the run is one transaction the progress
page cannot see into), the percent the bar shows, and one sentence on what it did.
"""

from __future__ import annotations

from django.core.cache import cache
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from crm.imports.checking import checked_key
from crm.models import ImportJob, ImportState


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
