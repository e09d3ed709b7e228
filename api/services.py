"""Writes for API tokens: create one (the only moment the token is seen) and revoke it."""

from __future__ import annotations

import hashlib
import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from api.models import ApiToken
from crm import audit
from crm.models import User

TOKEN_PREFIX = "kp_"
MAX_LIVE_TOKENS = 10


def token_hash(token: str) -> str:
    """Tokens are 256 random bits, so a plain SHA-256 is as good as a slow password hash."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@transaction.atomic
def token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """Make a token for `user`. Returns the row and the token, which is never shown again."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": _("Name the token after the tool that will use it.")})
    live = ApiToken.objects.select_for_update().filter(user=user, revoked_at__isnull=True)
    if live.count() >= MAX_LIVE_TOKENS:
        raise ValidationError(
            _("You have %(count)d tokens; revoke one you no longer use first.")
            % {"count": MAX_LIVE_TOKENS}
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken.objects.create(
        user=user, name=name[:100], prefix=token[:10], key_hash=token_hash(token)
    )
    audit.record(actor=user, action="api_token.created", obj=row, summary=row.name)
    return row, token


@transaction.atomic
def token_revoke(*, user: User, token: ApiToken) -> ApiToken:
    """Revoke one of the user's own tokens; it stops working at once."""
    row = ApiToken.objects.select_for_update().get(pk=token.pk, user=user)
    if row.revoked_at is None:
        row.revoked_at = timezone.now()
        row.save(update_fields=["revoked_at"])
        audit.record(actor=user, action="api_token.revoked", obj=row, summary=row.name)
    return row
