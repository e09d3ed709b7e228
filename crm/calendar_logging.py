"""Keep calendar feed secrets out of the logs.

A calendar app can only be given a URL, so the feed's secret is in its path
(`/calendar/<token>.ics`), and every log line that names the path would copy the credential:
Django's "Not Found: /calendar/…" for an old link, the development server's request lines,
gunicorn's access log (gunicorn.conf.py uses `redact` too). This module imports nothing from
Django's models, so the LOGGING setting and gunicorn can load it before the apps are ready.
"""

from __future__ import annotations

import logging
import re

_FEED_PATH = re.compile(r"(/calendar/)[^/\s?\"']+?(\.ics)")


def redact(text: str) -> str:
    """`text` with every calendar feed token replaced by `…`."""
    return _FEED_PATH.sub(r"\1…\2", text)


class RedactCalendarLinks(logging.Filter):
    """A logging filter that rewrites a record's message without the feed token (and keeps
    the record: it hides a secret, it does not drop the line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/calendar/" in message:
            record.msg, record.args = redact(message), None
        return True
