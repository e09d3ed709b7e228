"""A throw-away SMTP server for the email figure, run by bench/run.py in its own process (so it
does not share the worker's interpreter lock).

    python bench/smtp_sink.py PORT LOG [LATENCY_MS]

Accepts everything, each message after LATENCY_MS milliseconds (default 0) as a real MTA takes
a few dozen to queue a message; connections are served concurrently, so the latency costs a
sender time, not the sink's CPU. For each message it appends "<X-Kaopu-Email> <unix time>"
to LOG, the time taken just before answering 250, i.e. the moment the server accepts it.
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import sys
import threading
import time
from typing import Any

from aiosmtpd.controller import Controller

ROW = re.compile(rb"^X-Kaopu-Email:\s*(\d+)", re.MULTILINE | re.IGNORECASE)


class Sink:
    def __init__(self, log_path: str, latency: float = 0.0) -> None:
        self.log = open(log_path, "a", buffering=1)  # noqa: SIM115 - open for the process' life
        self.latency = latency

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        match = ROW.search(envelope.content or b"")
        row = match.group(1).decode() if match else "-"
        if self.latency:
            await asyncio.sleep(self.latency)
        self.log.write(f"{row} {time.time():.6f}\n")
        return "250 OK"


def main() -> None:
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    port, log_path = int(sys.argv[1]), sys.argv[2]
    latency = float(sys.argv[3]) / 1000 if len(sys.argv) > 3 else 0.0
    controller = Controller(Sink(log_path, latency), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
