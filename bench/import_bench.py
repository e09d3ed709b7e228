"""Import 100,000 generated leads from one CSV file, as a worker does, and print the time and the
peak memory of the worker.

    python bench/import_bench.py                   # SQLite var/bench.sqlite3
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kaopu_bench python bench/import_bench.py
    python bench/import_bench.py --rows 20000 --encoding gbk --keep

The leads go into the pool of a team of its own ("Import bench"), which is emptied first, so the
run never meets duplicates from an earlier one; its leads and their outbox rows are deleted
afterwards unless --keep, and so are the company records and contacts the import made (before
the run too), so every run makes its 100,000 companies afresh. This process generates the file,
uploads it (as the web request does) and configures the job; the import itself runs in a fresh
process started for it, through the Celery task's function, as a worker runs it. Its memory is
that process's peak resident set (getrusage's ru_maxrss, read by the process itself): Python,
Django, the libraries and the import, nothing of the generating or the upload. --tracemalloc
also reports the Python allocations of the import alone (and makes it slower).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import resource
import subprocess
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
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding=encoding, newline="")
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
    out.flush()
    return raw.getvalue()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def rss_mb() -> float:
    """The process's resident set now (VmRSS), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_job(job_id: int, trace: bool) -> None:
    """The worker's side, in its own process: the Celery task's function for one job. Prints
    one JSON line: the seconds spent and the memory."""
    bootstrap(migrate=False)
    from crm import tasks
    from crm.imports import running

    baseline = rss_mb()
    writing = [0.0]
    insert = running.leads_insert

    def timed_insert(**kwargs: Any) -> None:
        start = time.perf_counter()
        try:
            insert(**kwargs)
        finally:
            writing[0] += time.perf_counter() - start

    running.leads_insert = timed_insert  # type: ignore[assignment]
    if trace:
        tracemalloc.start()
    start, cpu = time.perf_counter(), time.process_time()
    state = tasks.run_import(job_id)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    traced = tracemalloc.get_traced_memory()[1] / 1024 / 1024 if trace else None
    print(
        json.dumps(
            {
                "state": state,
                "seconds": seconds,
                "cpu": cpu,
                "write": writing[0],
                "baseline_mb": baseline,
                "peak_mb": peak_rss_mb(),
                "traced_mb": traced,
            }
        )
    )


def _forget_records(manager: Any) -> None:
    """The company records and contacts an earlier run made (its leads are gone): every run
    then imports 100,000 companies new to the database, as the first run did, instead of
    finding those of the run before."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in ("crm_contact", "crm_company"):
            cursor.execute(f"DELETE FROM {table} WHERE created_by_id = %s", [manager.pk])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--encoding", default="utf-8-sig")
    parser.add_argument("--keep", action="store_true", help="keep the imported leads")
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--run-job", type=int, help=argparse.SUPPRESS)  # the worker's side
    args = parser.parse_args()
    if args.run_job:
        run_job(args.run_job, args.tracemalloc)
        return

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
    _forget_records(manager)
    ImportJob.objects.filter(created_by=manager).delete()
    first_event = (DomainEvent.objects.order_by("-pk").values_list("pk", flat=True).first()) or 0

    content = generate(args.rows, args.encoding)
    if args.rows > settings.KAOPU_IMPORT_MAX_ROWS:
        raise SystemExit(f"over KAOPU_IMPORT_MAX_ROWS ({settings.KAOPU_IMPORT_MAX_ROWS:,})")
    if len(content) > settings.KAOPU_IMPORT_MAX_BYTES:
        print(f"the file is over KAOPU_IMPORT_MAX_BYTES ({settings.KAOPU_IMPORT_MAX_BYTES:,})")
    print(
        f"database {connection.vendor} {config['NAME']}; {args.rows:,} rows, "
        f"{len(content) / 1024 / 1024:.1f} MB ({args.encoding}); load {os.getloadavg()[0]:.1f}",
        flush=True,
    )

    start = time.perf_counter()
    upload = SimpleUploadedFile("bench.csv", content)
    job = imports.import_upload(actor=manager, upload=upload)
    uploading = time.perf_counter() - start
    job = imports.import_configure(
        actor=manager,
        job=job,
        mapping=job.mapping,
        mode=ImportMode.VALID_ROWS,
        on_duplicate=DuplicatePolicy.SKIP,
        default_source=Source.MARKETING,
    )
    del upload, content
    command = [sys.executable, __file__, "--run-job", str(job.pk)]
    worker = subprocess.run(
        command + (["--tracemalloc"] if args.tracemalloc else []),
        check=True,
        capture_output=True,
        text=True,
    )
    run = json.loads(worker.stdout.strip().splitlines()[-1])
    job.refresh_from_db()
    if job.created_count != args.rows:
        raise SystemExit(f"expected {args.rows} leads, got {job.created_count}: {job.errors[:3]}")

    total = uploading + run["seconds"]
    lines = [
        ("upload (read, detect, count, profile)", f"{uploading:7.2f} s"),
        ("import: outside the writes (check)", f"{run['seconds'] - run['write']:7.2f} s"),
        ("import: write (PostgreSQL: own thread, overlaps)", f"{run['write']:7.2f} s"),
        ("import (the worker's task)", f"{run['seconds']:7.2f} s"),
        ("  its CPU time (the worker process alone)", f"{run['cpu']:7.2f} s"),
        ("total", f"{total:7.2f} s   ({args.rows / total:,.0f} rows/s)"),
        (
            "worker RSS (after start-up → peak)",
            f"{run['baseline_mb']:7.0f} → {run['peak_mb']:.0f} MB",
        ),
    ]
    if run["traced_mb"] is not None:
        lines.append(("peak Python allocations (tracemalloc)", f"{run['traced_mb']:7.0f} MB"))
    for name, figure in lines:
        print(f"  {name:<44} {figure}", flush=True)
    print(f"  load average after: {os.getloadavg()[0]:.1f}")

    if not args.keep:
        Lead.objects.filter(team=team).delete()
        _forget_records(manager)
        DomainEvent.objects.filter(
            pk__gt=first_event, name="lead_created", payload__actor_id=manager.pk
        ).delete()


if __name__ == "__main__":
    main()
