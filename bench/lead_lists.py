"""The lead lists against the ceiling, interleaved (issue 22): the rep's, the manager's and the
director's /leads/ (and the rep's htmx region) and bench/bare_urls.py's 50-row page, one request
of each per round, so a busy machine slows all alike. Ratios are of medians from the same run.

    python bench/lead_lists.py --rounds 20
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kaopu_bench python bench/lead_lists.py

bench/run.py times the same pages one after another (with every other page); this script is
the quick way to see the lead lists alone, e.g. at 10k and at 100k leads.
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)
    config = common.bootstrap(migrate=False)
    print(f"bench database: {config['ENGINE'].rsplit('.', 1)[-1]} {config['NAME']}", flush=True)

    from django.db import connection
    from django.test import Client, override_settings
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
    pages = [
        ("bare_50_rows", "rep", "/bare/", {}),
        ("lead_list_rep", "rep", "/leads/", {}),
        ("lead_list_rep_htmx", "rep", "/leads/", {"HX-Request": "true"}),
        ("lead_list_manager", "manager", "/leads/", {}),
        ("lead_list_director", "director", "/leads/", {}),
    ]

    def get(name: str, role: str, url: str, headers: dict[str, str]) -> Any:
        if name == "bare_50_rows":
            with override_settings(ROOT_URLCONF="bench.bare_urls"):
                response = clients[role].get(url, headers=headers)
        else:
            response = clients[role].get(url, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"{name}: {response.status_code}")
        return response

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
