"""The stall sweep: marks the leads stalled in every time zone (crm.models.stalls), so that the
tally counts them and a stalled count reads only the last day's or so one by one. Run by beat
(crm.tasks.sweep_stalls); a missed or late sweep changes no count, only how many leads a count
checks one by one."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from crm.models import Lead, Team
from crm.models.stalls import ZONE_SPREAD

# Leads marked per transaction: each batch locks its rows (PostgreSQL) and names them by id.
SWEEP_BATCH = 2_000


def stalls_sweep(*, now: dt.datetime | None = None) -> int:
    """Mark the unmarked leads whose stall moment is `ZONE_SPREAD` past; how many. Batches of
    `SWEEP_BATCH`, each in its own transaction, so that no write waits long on the sweep."""
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
