"""Template tags for the coach's blocks on the CRM's pages: `{% lead_coach_items lead_id as
items %}` gives the viewer's due nudges on one lead (coaching.cards.lead_card), for the lead
page's one coaching block (templates/coaching/_lead_nudges.html). The CRM includes that
template only while the coach is installed, so crm never imports coaching."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import translation

from coaching.cards import CardItem, lead_card
from coaching.context_processors import LEAD_PAGE_ITEMS

register = template.Library()


@register.simple_tag(takes_context=True)
def lead_coach_items(context: dict[str, Any], lead_id: int | None) -> list[CardItem]:
    """The signed-in viewer's due nudges on the lead, most important first (one query; none on
    the lead's page, where they come with the bell's count)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if not lead_id or user is None or not user.is_authenticated:
        return []
    language = translation.get_language() or "en"
    # Read already on the lead's page, with the bell's count (coaching.context_processors).
    read = getattr(request, LEAD_PAGE_ITEMS, {}).get((int(lead_id), language))
    if read is not None:
        return list(read)
    return lead_card(user=user, lead_id=int(lead_id), language=language)
