"""Start-up shared by the benchmark scripts: which database, the settings, the migrations.

The database comes from DATABASE_URL, default SQLite var/bench.sqlite3. Its name must contain
"bench" (kaopu_bench on PostgreSQL): the generator wipes it with --reset, so the development
database (db.sqlite3) and the test ones (kaopu, test_kaopu) are refused outright.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = f"sqlite:///{ROOT / 'var' / 'bench.sqlite3'}"
FORBIDDEN_NAMES = {"kaopu", "test_kaopu", "db.sqlite3"}


class BenchError(SystemExit):
    """A refusal with a message for the person running the benchmark."""


def database_url() -> str:
    return os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL


def database_config(url: str) -> dict[str, Any]:
    import dj_database_url

    config: dict[str, Any] = dict(dj_database_url.parse(url))
    name = str(config.get("NAME") or "")
    short = Path(name).name if "sqlite" in config["ENGINE"] else name
    if short in FORBIDDEN_NAMES or "bench" not in short:
        raise BenchError(
            f"Refusing to benchmark on {short!r}: use a database whose name contains 'bench' "
            "(kaopu_bench on PostgreSQL, var/bench.sqlite3 on SQLite)."
        )
    return config


def _ensure_database(config: dict[str, Any]) -> None:
    """Create the PostgreSQL database (or the SQLite file's directory) when it is missing."""
    if "sqlite" in config["ENGINE"]:
        Path(config["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        return
    import psycopg
    from psycopg import sql

    params: dict[str, Any] = {
        "host": config.get("HOST") or None,
        "port": config.get("PORT") or None,
        "user": config.get("USER") or None,
        "password": config.get("PASSWORD") or None,
    }
    with psycopg.connect(dbname="postgres", autocommit=True, connect_timeout=5, **params) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]
        ).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))
            print(f"created PostgreSQL database {config['NAME']}", flush=True)


def bootstrap(*, migrate: bool = True) -> dict[str, Any]:
    """Point Django at the bench database (before django.setup()), set it up and migrate."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    url = database_url()
    config = database_config(url)
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    # Figures are for production settings: DEBUG off (no query log, cached templates).
    os.environ.pop("DJANGO_DEBUG", None)
    os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")
    _ensure_database(config)

    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)
    return config


def serve_ceiling_beside_app() -> None:
    """Serve the ceiling (bench/bare_urls.py's /bare/) and the app from one URLconf for the rest
    of the run. Swapping ROOT_URLCONF per request (override_settings) empties Django's URL
    caches, and the page timed right after the ceiling paid ~10 ms to build them again (the
    rep's list: 9.4 -> 19.1 ms CPU; figures before 2026-12-07 11:00 carry it)."""
    import types

    from django.test import override_settings

    from bench import bare_urls
    from config import urls as app_urls

    both = types.ModuleType("bench_ceiling_and_app_urls")
    both.urlpatterns = [*bare_urls.urlpatterns, *app_urls.urlpatterns]  # type: ignore[attr-defined]
    # the app's error pages too
    for handler in ("handler400", "handler403", "handler404", "handler500"):
        if hasattr(app_urls, handler):
            setattr(both, handler, getattr(app_urls, handler))
    sys.modules[both.__name__] = both
    override_settings(ROOT_URLCONF=both.__name__).enable()


# What differs between two renderings of the same page: the CSRF token and the CSP nonce.
SECRETS = re.compile(r'(csrfmiddlewaretoken" value="|"X-CSRFToken": "|nonce=")[^"]*"')


def save_or_check(folder: Path, pages: dict[str, str], *, check: bool) -> None:
    """Write `pages` (name → HTML, SECRETS masked) into `folder`, or compare them with those
    written there before, byte for byte, and exit 1 when any differs (--save / --check)."""
    if not check:
        folder.mkdir(parents=True, exist_ok=True)
        for name, html in pages.items():
            (folder / name).write_text(html)
        print(f"saved {len(pages)} pages in {folder}")
        return
    differ = [name for name, html in pages.items() if (folder / name).read_text() != html]
    for name in differ:
        old, new = (folder / name).read_text(), pages[name]
        at = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), 0)
        print(f"{name} differs at {at}:")
        print(f"  was: …{old[at - 60 : at + 60]!r}\n  now: …{new[at - 60 : at + 60]!r}")
    print(f"{len(pages) - len(differ)} of {len(pages)} pages byte-identical to {folder}")
    if differ:
        raise SystemExit(1)
