"""The web layer every page shares (crm's and the coach's): the typed htmx request, the signed-in
user, a service's refusal shown on its form, pagination from one setting, and the one choice
between a whole page and its swappable region.

Views import these by name; nothing here decides who may see what (crm.permissions does) or
what to write (the services do).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_htmx.middleware import HtmxDetails

from crm.models import User


class HtmxHttpRequest(HttpRequest):
    """A request that went through django-htmx's middleware (every request here does)."""

    htmx: HtmxDetails


def current_user(request: HttpRequest) -> User:
    """The signed-in user; views call it behind `login_required`."""
    user = request.user
    assert isinstance(user, User)
    return user


def apply_errors(form: Any, error: ValidationError) -> None:
    """Show a service's refusal on the form, next to the field it concerns where it names one."""
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


def paginate(request: HttpRequest, items: QuerySet[Any], per_page: int | None = None) -> Page:
    """The page of `items` named by `?page=` (the last one when past the end), of
    `settings.KAOPU_PAGE_SIZE` rows unless a page asks for another size."""
    size = per_page if per_page is not None else settings.KAOPU_PAGE_SIZE
    return Paginator(items, size).get_page(request.GET.get("page"))


def wants_region(request: HttpRequest) -> bool:
    """True when htmx asked for a swap (not a boosted navigation, which wants the whole page)."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted  # type: ignore[union-attr]


def render_region(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    region: str,
    *,
    status: int = 200,
) -> HttpResponse:
    """The whole page, or only its `{% partialdef region %}` when htmx asked for a swap."""
    name = f"{template}#{region}" if wants_region(request) else template
    return render(request, name, context, status=status)
