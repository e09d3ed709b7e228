"""The ceiling for the page figures: a bare Django view rendering a 50-row table.

It goes through the same test client and middleware stack as the real pages, signed in (so
the session and the user are loaded), and renders one template of 50 rows shaped like the
lead list's (a link reversed per row, a number and a date filter per row) from data in memory:
no query of its own, no context processors, no base layout. bench/run.py swaps it in with
override_settings(ROOT_URLCONF="bench.bare_urls").
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import path

TEMPLATE = engines["django"].from_string(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Leads</title></head>
<body><main><h1>Leads</h1>
<table class="leads">
<thead><tr><th>Company</th><th>Stage</th><th>Value</th><th>Owner</th><th>Source</th>
<th>Next step</th><th>Updated</th></tr></thead>
<tbody>
{% for row in rows %}<tr>
<td><a href="{% url 'bare-row' row.pk %}">{{ row.company }}</a><div>{{ row.contact }}</div></td>
<td><span class="stage stage-{{ row.stage }}">{{ row.stage|title }}</span></td>
<td class="num">{{ row.currency }} {{ row.value|floatformat:"0g" }}</td>
<td>{{ row.owner }}</td><td>{{ row.source }}</td>
<td>{{ row.next_step|truncatechars:40 }} {{ row.due|date:"Y-m-d" }}</td>
<td>{{ row.updated|date:"Y-m-d" }}</td>
</tr>{% endfor %}
</tbody></table></main></body></html>"""
)

NOW = dt.datetime(2026, 11, 1, 9, 30, tzinfo=dt.UTC)
ROWS = [
    {
        "pk": n,
        "company": f"华东机械有限公司 {n}",
        "contact": "王伟",
        "stage": "proposal",
        "currency": "CNY",
        "value": Decimal(120_000 + n),
        "owner": "李娜 001",
        "source": "Trade show",
        "next_step": "Call back about the revised quote 回访报价",
        "due": NOW.date(),
        "updated": NOW,
    }
    for n in range(1, 51)
]


def bare(request: HttpRequest) -> HttpResponse:
    return HttpResponse(TEMPLATE.render({"rows": ROWS}))


def row(request: HttpRequest, pk: int) -> HttpResponse:
    return HttpResponse(str(pk))


urlpatterns = [
    path("bare/", bare, name="bare"),
    path("bare/<int:pk>/", row, name="bare-row"),
]
