"""Search with crm.selectors.search.text_contains (trigram-indexed LIKE/ILIKE, strpos) against
Django's icontains (UPPER(column) LIKE), in one process on the bench dataset, alternating runs
(2 warm-up pairs, then 12); see bench/README.md, "Search from anywhere".

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kaopu_bench python bench/search_compare.py
"""

from __future__ import annotations

import statistics
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench import common

SUBJECTS = {"rep": "bench.rep001", "manager": "bench.manager01", "director": "bench.director1"}


def main() -> None:
    common.bootstrap(migrate=False)
    from crm.models import User
    from crm.selectors import search
    from crm.selectors.companies import CompanyFilters, ContactFilters, company_list, contact_list

    users = {role: User.objects.get(username=name) for role, name in SUBJECTS.items()}
    manager = users["manager"]
    cases: list[tuple[str, Callable[[], Any]]] = [
        (
            "company list, manager, 华东",
            lambda: list(company_list(user=manager, filters=CompanyFilters(q="华东"))[:50]),
        ),
        (
            "contact list, manager, 王",
            lambda: list(contact_list(user=manager, filters=ContactFilters(q="王"))[:50]),
        ),
    ]

    def searching(user: Any, q: str) -> Callable[[], Any]:
        return lambda: search.site_search(user=user, q=q)

    for q in ("宏达", "宏达物流", "logistics"):
        for role, user in users.items():
            cases.append((f"search, {role}, {q}", searching(user, q)))
    real: Any = search.connection
    icontains: Any = types.SimpleNamespace(vendor="any but postgresql: icontains")
    for name, run in cases:
        samples: dict[str, list[float]] = {"new": [], "old": []}
        for i in range(14):
            for variant, connection in (("new", real), ("old", icontains)):
                search.connection = connection
                start = time.perf_counter()
                run()
                if i >= 2:
                    samples[variant].append((time.perf_counter() - start) * 1000)
        search.connection = real
        new, old = statistics.median(samples["new"]), statistics.median(samples["old"])
        print(f"{name:34} text_contains {new:7.1f} ms   icontains {old:7.1f} ms")


if __name__ == "__main__":
    main()
