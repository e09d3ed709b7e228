"""The lead list's 50 rows rendered four ways, to choose on figures (issue 22): what a cached
fragment, a leaner row template or Jinja2 would give over the row template as it was.

    python bench/list_render.py                  # SQLite var/bench.sqlite3, 300 interleaved rounds
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kaopu_bench python bench/list_render.py

The same 50 leads (the manager's first page, fetched once) go through:

- `include`: the rows as they were: `{% for %}` over an `{% include %}` of the row template
  (bench/list_render/lead_row_before.html, crm/_lead_row.html until issue 22),
  with `get_stage_display` / `get_source_display` per row (Django rebuilds a dict of the
  choices on every call);
- `lean`: the same row written inside the loop (no include, no per-row `{% load %}`), its
  labels looked up in a dict made once per page (the template now in use);
- `cached`: `include`, each row in `{% cache %}` keyed by the lead, its `updated_at` and the
  language (locmem cache, every row a hit after the first round: the best case for caching);
- `jinja2`: the row in Jinja2 (with `url` and `_` as globals), when jinja2 is importable
  (it is not a dependency: `pip install jinja2` to measure it).

Every way's HTML is checked equal to `include`'s (after whitespace is normalised) before any is
timed. Rounds interleave the ways; a figure is the median render time with its spread
(10th–90th percentile), and the share of the time of `include`.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench import common

ROWS_INCLUDE = "{% for lead in page.object_list %}{% include row %}{% endfor %}"
ROWS_CACHED = (
    "{% load cache %}{% for lead in page.object_list %}"
    "{% cache 600 lead_row lead.pk lead.updated_at LANGUAGE_CODE %}"
    "{% include row %}{% endcache %}{% endfor %}"
)

TEMPLATES = common.ROOT / "bench" / "list_render"
# The row as it was before issue 22 (an include per row, get_FOO_display), and the Jinja2 port.
ROW_BEFORE = (TEMPLATES / "lead_row_before.html").read_text()
JINJA_ROWS = (TEMPLATES / "lead_rows.jinja").read_text().rstrip("\n")


def normalised(html: str) -> str:
    return re.sub(r"\s+", " ", html).strip()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--who", default="manager", choices=["rep", "manager", "director"])
    parser.add_argument("--language", default="zh-hans")
    args = parser.parse_args(argv)
    config = common.bootstrap(migrate=False)
    print(f"bench database: {config['ENGINE'].rsplit('.', 1)[-1]} {config['NAME']}", flush=True)

    from django.conf import settings
    from django.core.paginator import Paginator
    from django.template import engines
    from django.template.defaultfilters import date as date_filter
    from django.template.defaultfilters import floatformat, truncatechars
    from django.test import override_settings
    from django.urls import reverse
    from django.utils import timezone, translation

    from bench import generate
    from crm import selectors
    from crm.labels import choice_labels
    from crm.models import Source, User
    from crm.pipeline import Stage

    username = {
        "rep": generate.BENCH_REP,
        "manager": generate.BENCH_MANAGER,
        "director": generate.BENCH_DIRECTOR,
    }[args.who]
    user = User.objects.get(username=username)
    leads = selectors.lead_list(user=user, filters=selectors.LeadFilters())
    page = Paginator(leads, settings.KAOPU_PAGE_SIZE).get_page(1)
    objects = list(page.object_list)
    django_engine = engines["django"]

    ways: dict[str, Callable[[], str]] = {}
    context = {
        "page": page,
        "LANGUAGE_CODE": args.language,
        "row": django_engine.from_string(ROW_BEFORE),
    }

    include = django_engine.from_string(ROWS_INCLUDE)
    ways["include"] = lambda: include.render(context)

    lean = django_engine.from_string(
        "{% load i18n %}{% for lead in page.object_list %}"
        + ROW_BEFORE.replace("{% load i18n %}", "")
        .replace("lead.get_stage_display", "lead.stage_label")
        .replace("lead.get_source_display", "lead.source_label")
        + "{% endfor %}"
    )
    lean_context = {"page": Paginator(objects, settings.KAOPU_PAGE_SIZE).get_page(1)}

    def with_labels(leads: list[Any]) -> None:
        """The labels from one dict per page (what the view did before crm/views/lead_rows.py)."""
        stages, sources = choice_labels(Stage.choices), choice_labels(Source.choices)
        for lead in leads:
            lead.stage_label = stages.get(lead.stage, lead.stage)
            lead.source_label = sources.get(lead.source, lead.source)

    def render_lean() -> str:
        with_labels(objects)  # what the view did once per page
        return lean.render(lean_context)

    ways["lean"] = render_lean

    with override_settings(
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    ):
        cached = django_engine.from_string(ROWS_CACHED)
        ways["cached"] = lambda: cached.render(context)
        try:
            import jinja2
        except ImportError:
            print("jinja2 is not installed: its way is left out", flush=True)
        else:
            from crm.models import Source
            from crm.pipeline import Stage

            env = jinja2.Environment(autoescape=True)
            jinja = env.from_string(JINJA_ROWS)

            def render_jinja() -> str:
                stages = {k: str(v) for k, v in Stage.choices}
                sources = {k: str(v) for k, v in Source.choices}
                return jinja.render(
                    leads=objects,
                    stages=stages,
                    sources=sources,
                    url=lambda name, *a: reverse(name, args=a),
                    _=lambda text: translation.gettext(text),
                    money=lambda v: floatformat(v, "0g"),
                    truncate=lambda t: truncatechars(t, 40),
                    day=lambda d: date_filter(timezone.localtime(d), "Y-m-d"),
                )

            ways["jinja2"] = render_jinja

        with translation.override(args.language):
            reference = normalised(ways["include"]())
            for name, render in ways.items():
                got = normalised(render())
                if got != reference:
                    at = next(
                        (i for i, (a, b) in enumerate(zip(got, reference, strict=False)) if a != b),
                        min(len(got), len(reference)),
                    )
                    raise SystemExit(
                        f"{name} differs from include at {at}:\n"
                        f"  {name}: …{got[at - 80 : at + 80]}\n"
                        f"  include: …{reference[at - 80 : at + 80]}"
                    )
            print(f"all ways render the same {len(reference):,} characters", flush=True)
            samples: dict[str, list[float]] = {name: [] for name in ways}
            for _ in range(20):
                for render in ways.values():
                    render()
            for _ in range(args.rounds):
                for name, render in ways.items():
                    started = time.perf_counter()
                    render()
                    samples[name].append((time.perf_counter() - started) * 1000)

    base = statistics.median(samples["include"])
    print(f"\n{len(objects)} rows, {args.who}, {args.language}, {args.rounds} interleaved rounds")
    print(f"{'way':<10} {'median ms':>10} {'p10–p90 ms':>14} {'× include':>10}")
    for name, times in samples.items():
        ordered = sorted(times)
        p10, p90 = ordered[len(ordered) // 10], ordered[(len(ordered) * 9) // 10]
        median = statistics.median(times)
        print(f"{name:<10} {median:>10.2f} {p10:>6.2f}–{p90:<7.2f} {median / base:>10.2f}")


if __name__ == "__main__":
    main()
