"""The web layer every page shares (crm's and the coach's): the typed htmx request, the signed-in
user, ids and numbers read from the request (checked in one place), a service's refusal shown on
its form, pagination from one setting, and the one choice between a whole page and its
swappable region.

Views import these by name; nothing here decides who may see what (crm.permissions does) or
what to write (the services do).
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import escape
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


# The largest value a bigint column (every id here) holds; past it a lookup overflows SQLite.
BIGINT_MAX = 2**63 - 1
# ASCII digits only: str.isdigit() also accepts '²', which int() then refuses.
_WHOLE_NUMBER = re.compile(r"[0-9]{1,19}")


def parse_int(raw: object, *, minimum: int = 1, maximum: int = BIGINT_MAX) -> int | None:
    """`raw` (a query value, a posted field, a path part) as a whole number from `minimum` to
    `maximum`, or None: a NUL byte, '1e5', '²', '-1', twenty digits or words are not one."""
    text = str(raw if raw is not None else "").strip()
    if not _WHOLE_NUMBER.fullmatch(text):
        return None
    value = int(text)
    return value if minimum <= value <= maximum else None


def _raw(request: HttpRequest, name: str) -> str:
    """`name` from the query string, else from the posted form ("" when neither has it)."""
    return request.GET.get(name) or request.POST.get(name) or ""


def int_param(request: HttpRequest, name: str, *, minimum: int = 1) -> int | None:
    """The whole number `name` of the query string (else of the posted form); None when it is
    missing or is not a plain number a bigint holds. For values a page may ignore (a page
    number, a preselected choice)."""
    return parse_int(_raw(request, name), minimum=minimum)


def id_param(request: HttpRequest, name: str) -> int | None:
    """The id `name` of the query string (else of the posted form): None when not given, a
    404 when given but no object could have it (`?lead=abc` names nothing that exists)."""
    raw = _raw(request, name)
    if not raw:
        return None
    value = parse_int(raw)
    if value is None:
        raise Http404
    return value


def int_params(request: HttpRequest, name: str) -> list[int]:
    """Every id given as `name` (repeated) in the query string and the posted form, sorted
    and once each; values that are not ids are left out."""
    raw = request.GET.getlist(name) + request.POST.getlist(name)
    return sorted({value for value in map(parse_int, raw) if value is not None})


def text_param(request: HttpRequest, name: str, *, max_length: int = 100) -> str:
    """The query value `name` as search text: trimmed, at most `max_length` characters, NUL
    bytes dropped (PostgreSQL refuses them in text)."""
    return request.GET.get(name, "").replace("\x00", "").strip()[:max_length]


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


# A URL reversed with this id in place of a row's, then split around it (url_around_id).
_MARK = 987654321


def url_around_id(name: str) -> tuple[str, str]:
    """The escaped URL of the view `name` for an id, split around the id: a page that writes
    many rows in Python (lead rows, board cards, timeline, cockpit rows, nudge items) reverses
    it once and puts each row's id between the two halves."""
    head, tail = escape(reverse(name, args=[_MARK])).split(str(_MARK))
    return head, tail
