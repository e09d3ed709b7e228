"""The coach's part of every page: the bell's count.

`coach_enabled` is the CRM templates' switch for the coach's links (the bell, the team pages, the
hand-off suggestion): it is only ever true, but it exists only while this app is installed, so
the CRM's templates render without the coach (crm never imports coaching).
"""

from typing import Any

from django.http import HttpRequest
from django.utils import translation

from coaching.cards import lead_card_and_count, open_card_count

# The lead's page shows the coach's block on its lead (templates/coaching/_lead_nudges.html);
# its nudges are read with the bell's count and kept on the request for the block, here:
LEAD_PAGE_ITEMS = "coach_lead_items"


def coach(request: HttpRequest) -> dict[str, Any]:
    """The bell's count of open cards on every page (one query), as the polled bell shows it.
    On a lead's page, the same query reads the viewer's nudges on the lead for its block
    (coaching.templatetags.coach_cards): one round trip, not two."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    match = getattr(request, "resolver_match", None)
    if match is not None and match.view_name == "lead-detail" and "pk" in match.kwargs:
        lead_id, language = int(match.kwargs["pk"]), translation.get_language() or "en"
        count, items = lead_card_and_count(user=user, lead_id=lead_id, language=language)  # type: ignore[arg-type]
        setattr(request, LEAD_PAGE_ITEMS, {(lead_id, language): items})
        return {"coach_enabled": True, "nudge_count": count}
    return {"coach_enabled": True, "nudge_count": open_card_count(user=user)}  # type: ignore[arg-type]
