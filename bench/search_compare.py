"""The search page (/search/?q=…, crm.selectors.search) at the bench dataset's size, for each role
and kind of term: the whole page through Django's test client, then each of its four queries
alone. Runs are interleaved (one round visits every case, then the next round), so a change of
the machine's load falls on every case alike; each figure is the median of the rounds with
its spread (the middle half, then the slowest), and the machine's load is printed with them.
See bench/README.md, "Search from anywhere".

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kaopu_bench python bench/search_compare.py
    python bench/search_compare.py --rounds 9      # SQLite, var/bench.sqlite3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench import common

SUBJECTS = {"rep": "bench.rep001", "manager": "bench.manager01", "+2": "bench.director1"}
# (role, term): two Chinese characters (too short for a trigram), four, English, phone digits,
# one character (a surname: in the contacts' names, not the companies')
CASES = [
    ("rep", "宏达"),
    ("rep", "宏达物流"),
    ("rep", "王"),
    ("manager", "宏达"),
    ("manager", "宏达物流"),
    ("manager", "logistics"),
    ("manager", "0001"),
    ("manager", "王"),
    ("+2", "宏达"),
    ("+2", "宏达物流"),
    ("+2", "logistics"),
    ("+2", "0001"),
    ("+2", "王"),
]
# The header's box asks for the results region only (htmx): the same queries, less template
FRAGMENTS = [("+2", "宏达"), ("+2", "王")]
KINDS = ("leads", "companies", "contacts", "reports")


def spread(samples: list[float]) -> str:
    q1, median, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    return f"{median:7.1f} ms  [{q1:.1f}–{q3:.1f}, max {max(samples):.1f}]"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def interleaved(
    cases: dict[str, Callable[[], Any]], *, rounds: int, warmup: int
) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for i in range(warmup + rounds):
        for name, run in cases.items():
            start = time.perf_counter()
            run()
            if i >= warmup:
                samples[name].append((time.perf_counter() - start) * 1000)
    return samples


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args(argv)
    common.bootstrap(migrate=False)
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from crm.models import Lead, User
    from crm.selectors import search

    users = {role: User.objects.get(username=name) for role, name in SUBJECTS.items()}
    clients = {}
    for role, user in users.items():
        clients[role] = Client(SERVER_NAME="127.0.0.1")
        clients[role].force_login(user)

    def page(role: str, term: str, htmx: bool = False) -> Callable[[], Any]:
        url = "/search/?" + urlencode({"q": term})
        headers = {"HX-Request": "true"} if htmx else {}

        def get() -> None:
            response = clients[role].get(url, headers=headers)
            assert response.status_code == 200, response.status_code

        return get

    def kind(role: str, term: str, name: str) -> Callable[[], Any]:
        select = getattr(search, f"search_{name}")
        return lambda: list(select(user=users[role], term=term, scope=search.Scope.of(users[role])))

    print(f"{connection.vendor}, {Lead.objects.count():,} leads; load before: {load()}", flush=True)
    pages = {f"{role:8} {term}": page(role, term) for role, term in CASES}
    pages |= {f"{role:8} {term} (htmx)": page(role, term, htmx=True) for role, term in FRAGMENTS}
    counts = {}
    for (role, term), name in zip([*CASES, *FRAGMENTS], pages, strict=True):
        pages[name]()
        with CaptureQueriesContext(connection) as captured:
            pages[name]()
        counts[name] = (len(captured), search.site_search(user=users[role], q=term))
    print(f"\nThe page, median of {args.rounds} interleaved rounds [middle half, slowest]:")
    for name, samples in interleaved(pages, rounds=args.rounds, warmup=args.warmup).items():
        queries, found = counts[name]
        shown = "/".join(str(len(getattr(found, k))) for k in KINDS)
        print(f"  {name:24} {spread(samples)}  {queries} queries, shown {shown}")
    queries_alone = {
        f"{role:8} {term:10} {name}": kind(role, term, name)
        for role, term in CASES
        for name in KINDS
    }
    print("\nEach kind's query alone (with Scope.of, one query for a manager or a +2):")
    for name, samples in interleaved(queries_alone, rounds=args.rounds, warmup=args.warmup).items():
        print(f"  {name:32} {spread(samples)}")
    print(f"\nload after: {load()}")


if __name__ == "__main__":
    main()
