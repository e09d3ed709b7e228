"""Who is calling the API: a bearer token, and nothing else (no session cookie, hence no CSRF
to check), limited to a number of requests per minute per token."""

from __future__ import annotations

import datetime as dt
import logging
import threading
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


# After the cache fails to answer, count in this process for a while instead of asking it
# again: a hung Redis costs one request one short socket timeout, not every request.
CACHE_PAUSE_SECONDS = 30.0


class _LocalCounts:
    """This process's own per-token counts, used while the shared cache is not answering."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.down_until = 0.0
        self.counts: dict[str, int] = {}

    def incr(self, key: str) -> int:
        with self.lock:
            if len(self.counts) > 10_000:
                self.counts.clear()
            self.counts[key] = self.counts.get(key, 0) + 1
            return self.counts[key]


_local = _LocalCounts()


def check_rate(token_id: int) -> None:
    """Count one request for the token in the current minute; raise RateLimited over the limit.

    A fixed one-minute window in the cache (Redis when configured, shared by all web
    processes), asked with a short socket timeout (config.settings CACHES). When it does not
    answer, this process counts on its own for CACHE_PAUSE_SECONDS before asking it again:
    the API keeps answering at its normal speed, still limited, per process."""
    now = time.time()
    key = f"api-rate:{token_id}:{int(now // WINDOW_SECONDS)}"
    if now < _local.down_until:
        count = _local.incr(key)
    else:
        try:
            cache.add(key, 0, timeout=WINDOW_SECONDS * 2)
            count = cache.incr(key)
        except Exception:
            log.warning(
                "API rate limit counted in this process for %.0f s: the cache did not answer",
                CACHE_PAUSE_SECONDS,
                exc_info=True,
            )
            _local.down_until = time.time() + CACHE_PAUSE_SECONDS
            count = _local.incr(key)
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
