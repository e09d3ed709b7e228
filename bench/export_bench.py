"""The lead export at 100k rows (issue 22): CSV and XLSX through the real view, for a manager
(5,000 leads), a director (50,000) and the admin (all 100,000), in time and in memory.

    python bench/export_bench.py                        # SQLite var/bench.sqlite3
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kaopu_bench python bench/export_bench.py
    python bench/export_bench.py --rounds 5 --formats csv
    python bench/export_bench.py --formats rows,csv,xlsx --who admin   # where the time goes

"rows" is not a download: it reads the export's rows (the query and the typed cells, what CSV
and XLSX share) and writes nothing, so CSV or XLSX minus "rows" is the writer's own time.

Each round downloads every (person, format) once, in turn, so that a busier moment on a shared
machine weighs on all of them; a figure is the median of the rounds with its spread (min–max).
Time runs from the request to the last byte of the streamed body (the test client, in-process,
signed in with force_login). Memory: the process's peak resident size (ru_maxrss) after each
download of the first round, which goes from the smallest export to the largest: with constant
memory it stays where the first (5,000-row) export left it.
The export writes an audit row per download; the script deletes the ones it made.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench import common


def download(client: Any, url: str) -> int:
    response = client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}")
    if response.streaming:
        size = sum(len(chunk) for chunk in response.streaming_content)
    else:
        size = len(response.content)
    response.close()
    return size


def read_rows(user: Any) -> int:
    """The export's rows without a writer: the lead list's query and the typed cells."""
    from crm import exports, selectors

    leads = selectors.lead_list(user=user, filters=selectors.LeadFilters.from_params({}))
    return sum(1 for _ in exports.rows(leads))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--formats", default="csv,xlsx")
    parser.add_argument("--who", default="manager,director,admin")
    args = parser.parse_args(argv)
    config = common.bootstrap(migrate=False)
    print(f"bench database: {config['ENGINE'].rsplit('.', 1)[-1]} {config['NAME']}", flush=True)

    from django.test import Client
    from django.urls import reverse

    from bench import generate
    from crm.models import AuditEntry, Lead, Role, User
    from crm.permissions import visible_leads

    people = {
        "manager": User.objects.get(username=generate.BENCH_MANAGER),
        "director": User.objects.get(username=generate.BENCH_DIRECTOR),
        "admin": User.objects.filter(role=Role.ADMIN).order_by("pk")[0],
    }
    who = [w for w in args.who.split(",") if w]
    formats = [f for f in args.formats.split(",") if f]
    clients = {}
    for name in who:
        client = Client(SERVER_NAME="127.0.0.1")  # as bench/run.py: an allowed host
        client.force_login(people[name])
        clients[name] = client
    rows = {name: visible_leads(people[name]).count() for name in who}
    print(f"leads in the database: {Lead.objects.count():,}", flush=True)
    started_audit = AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    samples: dict[tuple[str, str], list[float]] = {(w, f): [] for w in who for f in formats}
    sizes: dict[tuple[str, str], int] = {}
    peaks: dict[tuple[str, str], float] = {}
    try:
        for name in who:  # warm-up: imports, templates, the first connection
            for fmt in (f for f in formats if f != "rows"):
                download(clients[name], reverse(f"lead-export-{fmt}") + "?stage=won")
        for round_no in range(args.rounds):
            for fmt in formats:
                for name in who:
                    started = time.perf_counter()
                    if fmt == "rows":
                        sizes[(name, fmt)] = 0
                        read_rows(people[name])
                    else:
                        sizes[(name, fmt)] = download(clients[name], reverse(f"lead-export-{fmt}"))
                    samples[(name, fmt)].append(time.perf_counter() - started)
                    if round_no == 0:  # the process's high-water mark so far, in MB
                        peaks[(name, fmt)] = (
                            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                        )
            print(f"round {round_no + 1}/{args.rounds} done", flush=True)
    finally:
        AuditEntry.objects.filter(pk__gt=started_audit, action="lead.exported").delete()

    print()
    print(
        f"{'export':<16} {'rows':>8} {'median s':>9} {'spread s':>13} {'rows/s':>8} "
        f"{'MB out':>7} {'max RSS':>8}"
    )
    for fmt in formats:
        for name in who:
            times = samples[(name, fmt)]
            median = statistics.median(times)
            print(
                f"{fmt + ' ' + name:<16} {rows[name]:>8,} {median:>9.2f} "
                f"{min(times):>6.2f}–{max(times):<6.2f} {rows[name] / median:>8,.0f} "
                f"{sizes[(name, fmt)] / 2**20:>7.1f} {peaks[(name, fmt)]:>8.1f}"
            )


if __name__ == "__main__":
    main()
