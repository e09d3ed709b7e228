"""gunicorn reads this file from the working directory (the image's /app) on its own.

Its access log names every request's path, and a calendar feed's path holds the person's
secret link: the logger below writes `/calendar/….ics` instead (crm.calendar_logging).
"""

import sys
from pathlib import Path

from gunicorn.glogging import Logger

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crm.calendar_logging import redact  # after the path above


class RedactingLogger(Logger):
    """gunicorn's logger, with calendar feed tokens taken out of the access log's fields."""

    def atoms(self, resp, req, environ, request_time):  # type: ignore[no-untyped-def]
        atoms = super().atoms(resp, req, environ, request_time)
        return {key: redact(v) if isinstance(v, str) else v for key, v in atoms.items()}


logger_class = RedactingLogger
