"""The coach's part of every page: the bell's count.

`coach_enabled` is the CRM templates' switch for the coach's links (the bell, the team pages, the
hand-off suggestion): it is only ever true, but it exists only while this app is installed, so
the CRM's templates render without the coach (crm never imports coaching).
"""

from typing import Any

from django.http import HttpRequest

from coaching.cards import open_card_count


def coach(request: HttpRequest) -> dict[str, Any]:
    """The bell's count of open cards on every page (one query), as the polled bell shows it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"coach_enabled": True, "nudge_count": open_card_count(user=user)}  # type: ignore[arg-type]
