"""What every API endpoint asks of its request: the authenticated caller, a time without a zone
read in the caller's zone, one page of a queryset, and a lead the caller may see (404 for any
other, as everywhere in Kaopu).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone

from api.schemas import Paging
from crm.models import Lead, User
from crm.permissions import visible_leads


def caller(request: HttpRequest) -> User:
    """The user the bearer token belongs to (api.auth.TokenAuth set it)."""
    user = request.auth  # type: ignore[attr-defined]
    assert isinstance(user, User)
    return user


def aware(moment: dt.datetime | None) -> dt.datetime | None:
    """A time without a zone is in the user's own zone."""
    if moment is not None and timezone.is_naive(moment):
        return timezone.make_aware(moment)
    return moment


def page_of(items: QuerySet[Any], paging: Paging) -> dict[str, Any]:
    """One page of `items` with the total count, in the shape of every `*Page` schema."""
    count = items.count()
    start = (paging.page - 1) * paging.page_size
    return {
        "count": count,
        "page": paging.page,
        "page_size": paging.page_size,
        "items": list(items[start : start + paging.page_size]),
    }


def lead_visible(request: HttpRequest, lead_id: int) -> Lead:
    """The lead, if the caller may see it; 404 otherwise."""
    return get_object_or_404(visible_leads(caller(request)), pk=lead_id)
