"""Template tags for the coach's blocks on the CRM's pages: `{% lead_coach_items lead_id as
items %}` gives the viewer's due nudges on one lead (coaching.cards.lead_card), for the lead
page's one coaching block (templates/coaching/_lead_nudges.html). The CRM includes that
template only while the coach is installed, so crm never imports coaching."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import translation

from coaching.cards import CardItem, lead_card

register = template.Library()


@register.simple_tag(takes_context=True)
def lead_coach_items(context: dict[str, Any], lead_id: int | None) -> list[CardItem]:
    """The signed-in viewer's due nudges on the lead, most important first (one query)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if not lead_id or user is None or not user.is_authenticated:
        return []
    return lead_card(user=user, lead_id=int(lead_id), language=translation.get_language() or "en")
