"""Kaopu's JSON API (django-ninja), with its OpenAPI document at /api/openapi.json and the docs
at /api/docs.

This module assembles the API: the NinjaAPI with its token auth, the one error shape, and one
router per resource (api/routers/: leads, activities, reports, nudges). The API is a thin
layer, like the pages: it reads through crm.selectors and crm.permissions and writes through
crm.services and coaching.services. A lead, report or nudge the caller may not see does not
exist for them (404). Every error has one shape:

    {"error": {"code": "...", "message": "...", "fields": {"field": "message"}}}

with the messages in the caller's language.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.operation import Operation

from api.auth import RateLimited, TokenAuth, rate_limit
from api.routers import activities, companies, leads, nudges, reports

log = logging.getLogger(__name__)


class KaopuAPI(NinjaAPI):
    """NinjaAPI whose operation ids stay those published before the routers were split out
    (`api_api_<function>`), so clients generated from the OpenAPI document keep working."""

    def get_openapi_operation_id(self, operation: Operation) -> str:
        return f"api_api_{operation.view_func.__name__}"


api = KaopuAPI(
    title="Kaopu API",
    version="1",
    description=(
        "The CRM's leads, activities, hand-offs, reports and the coach's nudges. "
        "Authenticate with `Authorization: Bearer <token>`; make a token on your profile page. "
        "120 requests per minute per token."
    ),
    auth=TokenAuth(),
    urls_namespace="api",
    docs_url="/docs",
)

# --- Errors -------------------------------------------------------------------------------------


def error_response(
    request: HttpRequest,
    status: int,
    code: str,
    message: str,
    fields: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    response = api.create_response(
        request,
        {"error": {"code": code, "message": message, "fields": fields or {}}},
        status=status,
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


PYDANTIC_MESSAGES = {
    "missing": lambda ctx: _("This field is required."),
    "string_too_long": lambda ctx: (
        _("Ensure this has at most %(max)s characters.") % {"max": ctx.get("max_length")}
    ),
    "literal_error": lambda ctx: (
        _("Choose one of: %(choices)s.") % {"choices": ctx.get("expected")}
    ),
    "enum": lambda ctx: _("Choose one of: %(choices)s.") % {"choices": ctx.get("expected")},
    "greater_than_equal": lambda ctx: (
        _("Ensure this is at least %(min)s.") % {"min": ctx.get("ge")}
    ),
    "less_than_equal": lambda ctx: _("Ensure this is at most %(max)s.") % {"max": ctx.get("le")},
    "json_invalid": lambda ctx: _("The request body is not valid JSON."),
}


def _on_request_invalid(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    fields: dict[str, str] = {}
    for error in exc.errors:
        names = [str(part) for part in error.get("loc", ()) if isinstance(part, str)]
        names = [n for n in names if n not in ("body", "query", "path", "payload", "filters")]
        name = names[-1] if names else "__all__"
        ctx = error.get("ctx") or {}
        message = PYDANTIC_MESSAGES.get(
            error.get("type", ""), lambda ctx: _("Enter a valid value.")
        )
        fields.setdefault(name, message(ctx))
    return error_response(request, 422, "invalid", _("Some fields are not valid."), fields)


def _on_refused(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    if hasattr(exc, "error_dict"):
        fields = {name: " ".join(messages) for name, messages in exc.message_dict.items()}
        message = fields.pop("__all__", "") or _("Some fields are not valid.")
    else:
        fields, message = {}, " ".join(exc.messages)
    return error_response(request, 422, "invalid", message, fields)


def _on_not_found(request: HttpRequest, exc: Any) -> HttpResponse:
    return error_response(request, 404, "not_found", _("Not found."))


def _on_unauthenticated(request: HttpRequest, exc: Any) -> HttpResponse:
    return error_response(
        request,
        401,
        "unauthorized",
        _("Send a valid API token: Authorization: Bearer <token>."),
        headers={"WWW-Authenticate": "Bearer"},
    )


def _on_rate_limited(request: HttpRequest, exc: RateLimited) -> HttpResponse:
    return error_response(
        request,
        429,
        "rate_limited",
        _("Too many requests: at most %(limit)d a minute per token. Try again in %(seconds)d s.")
        % {"limit": rate_limit(), "seconds": exc.retry_after},
        headers={"Retry-After": str(exc.retry_after)},
    )


def _on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 400:  # ninja's only 400: a body that is not JSON
        return error_response(request, 400, "bad_request", _("The request body is not valid JSON."))
    codes = {403: "forbidden", 405: "method_not_allowed"}
    return error_response(
        request, exc.status_code, codes.get(exc.status_code, "error"), str(exc.message)
    )


def _on_crash(request: HttpRequest, exc: Any) -> HttpResponse:
    log.exception("API error on %s %s", request.method, request.path)
    return error_response(
        request, 500, "server_error", _("Something went wrong on our side; nothing was changed.")
    )


api.add_exception_handler(NinjaValidationError, _on_request_invalid)  # type: ignore[arg-type]
api.add_exception_handler(DjangoValidationError, _on_refused)  # type: ignore[arg-type]
api.add_exception_handler(Http404, _on_not_found)
api.add_exception_handler(ObjectDoesNotExist, _on_not_found)
api.add_exception_handler(AuthenticationError, _on_unauthenticated)
api.add_exception_handler(RateLimited, _on_rate_limited)  # type: ignore[arg-type]
api.add_exception_handler(HttpError, _on_http_error)  # type: ignore[arg-type]
api.add_exception_handler(Exception, _on_crash)


# --- Resources ----------------------------------------------------------------------------------

# Mounted at the root: each router spells its full paths (/leads, /leads/{lead_id}/activities).
for resource in (leads, activities, reports, nudges, companies):
    api.add_router("", resource.router)
