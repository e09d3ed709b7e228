"""The cockpit pages (issue 22) at each team size: the team page of one team per distinct size and
each director's +2 page, interleaved request by request with the ceiling (bench/bare_urls.py),
so the machine's load falls on every page alike. Prints each page's median, its spread (p10–p90)
and queries, the ratio to the ceiling of the same run, and the load average.

With --profile, one request of each page is taken apart instead: every query with its time,
the SQL's share of the page and the rest (ORM compiling, Python, the template).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kaopu_bench_e python bench/cockpit_bench.py
    DATABASE_URL=sqlite:///$PWD/var/bench_e.sqlite3 python bench/cockpit_bench.py --rounds 15
    DATABASE_URL=… python bench/cockpit_bench.py --profile [--explain]
    DATABASE_URL=… python bench/cockpit_bench.py --save DIR   # then, after a change: --check DIR

`--save DIR` writes every page as it renders at a frozen instant (`--at`, default
2026-12-07 20:00 UTC), in English and Chinese, whole and as the htmx region, for several
periods (and sorts of the +2's ranking); `--check DIR` renders them again and compares byte for
byte (the CSRF token and the CSP nonce aside), to show a faster page changed nothing a person
would see. Both switch the signed-in people's language on the bench copy and put it back.

On `generate.py --mixed` that is teams of 500, 5,000 and 50,000 leads and directors over
10 × 500, 9 × 5,000 and 1 × 50,000 leads. See bench/README.md, "Issue 22: team, +2 and board
pages".
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench import common


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def pages() -> list[tuple[str, Any, str]]:
    """(name, signed-in client, url): the ceiling first, then the team page per team size and
    each director's +2 page."""
    from django.db.models import Count
    from django.test import Client
    from django.urls import reverse

    from crm.models import Lead, Role, Team, User

    def client_for(user: Any) -> Any:
        client = Client(SERVER_NAME="127.0.0.1")
        client.force_login(user)
        return client

    by_size: dict[int, Any] = {}
    for team in Team.objects.annotate(n=Count("leads")).select_related("manager").order_by("n"):
        by_size.setdefault(team.n, team)
    out = []
    for size, team in sorted(by_size.items()):
        out.append((f"team_{size}", client_for(team.manager), reverse("coach-team")))
    for director in User.objects.filter(role=Role.DIRECTOR, is_active=True).order_by("pk"):
        n_teams = Team.objects.filter(director=director).count()
        if n_teams:
            size = Lead.objects.filter(team__director=director).count() // n_teams
            out.append((f"plus2_{n_teams}x{size}", client_for(director), reverse("coach-director")))
    return [("ceiling", out[0][1], "/bare/"), *out]


def get(name: str, client: Any, url: str) -> None:
    response = client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"{name}: GET {url} answered {response.status_code}")


def timed(every: list[tuple[str, Any, str]], *, rounds: int, warmup: int) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    samples: dict[str, list[float]] = {name: [] for name, _c, _u in every}
    loads = [load()]
    for i in range(warmup + rounds):
        for name, client, url in every:
            started = time.perf_counter()
            get(name, client, url)
            if i >= warmup:
                samples[name].append((time.perf_counter() - started) * 1000)
    loads.append(load())
    ceiling = statistics.median(samples["ceiling"])
    print(f"{connection.vendor}, {rounds} interleaved rounds, load {loads[0]} → {loads[1]}")
    for name, client, url in every:
        with CaptureQueriesContext(connection) as ctx:
            get(name, client, url)
        median = statistics.median(samples[name])
        deciles = statistics.quantiles(samples[name], n=10, method="inclusive")
        p10, p90 = deciles[0], deciles[-1]
        print(
            f"{name:22} {median:7.1f} ms  [p10–p90 {p10:.1f}–{p90:.1f}]  "
            f"{len(ctx.captured_queries):3} q  {median / ceiling:5.1f}× the ceiling"
        )


def profiled(every: list[tuple[str, Any, str]], *, explain: bool) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for name, client, url in every[1:]:
        get(name, client, url)  # warm
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            get(name, client, url)
            total = (time.perf_counter() - started) * 1000
        sql = sum(float(q["time"]) for q in ctx.captured_queries) * 1000
        print(f"\n== {name}: {total:.1f} ms, SQL {sql:.1f} ms, the rest {total - sql:.1f} ms")
        for query in sorted(ctx.captured_queries, key=lambda q: -float(q["time"])):
            text = " ".join(query["sql"].split())
            print(f"  {float(query['time']) * 1000:7.1f} ms  {text[:150]}")
        if explain:
            for query in sorted(ctx.captured_queries, key=lambda q: -float(q["time"]))[:3]:
                prefix = (
                    "EXPLAIN (ANALYZE, BUFFERS) "
                    if connection.vendor == "postgresql"
                    else "EXPLAIN QUERY PLAN "
                )
                with connection.cursor() as cursor:
                    cursor.execute(prefix + query["sql"])
                    print("\n-- " + " ".join(query["sql"].split())[:200])
                    for row in cursor.fetchall():
                        print("   " + " | ".join(str(c) for c in row))


# Per request, not per page: the CSRF token (masked anew each time) and the CSP nonce.
TEAM_QUERIES = ("", "days=7", "days=90")
PLUS2_QUERIES = ("", "days=7", "days=90&sort=-stalled", "sort=name", "sort=-open_leads")


def snapshots(every: list[tuple[str, Any, str]], at: dt.datetime) -> dict[str, str]:
    """Every page by name, rendered at `at`, in each language (the people's own put back)."""
    from django.utils import timezone

    from crm.models import User

    frozen = timezone.now
    timezone.now = lambda: at  # the pages' clock: "days since", "idle for", the periods
    out: dict[str, str] = {}
    try:
        for name, client, url in every[1:]:
            user = User.objects.get(pk=client.session["_auth_user_id"])
            kept = user.language
            queries = PLUS2_QUERIES if name.startswith("plus2") else TEAM_QUERIES
            try:
                for language in ("en", "zh-hans"):
                    User.objects.filter(pk=user.pk).update(language=language)
                    for query in queries:
                        for region, headers in (("page", {}), ("htmx", {"HX-Request": "true"})):
                            response = client.get(f"{url}?{query}", headers=headers)
                            if response.status_code != 200:
                                raise RuntimeError(f"{name} {query}: {response.status_code}")
                            html = common.SECRETS.sub(r'\1…"', response.content.decode())
                            key = query.replace("&", "-").replace("=", "") or "default"
                            out[f"{name}-{language}-{region}-{key}.html"] = html
            finally:
                User.objects.filter(pk=user.pk).update(language=kept)
    finally:
        timezone.now = frozen
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--profile", action="store_true", help="take one request of each apart")
    parser.add_argument("--explain", action="store_true", help="with --profile: the plans")
    parser.add_argument("--save", type=Path, help="write the pages here (frozen clock) and stop")
    parser.add_argument("--check", type=Path, help="compare the pages with these and stop")
    parser.add_argument(
        "--at",
        type=dt.datetime.fromisoformat,
        default=dt.datetime(2026, 12, 7, 20, 0, tzinfo=dt.UTC),
        help="the frozen instant of --save/--check (ISO 8601, with its offset)",
    )
    parser.add_argument("--only", default="", help="comma-separated page names (and the ceiling)")
    args = parser.parse_args()
    common.bootstrap(migrate=False)
    common.serve_ceiling_beside_app()  # /bare/ beside the app: no URLconf swap per request
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)
    every = pages()
    if args.only:
        keep = {"ceiling", *args.only.split(",")}
        every = [page for page in every if page[0] in keep]
    if args.save or args.check:
        pages_now = snapshots(every, args.at)
        common.save_or_check(args.save or args.check, pages_now, check=bool(args.check))
    elif args.profile:
        profiled(every, explain=args.explain)
    else:
        timed(every, rounds=args.rounds, warmup=args.warmup)


if __name__ == "__main__":
    main()
