"""The app's own settings for the benchmarks; only where collected static files go differs.

DEBUG stays off (as in production), so the manifest static storage needs `collectstatic`;
bench/run.py collects into var/bench-static (git-ignored) instead of the shared staticfiles/.
"""

import os
from pathlib import Path

from config.settings import *  # noqa: F403
from config.settings import BASE_DIR

STATIC_ROOT = Path(
    os.environ.get("KAOPU_BENCH_STATIC_ROOT", str(BASE_DIR / "var" / "bench-static"))
)
