"""Celery tasks for the CRM: thin, idempotent, ids in; each calls one service."""

from __future__ import annotations

import logging
import threading

from celery import shared_task
from django.db import transaction

from crm import imports
from crm.services import stalls

log = logging.getLogger(__name__)


# Longer than the default limits: a 100,000-row import takes about a minute on a small machine.
@shared_task(acks_late=True, soft_time_limit=900, time_limit=960)
def run_import(job_id: int) -> str:
    job = imports.import_run(job_id=job_id)
    return job.state if job is not None else "not waiting"


@shared_task(acks_late=True)
def sweep_imports() -> int:
    """Queue the imports that were never started or whose worker died."""
    ids = imports.import_sweep()
    for job_id in ids:
        run_import.delay(job_id)
    return len(ids)


def publish_import(job_id: int) -> None:
    """Send the job to the broker; a failure is logged and left to the beat sweep."""
    try:
        run_import.apply_async((job_id,), retry=False)
    except Exception:
        log.exception("could not queue lead import %s; the sweep will start it", job_id)


def enqueue_import(job_id: int) -> None:
    """Queue an import from a web request once its transaction commits, without the request
    waiting on the broker: a refused or hung connection takes seconds, so the message is sent
    from a short-lived thread. A lost message costs only time: the beat sweep starts the job."""

    def send() -> None:
        threading.Thread(
            target=publish_import, args=(job_id,), name=f"kaopu-import-{job_id}", daemon=True
        ).start()

    transaction.on_commit(send, robust=True)


@shared_task(acks_late=True)
def sweep_stalls() -> int:
    """Mark the leads stalled in every time zone, for the tally's stalled counts."""
    return stalls.stalls_sweep()
