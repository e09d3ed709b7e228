"""Import 100,000 generated leads from one CSV file, as a worker does, and print the time and the
peak memory of each step.

    python bench/import_bench.py                   # SQLite var/bench.sqlite3
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kaopu_bench python bench/import_bench.py
    python bench/import_bench.py --rows 20000 --encoding gbk --keep

The leads go into the pool of a team of its own ("Import bench"), which is emptied first, so the
run never meets duplicates from an earlier one; its leads and their outbox rows are deleted
afterwards unless --keep. Peak memory is the process's maximum resident set (getrusage), read
before and after, so it includes Python and Django themselves; --tracemalloc also reports the
Python allocations of the import alone (and makes it slower).
"""

from __future__ import annotations

import argparse
import csv
import io
import resource
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bootstrap

SOURCES = ["展会", "官网", "转介绍", "电话陌拜", "合作伙伴", "Marketing", "Cold visit"]
# A usual export's width: 纷享销客's lead export columns, amounts written as people write them.
HEADER = [
    "姓名",
    "公司",
    "职务",
    "手机",
    "电话",
    "邮件",
    "线索来源",
    "线索状态",
    "负责人",
    "金额",
    "预计成交日期",
    "下一步",
    "备注",
    "创建时间",
]


def generate(rows: int, encoding: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for i in range(rows):
        writer.writerow(
            [
                f"王{i % 97}",
                f"华东客户{i}号科技有限公司",
                "采购经理" if i % 2 else "总经理",
                f"139{i:08d}",
                f"021-6{i % 1000:03d}{i % 10_000:04d}",
                f"k{i}@example.cn",
                SOURCES[i % len(SOURCES)],
                "未处理",
                "李明",
                f"{(i % 500) * 100:,}.50" if i % 4 else f"{i % 90 + 1}万",
                f"2026/{i % 12 + 1}/{i % 28 + 1}",
                "电话跟进" if i % 3 else "",
                "客户在展会上留的名片，想要报价" if i % 5 == 0 else "",
                f"2026-03-{i % 28 + 1:02d} 10:{i % 60:02d}",
            ]
        )
    return out.getvalue().encode(encoding)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--encoding", default="utf-8-sig")
    parser.add_argument("--keep", action="store_true", help="keep the imported leads")
    parser.add_argument("--tracemalloc", action="store_true")
    args = parser.parse_args()

    config = bootstrap()
    from django.conf import settings
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection

    from crm import imports
    from crm.models import (
        DomainEvent,
        DuplicatePolicy,
        ImportJob,
        ImportMode,
        Lead,
        Role,
        Source,
        Team,
        User,
    )

    manager, _created = User.objects.get_or_create(
        username="import-bench-manager", defaults={"role": Role.MANAGER, "language": "en"}
    )
    team, _created = Team.objects.get_or_create(name="Import bench", defaults={"manager": manager})
    Lead.objects.filter(team=team).delete()
    ImportJob.objects.filter(created_by=manager).delete()
    first_event = (DomainEvent.objects.order_by("-pk").values_list("pk", flat=True).first()) or 0

    content = generate(args.rows, args.encoding)
    settings.KAOPU_IMPORT_MAX_ROWS = max(args.rows, settings.KAOPU_IMPORT_MAX_ROWS)
    if len(content) > settings.KAOPU_IMPORT_MAX_BYTES:
        print(f"the file is over KAOPU_IMPORT_MAX_BYTES ({settings.KAOPU_IMPORT_MAX_BYTES:,})")
    print(
        f"database {connection.vendor} {config['NAME']}; {args.rows:,} rows, "
        f"{len(content) / 1024 / 1024:.1f} MB ({args.encoding})",
        flush=True,
    )

    timings: dict[str, float] = {}

    def timed(name: str, func: Any) -> Any:
        def wrapper(*a: Any, **kw: Any) -> Any:
            start = time.perf_counter()
            try:
                return func(*a, **kw)
            finally:
                timings[name] = timings.get(name, 0.0) + time.perf_counter() - start

        return wrapper

    # import_run looks these up in crm.imports.running, so they are timed there.
    running = imports.running
    running._check = timed("check rows", running._check)  # type: ignore[method-assign]
    running._write = timed("write (bulk create + history + events)", running._write)  # type: ignore[method-assign]

    rss_before = peak_rss_mb()
    if args.tracemalloc:
        tracemalloc.start()
    started = time.perf_counter()
    upload = SimpleUploadedFile("bench.csv", content)
    job = timed("upload (read, detect, count)", imports.import_upload)(actor=manager, upload=upload)
    job = imports.import_configure(
        actor=manager,
        job=job,
        mapping=job.mapping,
        mode=ImportMode.VALID_ROWS,
        on_duplicate=DuplicatePolicy.SKIP,
        default_source=Source.MARKETING,
    )
    job = timed("import_run (total)", imports.import_run)(job_id=job.pk)
    total = time.perf_counter() - started
    traced = tracemalloc.get_traced_memory()[1] / 1024 / 1024 if args.tracemalloc else None
    if args.tracemalloc:
        tracemalloc.stop()
    assert job is not None
    if job.created_count != args.rows:
        raise SystemExit(f"expected {args.rows} leads, got {job.created_count}: {job.errors[:3]}")

    for name, seconds in timings.items():
        print(f"  {name:<42} {seconds:7.2f} s", flush=True)
    print(f"  {'total':<42} {total:7.2f} s   ({args.rows / total:,.0f} rows/s)")
    print(
        f"  {'peak RSS (process, before → after)':<42} {rss_before:7.0f} → {peak_rss_mb():.0f} MB"
    )
    if traced is not None:
        print(f"  {'peak Python allocations (tracemalloc)':<42} {traced:7.0f} MB")

    if not args.keep:
        Lead.objects.filter(team=team).delete()
        DomainEvent.objects.filter(
            pk__gt=first_event, name="lead_created", payload__actor_id=manager.pk
        ).delete()


if __name__ == "__main__":
    main()
