"""`{% fragment a b … %}…{% endfragment %}`: a part of a page rendered once per process for each
set of the values it names, then reused (issue 22: the layout's nav and the filter bar cost more
than the 50 rows of a list).

What goes inside must depend only on the named values and the active language (always part of
the key): translations, `{% url %}` and `{% static %}` are fixed while a process runs; a
per-request value (the CSRF token, a nonce, a count, the user's name) must stay outside, or be
named. A deploy restarts the processes and with them every stored fragment; so does a template
edited under `runserver` (the template loader is reset, and each template node keeps its own
store). Nothing is shared between processes, so nothing can be stale across them.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.template.base import FilterExpression, Node, NodeList, Parser, Token
from django.template.context import Context
from django.utils.safestring import SafeString
from django.utils.translation import get_language

register = template.Library()

# Past this many variants of one fragment the store starts again: a bound on memory whatever
# values a page names (a filter bar keyed by its choices can have many).
LIMIT = 256


class FragmentNode(Node):
    def __init__(self, nodelist: NodeList, vary_on: list[FilterExpression]) -> None:
        self.nodelist = nodelist
        self.vary_on = vary_on
        self.store: dict[tuple[Any, ...], SafeString] = {}

    def render(self, context: Context) -> SafeString:
        key = (get_language(), *(value.resolve(context) for value in self.vary_on))
        html = self.store.get(key)
        if html is None:
            html = SafeString(self.nodelist.render(context))
            if len(self.store) >= LIMIT:
                self.store.clear()
            self.store[key] = html
        return html


@register.tag("fragment")
def do_fragment(parser: Parser, token: Token) -> FragmentNode:
    """`{% fragment value … %}`: the values the fragment's HTML depends on (hashable)."""
    vary_on = [parser.compile_filter(bit) for bit in token.split_contents()[1:]]
    nodelist = parser.parse(("endfragment",))
    parser.delete_first_token()
    return FragmentNode(nodelist, vary_on)
