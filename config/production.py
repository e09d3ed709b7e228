"""What a server refuses to start without.

The settings fall back to a public development key so that tests and `make run` need no set-up.
A server must never sign sessions or password-reset links with it: the WSGI/ASGI application and
the Celery worker and beat call `require_secret_key()` when they start, and `check --deploy`
reports the same problem as an error (kaopu.E001).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register
from django.core.exceptions import ImproperlyConfigured

MISSING_KEY = (
    "DJANGO_SECRET_KEY is not set, and DEBUG is off: Kaopu will not sign sessions and "
    "password-reset links with the public development key. Set DJANGO_SECRET_KEY to a long "
    "random value (for example the output of: python -c "
    '"import secrets; print(secrets.token_urlsafe(50))"), or DJANGO_DEBUG=1 on a laptop.'
)


def require_secret_key() -> None:
    """Stop a server or worker from starting on the public development key."""
    if settings.KAOPU_SECRET_KEY_MISSING and not settings.DEBUG:
        raise ImproperlyConfigured(MISSING_KEY)


@register(Tags.security, deploy=True)
def secret_key_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """`manage.py check --deploy`: a missing DJANGO_SECRET_KEY is an error, not a warning."""
    if settings.KAOPU_SECRET_KEY_MISSING:
        return [Error(MISSING_KEY, id="kaopu.E001")]
    return []
