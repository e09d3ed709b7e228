"""Activate the signed-in user's language and time zone for the request.

Before signing in, `?lang=zh-hans` or `?lang=en` picks the language and remembers it in
Django's language cookie.
"""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation


def _chosen_language(request: HttpRequest) -> str | None:
    """The language a visitor picked with `?lang=`, if it is one the site speaks."""
    chosen = request.GET.get("lang")
    return chosen if chosen in {code for code, _name in settings.LANGUAGES} else None


class UserPreferencesMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        chosen = _chosen_language(request)
        if user.is_authenticated:
            translation.activate(user.language)
            timezone.activate(user.zone)
        else:
            timezone.deactivate()
            if chosen:
                translation.activate(chosen)
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        if not user.is_authenticated and chosen:
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                chosen,
                max_age=365 * 24 * 3600,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
        return response


class AuditContextMiddleware:
    """Remember the client's address for the audit trail while the request runs.

    REMOTE_ADDR is the address that connected; behind a trusted proxy set
    DJANGO_BEHIND_PROXY and let the proxy (or gunicorn's forwarded-allow-ips) set it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from crm.audit import current_ip

        token = current_ip.set(request.META.get("REMOTE_ADDR") or None)
        try:
            return self.get_response(request)
        finally:
            current_ip.reset(token)
