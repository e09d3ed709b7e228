"""Real servers and processes for the delivery tests: an SMTP server in-process (aiosmtpd), a
private redis-server on a free port, Celery worker and beat processes on the test database."""

from __future__ import annotations

import contextlib
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from django.db import connection

logging.getLogger("mail.log").setLevel(logging.WARNING)

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], bool], timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


class Mailbox:
    """An aiosmtpd handler that keeps every accepted message; it can refuse the next N, or a
    share of all (refuse_rate, with a seeded random draw), with `refuse_reply`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[Any] = []
        self.refuse_next = 0
        self.refuse_rate = 0.0
        self.refuse_reply = "451 4.3.0 Try again later"
        self.random = random.Random(23)
        self.refused = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if self.refuse_next or (self.refuse_rate and self.random.random() < self.refuse_rate):
                self.refuse_next = max(self.refuse_next - 1, 0)
                self.refused += 1
                return self.refuse_reply
            self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def keys(self) -> list[str]:
        with self.lock:
            return [m["X-Kaopu-Key"] for m in self.messages]

    def message_ids(self) -> list[str]:
        with self.lock:
            return [m["Message-ID"] for m in self.messages]

    @property
    def count(self) -> int:
        with self.lock:
            return len(self.messages)


@contextlib.contextmanager
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@contextlib.contextmanager
def hung_server() -> Iterator[int]:
    """A port that accepts connections and never says a word: a hung SMTP server."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(100)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        for sock in held:
            sock.close()
        listener.close()


class RedisServer:
    """A private redis-server on a free port that a test may stop, hang and start again."""

    def __init__(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server is not installed")
        self.port = free_port()
        self.workdir = tempfile.mkdtemp(prefix="kaopu-redis-")
        self.args = [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        self.args += ["--appendonly", "no", "--dir", self.workdir]
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if not wait_for(lambda: _port_open(self.port), 10):
            raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def hang(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def database_url() -> str:
    """The test database as a URL, for the worker processes."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    user = s.get("USER") or "postgres"
    host = s.get("HOST") or "127.0.0.1"
    port = s.get("PORT") or 5432
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{host}:{port}/{s['NAME']}"


class Processes:
    """Celery worker and beat processes, started with the test's settings."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env = env
        self.workdir = workdir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = self.workdir / f"{name}.log"
        self.logs[name] = log
        handle = log.open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", *args],
            cwd=ROOT,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so kill -9 reaches the pool too
        )
        self.procs[name] = proc
        return proc

    def worker(self, name: str = "worker") -> subprocess.Popen[bytes]:
        return self.start(
            name,
            "worker",
            "--loglevel=INFO",
            "--concurrency=1",
            "--without-mingle",
            "--without-gossip",
            f"--hostname={name}@%h",
        )

    def beat(self, name: str = "beat") -> subprocess.Popen[bytes]:
        return self.start(
            name, "beat", "--loglevel=INFO", f"--schedule={self.workdir / name}-schedule"
        )

    def kill9(self, name: str) -> None:
        proc = self.procs.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for name in list(self.procs):
            proc = self.procs.pop(name)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def log_tail(self, lines: int = 40) -> str:
        out = []
        for name, path in self.logs.items():
            text = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {name}\n" + "\n".join(text))
        return "\n".join(out)


def process_env(*, redis_url: str, smtp_port: int, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "KAOPU_", "EMAIL_", "REDIS_", "DATABASE_"))
    }
    env |= {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        # As in production: a worker refuses to start on the public development key.
        "DJANGO_SECRET_KEY": "kaopu-integration-tests-only-key",
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": database_url(),
        "REDIS_URL": redis_url,
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        # Delivery runs with its production timings (SMTP timeout, outbox poll, lease,
        # backoff): what the fault tests measure is what production does. Only the turning of
        # CRM events into nudges polls faster than production's 5 s, to build the tests' mail
        # quickly: in production a nudge made from an event starts up to 4.5 s later than here.
        "KAOPU_EVENT_POLL_SECONDS": "0.5",
        "KAOPU_SCAN_SECONDS": "3600",
        "KAOPU_DIGEST_POLL_SECONDS": "3600",
        "DJANGO_LOG_LEVEL": "WARNING",
    }
    env |= extra
    return env
