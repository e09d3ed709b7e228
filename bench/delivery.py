"""Delivery throughput against worker count (issue 23): a backlog of emails in the outbox, sent
by real Celery workers and beat (production delivery settings) to a local SMTP sink that
takes LATENCY ms to accept each message, as a real MTA does.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kaopu_bench_delivery \\
        .venv/bin/python bench/delivery.py --backlog 10000 --workers 1 4 --rounds 3

Each round queues the backlog afresh and runs every worker count once, interleaved (1, 4, 1, 4
…), so a machine that is busier at one moment weighs on both. The rate of a run is the messages
the sink accepted between the WARMUP-th and the (WARMUP+WINDOW)-th accept, per second; --drain
waits for the whole backlog instead. Redis is a private redis-server on a free port.
Prints the median of the rounds and their spread per worker count, and the ratio.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common
from bench.run import free_port, stop_process, wait_for

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/kaopu_bench_delivery"


def queue(backlog: int) -> None:
    from django.utils import timezone

    from coaching.models import EmailKind, Nudge, OutboundEmail
    from crm.models import Role, User

    OutboundEmail.objects.all().delete()
    Nudge.objects.all().delete()
    people = []
    for i in range(20):
        user, _ = User.objects.get_or_create(
            username=f"bench-delivery-{i}",
            defaults={"email": f"rep{i}@bench.invalid", "role": Role.REP},
        )
        people.append(user)
    now = timezone.now()
    nudges = Nudge.objects.bulk_create(
        (
            Nudge(
                recipient=people[i % len(people)],
                rule_id="low_contact",
                period=f"p{i}",
                key=f"bench-delivery|{i}",
                priority=3,
                delivery="push",
                context={"days": 12},
                created_at=now,
            )
            for i in range(backlog)
        ),
        batch_size=2000,
    )
    OutboundEmail.objects.bulk_create(
        (
            OutboundEmail(
                recipient_id=n.recipient_id, kind=EmailKind.INSTANT, nudge=n, not_before=now
            )
            for n in nudges
        ),
        batch_size=2000,
    )


def accepted(log: Path) -> list[float]:
    try:
        return sorted(float(line.split()[1]) for line in log.read_text().splitlines() if line)
    except FileNotFoundError:
        return []


def run_once(
    *, workers: int, backlog: int, warmup: int, window: int, drain: bool, latency: int
) -> float:
    from coaching.models import EmailState, OutboundEmail

    queue(backlog)
    work = Path(tempfile.mkdtemp(prefix="kaopu-bench-delivery-"))
    log = work / "sink.log"
    smtp_port, redis_port = free_port(), free_port()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        sink = subprocess.Popen(
            [
                sys.executable,
                str(common.ROOT / "bench" / "smtp_sink.py"),
                str(smtp_port),
                str(log),
                str(latency),
            ],
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        procs.append(sink)
        assert sink.stdout is not None and sink.stdout.readline().strip() == b"ready"
        redis = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(redis_port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(work),
            ],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        procs.append(redis)
        time.sleep(0.5)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DJANGO_", "KAOPU_", "EMAIL_", "REDIS_"))
        }
        env |= {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_SECRET_KEY": "kaopu-bench-only-key",
            "DJANGO_LOG_LEVEL": "WARNING",
            "DATABASE_URL": os.environ["DATABASE_URL"],
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp_port),
            "KAOPU_SCAN_SECONDS": "3600",
            "KAOPU_DIGEST_POLL_SECONDS": "3600",
        }
        celery = [sys.executable, "-m", "celery", "-A", "config"]
        for n in range(workers):
            procs.append(
                subprocess.Popen(
                    [
                        *celery,
                        "worker",
                        "--loglevel=WARNING",
                        "--concurrency=1",
                        "--without-mingle",
                        "--without-gossip",
                        f"--hostname=w{n}@%h",
                    ],
                    cwd=common.ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        procs.append(
            subprocess.Popen(
                [*celery, "beat", "--loglevel=WARNING", f"--schedule={work / 'beat'}"],
                cwd=common.ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
        if drain:
            ok = wait_for(
                lambda: not OutboundEmail.objects.exclude(state=EmailState.SENT).exists(), 1800
            )
            if not ok:
                raise RuntimeError("the backlog did not drain in 30 minutes")
            stamps = accepted(log)
            return len(stamps) / (stamps[-1] - stamps[0])
        need = warmup + window
        if not wait_for(lambda: len(accepted(log)) >= need, 1800):
            raise RuntimeError(f"fewer than {need} messages accepted in 30 minutes")
        stamps = accepted(log)
        return window / (stamps[need - 1] - stamps[warmup - 1])
    finally:
        for proc in reversed(procs):
            stop_process(proc)
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backlog", type=int, default=10_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--window", type=int, default=1500)
    parser.add_argument("--latency", type=int, default=30, help="sink accept latency, ms")
    parser.add_argument("--drain", action="store_true", help="time the whole backlog")
    args = parser.parse_args()
    os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    common.bootstrap()
    rates: dict[int, list[float]] = {n: [] for n in args.workers}
    for round_ in range(args.rounds):
        for n in args.workers:
            rate = run_once(
                workers=n,
                backlog=args.backlog,
                warmup=args.warmup,
                window=args.window,
                drain=args.drain,
                latency=args.latency,
            )
            rates[n].append(rate)
            print(f"round {round_ + 1}: {n} worker(s): {rate:.1f} emails/s", flush=True)
    base = statistics.median(rates[args.workers[0]])
    for n, values in rates.items():
        median = statistics.median(values)
        print(
            f"{n} worker(s): median {median:.1f} emails/s (spread {min(values):.1f}–"
            f"{max(values):.1f}), {median / base:.2f}× {args.workers[0]} worker(s)"
        )


if __name__ == "__main__":
    main()
