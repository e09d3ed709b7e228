"""The stall sweep: marks the leads stalled in every time zone (crm.models.stalls), so that the
tally counts them and a stalled count reads only the last day's or so one by one. Run by beat
(crm.tasks.sweep_stalls); a missed or late sweep changes no count, only how many leads a count
checks one by one."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.utils import timezone

from crm.models import Lead, Team
from crm.models.leads import stalls_restamp
from crm.models.stalls import STALL_INPUTS, ZONE_SPREAD, stall_moment

log = logging.getLogger(__name__)

# Leads marked per transaction: each batch locks its rows (PostgreSQL) and names them by id.
SWEEP_BATCH = 2_000


# Leads whose stall moment the sweep checks against a recount first: a change of
# KAOPU_STALLED_DAYS moves every moment, and the sweep sets them all again.
CHECKED = 50


def stalls_current() -> bool:
    """Whether the latest leads' stall moments are as the threshold now gives them."""
    rows = (
        Lead.objects.filter(stalls_at__isnull=False)
        .order_by("-pk")
        .values("stalls_at", *STALL_INPUTS)[:CHECKED]
    )
    return all(stall_moment(**row) == row["stalls_at"] for row in rows)


def stalls_restamp_all() -> int:
    """Set every lead's stall moment and mark again (and the tally's marked counts): after
    KAOPU_STALLED_DAYS changed. Batches of `SWEEP_BATCH` leads, each in its own transaction."""
    last, done = 0, 0
    while True:
        with transaction.atomic():
            ids = list(
                Lead.objects.filter(pk__gt=last)
                .order_by("pk")
                .values_list("pk", flat=True)[:SWEEP_BATCH]
            )
            if not ids:
                return done
            stalls_restamp(ids)
        last, done = ids[-1], done + len(ids)


def stalls_sweep(*, now: dt.datetime | None = None) -> int:
    """Mark the unmarked leads whose stall moment is `ZONE_SPREAD` past; how many. Batches of
    `SWEEP_BATCH`, each in its own transaction, so that no write waits long on the sweep.
    First, if the stalled threshold changed since the moments were set, set them all again."""
    if not stalls_current():
        log.warning("the stalled threshold changed: setting every lead's stall moment again")
        stalls_restamp_all()
    now = now or timezone.now()
    teams = list(Team.objects.order_by("pk").values_list("pk", flat=True))
    if not teams:
        return 0
    marked = 0
    while True:
        with transaction.atomic():
            # Every team's range of lead_team_stalls: the unmarked leads due by the cutoff.
            due = Lead.objects.filter(
                team_id__in=teams, stalled_swept__in=[False], stalls_at__lte=now - ZONE_SPREAD
            ).order_by()
            ids = list(due.values_list("pk", flat=True)[:SWEEP_BATCH])
            if not ids:
                return marked
            # The stall moment checked again in the update: a write since the read may have
            # set it later (and the lead's row is locked first: LeadQuerySet._locked).
            marked += due.filter(pk__in=ids).update(stalled_swept=True)
        if len(ids) < SWEEP_BATCH:
            return marked
