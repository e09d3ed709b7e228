"""The lead lists against the ceiling, interleaved (issue 22): the rep's, the manager's and the
director's /leads/ (and the rep's htmx region, and the manager's and director's sorted biggest
first) and bench/bare_urls.py's 50-row page, one request
of each per round, so a busy machine slows all alike. Ratios are of medians from the same run.
The ceiling's view is served from the same URLconf as the app's pages (not swapped in per
request), so no page pays for Django's URL caches being rebuilt.

    python bench/lead_lists.py --rounds 20
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kaopu_bench python bench/lead_lists.py

bench/run.py times the same pages one after another (with every other page); this script is
the quick way to see the lead lists alone, e.g. at 10k and at 100k leads. `--pages all` adds
the other pages issue 22 holds to 3× the ceiling (the board for each role, a lead's page with
its 200-entry timeline, My day, the report inbox, the nudge center), timed in the same rounds.
`--explain` prints the plan of every query of those pages that reads crm_lead (EXPLAIN ANALYZE
on PostgreSQL, EXPLAIN QUERY PLAN on SQLite) and stops.

`--save DIR` writes the lists as they render (48 pages: rep, manager, director × en, zh-hans ×
whole page and htmx region × 4 queries: none, page 2, filtered and sorted, nothing found; and
the three people's boards and My days and the timeline lead's page (its newest 50 entries
and `?timeline=all`) in both languages, 72 in all) and
`--check DIR` compares today's with them byte for byte (the CSRF token and CSP nonce aside), to
show a faster rendering changed nothing a person would see. Both switch the three people's
language on the bench copy and put it back.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench import common

VARIANTS = ["", "page=2", "stage=open&sort=-value&source=referral", "q=zz-nothing&owner=none"]
# Per request, not per page: the CSRF token (masked anew each time) and the CSP nonce.


def snapshots(clients: dict[str, Any], people: dict[str, Any]) -> dict[str, str]:
    """The 72 pages by name, in each person's language switched in turn (and put back)."""
    from bench import generate

    pages: dict[str, str] = {}
    for role, user in people.items():
        kept = user.language
        try:
            for language in ("en", "zh-hans"):
                type(user).objects.filter(pk=user.pk).update(language=language)
                for query in VARIANTS:
                    for region, headers in (("page", {}), ("htmx", {"HX-Request": "true"})):
                        response = clients[role].get(f"/leads/?{query}", headers=headers)
                        if response.status_code != 200:
                            raise RuntimeError(f"{role} {query}: {response.status_code}")
                        html = common.SECRETS.sub(r'\1…"', response.content.decode())
                        pages[f"{role}-{language}-{region}-{query or 'first'}.html"] = html
                for name, url in (("board", "/leads/board/"), ("my-day", "/")):
                    response = clients[role].get(url)
                    if response.status_code != 200:
                        raise RuntimeError(f"{role} {name}: {response.status_code}")
                    html = common.SECRETS.sub(r'\1…"', response.content.decode())
                    pages[f"{name}-{role}-{language}.html"] = html
                for query in ("", "?timeline=all"):  # a lead's page: its 50 newest, its 1,000
                    response = clients[role].get(f"/leads/{generate.TIMELINE_LEAD_ID}/{query}")
                    if response.status_code != 200:
                        raise RuntimeError(f"{role} lead page{query}: {response.status_code}")
                    html = common.SECRETS.sub(r'\1…"', response.content.decode())
                    pages[f"lead-{role}-{language}{query.replace('?', '-')}.html"] = html
        finally:
            type(user).objects.filter(pk=user.pk).update(language=kept)
    return pages


def explain(name: str, request: Any) -> None:
    """The plan of each query `request()` makes that reads crm_lead, as the page sent it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        request()
    postgres = connection.vendor == "postgresql"
    for number, query in enumerate(ctx.captured_queries, 1):
        sql = query["sql"]
        if '"crm_lead"' not in sql or not sql.startswith(("SELECT", "WITH")):
            continue
        with connection.cursor() as cursor:
            if postgres:
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
                plan = "\n".join(f"    {row[0]}" for row in cursor.fetchall())
            else:
                cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
                plan = "\n".join(f"    {row[3]}" for row in cursor.fetchall())
        print(f"--- {name}, query {number} ({float(query['time']) * 1000:.1f} ms)\n    {sql[:600]}")
        print(plan, flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--save", type=Path, help="write the 72 pages here and stop")
    parser.add_argument("--check", type=Path, help="compare the 72 pages with these and stop")
    parser.add_argument(
        "--pages",
        choices=["lists", "all"],
        default="lists",
        help="the lead lists alone, or with the board, lead page, My day, inbox, nudge center",
    )
    parser.add_argument("--explain", action="store_true", help="print the pages' plans and stop")
    args = parser.parse_args(argv)
    config = common.bootstrap(migrate=False)
    print(f"bench database: {config['ENGINE'].rsplit('.', 1)[-1]} {config['NAME']}", flush=True)

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bench import generate
    from crm.models import Lead, User
    from crm.permissions import visible_leads

    people = {
        "rep": User.objects.get(username=generate.BENCH_REP),
        "manager": User.objects.get(username=generate.BENCH_MANAGER),
        "director": User.objects.get(username=generate.BENCH_DIRECTOR),
    }
    clients: dict[str, Any] = {}
    for role, user in people.items():
        client = Client(SERVER_NAME="127.0.0.1")
        client.force_login(user)
        clients[role] = client
    if args.save or args.check:
        pages_now = snapshots(clients, people)
        common.save_or_check(args.save or args.check, pages_now, check=bool(args.check))
        return
    pages = [
        ("bare_50_rows", "rep", "/bare/", {}),
        ("lead_list_rep", "rep", "/leads/", {}),
        ("lead_list_rep_htmx", "rep", "/leads/", {"HX-Request": "true"}),
        ("lead_list_manager", "manager", "/leads/", {}),
        ("lead_list_director", "director", "/leads/", {}),
        # Biggest first: each team's stages walked down to the page (crm.selectors.walks).
        ("list_manager_value", "manager", "/leads/?sort=-value", {}),
        ("list_director_value", "director", "/leads/?sort=-value", {}),
    ]
    if args.pages == "all" or args.explain:
        pages += [
            ("board_rep", "rep", "/leads/board/", {}),
            ("board_manager", "manager", "/leads/board/", {}),
            ("board_director", "director", "/leads/board/", {}),
            ("lead_detail_200", "rep", f"/leads/{generate.TIMELINE_LEAD_ID}/", {}),
            ("my_day_rep", "rep", "/", {}),
            ("my_day_manager", "manager", "/", {}),
            ("report_inbox_manager", "manager", "/reports/inbox/", {}),
            ("nudge_center_rep", "rep", "/coach/", {}),
            ("nudge_center_manager", "manager", "/coach/", {}),
        ]

    def get(name: str, role: str, url: str, headers: dict[str, str]) -> Any:
        response = clients[role].get(url, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"{name}: {response.status_code}")
        return response

    common.serve_ceiling_beside_app()  # the ceiling's /bare/ beside the app, one URLconf
    if args.explain:
        for page in pages[1:]:
            explain(page[0], lambda page=page: get(*page))
        return

    for page in pages:  # warm-up
        for _ in range(3):
            get(*page)
    wall: dict[str, list[float]] = {p[0]: [] for p in pages}
    cpu: dict[str, list[float]] = {p[0]: [] for p in pages}
    for _ in range(args.rounds):
        for page in pages:
            started, started_cpu = time.perf_counter(), time.process_time()
            get(*page)
            wall[page[0]].append((time.perf_counter() - started) * 1000)
            cpu[page[0]].append((time.process_time() - started_cpu) * 1000)
    queries = {}
    for page in pages:
        with CaptureQueriesContext(connection) as ctx:
            get(*page)
        queries[page[0]] = len(ctx.captured_queries)
    leads = {role: visible_leads(user).count() for role, user in people.items()}
    print(f"leads: {Lead.objects.count():,} in all; visible: {leads}")
    base, base_cpu = statistics.median(wall["bare_50_rows"]), statistics.median(cpu["bare_50_rows"])
    print(
        f"{'page':<20} {'median':>8} {'p10–p90 ms':>15} {'× bare':>7} {'cpu ms':>7} {'× cpu':>6} q"
    )
    for name, times in wall.items():
        ordered = sorted(times)
        median, median_cpu = statistics.median(times), statistics.median(cpu[name])
        p10, p90 = ordered[len(ordered) // 10], ordered[(len(ordered) * 9) // 10]
        print(
            f"{name:<20} {median:>8.1f} {p10:>7.1f}–{p90:<7.1f} {median / base:>7.2f} "
            f"{median_cpu:>7.1f} {median_cpu / base_cpu:>6.2f} {queries[name]}"
        )


if __name__ == "__main__":
    main()
