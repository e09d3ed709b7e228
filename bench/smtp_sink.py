"""A throw-away SMTP server for the email figure, run by bench/run.py in its own process (so it
does not share the worker's interpreter lock).

    python bench/smtp_sink.py PORT LOG

Accepts everything. For each message it appends "<X-Kaopu-Email> <unix time>" to LOG, the time
taken just before answering 250, i.e. the moment the server accepts the message.
"""

from __future__ import annotations

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
    def __init__(self, log_path: str) -> None:
        self.log = open(log_path, "a", buffering=1)  # noqa: SIM115 - open for the process' life

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        match = ROW.search(envelope.content or b"")
        row = match.group(1).decode() if match else "-"
        self.log.write(f"{row} {time.time():.6f}\n")
        return "250 OK"


def main() -> None:
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    port, log_path = int(sys.argv[1]), sys.argv[2]
    controller = Controller(Sink(log_path), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
