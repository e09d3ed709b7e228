"""People reads: reps with the figures the manager's screens show beside them."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from crm.models import User
from crm.pipeline import OPEN_STAGES


def rep_load(*, reps: QuerySet[User]) -> QuerySet[User]:
    """Each rep with their number of open leads, for the hand-off screen."""
    return reps.annotate(
        open_leads=Count("owned_leads", filter=Q(owned_leads__stage__in=OPEN_STAGES))
    ).order_by("first_name", "username")
