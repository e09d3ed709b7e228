"""The coach's 30-day simulation as a benchmark (issue 16): 2 directors, 20 managers, 200 reps,
30 working days, on a database of its own, printing the per-persona table, the patterns and
the targets, and writing bench/results/simulate-<vendor>.json.

    python bench/simulate.py                      # SQLite var/bench-simulate.sqlite3
    python bench/simulate.py --small              # the suite's company, 10 days
    python bench/simulate.py --days 5 --summary   # any coach_simulate option
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kaopu_bench make bench
        # PostgreSQL: runs on kaopu_bench_simulate beside the bench database

The run is one transaction rolled back at the end, so the database stays empty between runs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench import common


def _simulation_url() -> str:
    """Its own database: the 100k-lead bench data would blur the coach's figures."""
    url = os.environ.get("DATABASE_URL", "")
    if not url or url.startswith("sqlite"):
        return f"sqlite:///{common.ROOT / 'var' / 'bench-simulate.sqlite3'}"
    base, _slash, name = url.rpartition("/")
    name, _q, query = name.partition("?")
    return f"{base}/{name}_simulate" + (f"?{query}" if query else "")


def main(argv: list[str]) -> None:
    os.environ["DATABASE_URL"] = _simulation_url()
    common.bootstrap()
    from django.core.management import call_command
    from django.db import connection

    results = common.ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    out = results / f"simulate-{connection.vendor}.json"
    call_command("coach_simulate", *argv, "--json", str(out))
    print(f"figures written to {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
