"""Who is calling the API: a bearer token, and nothing else (no session cookie, hence no CSRF
to check), limited to a number of requests per minute per token."""

from __future__ import annotations

import datetime as dt
import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils import timezone, translation
from ninja.security import HttpBearer

from api.models import ApiToken
from api.services import TOKEN_PREFIX, token_hash
from crm.models import User

log = logging.getLogger(__name__)
WINDOW_SECONDS = 60
LAST_USED_EVERY = dt.timedelta(minutes=1)


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


def rate_limit() -> int:
    """Requests per minute per token."""
    return int(settings.KAOPU_API_RATE_LIMIT)


def check_rate(token_id: int) -> None:
    """Count one request for the token in the current minute; raise RateLimited over the limit.

    A fixed one-minute window in the cache (Redis when configured, shared by all web
    processes). If the cache is down the request goes through: better than no API at all."""
    now = time.time()
    key = f"api-rate:{token_id}:{int(now // WINDOW_SECONDS)}"
    try:
        cache.add(key, 0, timeout=WINDOW_SECONDS * 2)
        count = cache.incr(key)
    except Exception:
        log.warning("API rate limit not checked: the cache did not answer", exc_info=True)
        return
    if count > rate_limit():
        raise RateLimited(int(WINDOW_SECONDS - now % WINDOW_SECONDS) + 1)


class TokenAuth(HttpBearer):
    """`Authorization: Bearer kp_…` with a live token of an active user."""

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
            return None
        row = (
            ApiToken.objects.select_related("user")
            .filter(key_hash=token_hash(token), revoked_at__isnull=True)
            .first()
        )
        if row is None or not row.user.is_active:
            return None
        user = row.user
        # The same preferences the pages use: messages in the user's language, dates in
        # their zone.
        translation.activate(user.language)
        request.LANGUAGE_CODE = translation.get_language()
        timezone.activate(user.zone)
        request.user = user
        check_rate(row.pk)
        now = timezone.now()
        if row.last_used_at is None or now - row.last_used_at > LAST_USED_EVERY:
            ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
        return user
