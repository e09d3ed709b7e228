"""The calendar feed at 100k leads: how long one person's feed takes to build and serve, for the
rep, the manager and the director with the most open leads (issue 17).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kaopu_bench_d \\
        flock /tmp/kaopu/bench.lock .venv/bin/python bench/calendar_bench.py --runs 15

Uses a bench database (its name must contain "bench") that already holds the generated company
(bench/generate.py) and migration crm 0011. It turns on the three people's feeds (writes their
calendar_token) and leaves them on. Prints one line per person: the median and p90 over
interleaved runs, the spread, the queries, the events and the size of the file.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count, Q  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from crm.calendar import calendar_link_reset, feed_token  # noqa: E402
from crm.models import Role, User  # noqa: E402
from crm.pipeline import OPEN_STAGES  # noqa: E402


def busiest(role: str, through: str) -> User:
    open_leads = Q(**{f"{through}__stage__in": OPEN_STAGES})
    found = (
        User.objects.filter(role=role, is_active=True)
        .annotate(n=Count(through, filter=open_leads))
        .order_by("-n")
        .values_list("pk", flat=True)
        .first()
    )
    assert found is not None, f"no active {role} in this database"
    return User.objects.get(pk=found)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    name = str(settings.DATABASES["default"]["NAME"])
    if "bench" not in name:
        sys.exit(f"refusing {name}: the database name must contain 'bench'")
    people = {
        "rep": busiest(Role.REP, "owned_leads"),
        "manager": busiest(Role.MANAGER, "managed_team__leads"),
        "director": busiest(Role.DIRECTOR, "directed_teams__leads"),
    }
    urls = {}
    for label, user in people.items():
        if not user.calendar_token:
            calendar_link_reset(user=user)
        urls[label] = f"/calendar/{feed_token(user)}.ics"
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]  # the in-process client
    client = Client()
    samples: dict[str, list[float]] = {label: [] for label in people}
    facts: dict[str, tuple[int, int, int]] = {}
    for label, url in urls.items():  # warm up, and count
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200, (label, response.status_code)
        body = response.content
        facts[label] = (len(captured), body.count(b"BEGIN:VEVENT"), len(body))
    for _run in range(args.runs):  # interleaved: a slow moment hits every person alike
        for label, url in urls.items():
            start = time.perf_counter()
            response = client.get(url)
            samples[label].append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200
    print(f"{connection.vendor} {name}, {args.runs} runs, load {os.getloadavg()[0]:.2f}")
    print("person    median_ms  p90_ms  min-max_ms      queries  events  bytes")
    for label, times in samples.items():
        times.sort()
        p90 = times[int(0.9 * (len(times) - 1))]
        queries, events, size = facts[label]
        print(
            f"{label:<9} {statistics.median(times):9.1f} {p90:7.1f}  "
            f"{times[0]:6.1f}-{times[-1]:<7.1f} {queries:7d} {events:7d} {size:6d}"
        )


if __name__ == "__main__":
    main()
