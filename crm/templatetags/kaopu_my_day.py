"""`{% my_day_items "due" %}` (or "stalled", "handoffs"): My day's lists written in Python
(crm/views/my_day_items.py), from the page's context: the list, the reader and today."""

from __future__ import annotations

from django import template
from django.template.context import Context
from django.utils.safestring import SafeString

from crm.views.my_day_items import due_items, handoff_items, stalled_items

register = template.Library()


@register.simple_tag(takes_context=True)
def my_day_items(context: Context, which: str) -> SafeString:
    reader = getattr(context.get("user"), "pk", None)
    if which == "due":
        return due_items(context["due"], user_id=reader, today=context["today"])
    if which == "stalled":
        return stalled_items(context["stalled"], user_id=reader)
    if which == "handoffs":
        return handoff_items(context["handoffs"])
    raise template.TemplateSyntaxError(f"my_day_items: no list {which!r}")
