"""Production refuses to run on the public development key, and one switch turns on HTTPS.

Each case starts a fresh Python process with the environment a deployment would have, as the
web server (config.wsgi), a Celery worker, or `manage.py check --deploy` would see it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "KAOPU_", "DATABASE_", "REDIS_", "EMAIL_"))
    }
    env |= {"DJANGO_SETTINGS_MODULE": "config.settings", "PYTHONPATH": str(ROOT)}
    return env | extra


def _run(args: list[str], timeout: float = 60, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=ROOT, env=_env(**extra), capture_output=True, text=True, timeout=timeout
    )


def test_web_server_without_a_key_refuses_to_start() -> None:
    started = _run([sys.executable, "-c", "import config.wsgi"])
    assert started.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in started.stderr


def test_web_server_with_a_key_starts() -> None:
    started = _run([sys.executable, "-c", "import config.wsgi"], DJANGO_SECRET_KEY="k" * 50)
    assert started.returncode == 0, started.stderr


def test_debug_on_a_laptop_needs_no_key() -> None:
    started = _run([sys.executable, "-c", "import config.wsgi"], DJANGO_DEBUG="1")
    assert started.returncode == 0, started.stderr


@pytest.mark.redis
def test_worker_without_a_key_refuses_to_start() -> None:
    celery = Path(sys.executable).with_name("celery")
    started = _run(
        [str(celery), "-A", "config", "worker", "--pool=solo", "--without-mingle"],
        timeout=120,
        REDIS_URL="redis://127.0.0.1:6379/15",
    )
    assert started.returncode == 1
    assert "DJANGO_SECRET_KEY is not set" in started.stdout + started.stderr


def test_check_deploy_reports_the_missing_key_as_an_error() -> None:
    checked = _run([sys.executable, "manage.py", "check", "--deploy"])
    assert checked.returncode != 0
    assert "kaopu.E001" in checked.stderr


def test_one_switch_turns_on_https() -> None:
    script = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "s.SECURE_HSTS_SECONDS)"
    )
    on = _run([sys.executable, "-c", script], DJANGO_HTTPS="1", DJANGO_SECRET_KEY="k" * 50)
    off = _run([sys.executable, "-c", script], DJANGO_SECRET_KEY="k" * 50)
    assert on.stdout.split() == ["True", "True", "True", "31536000"]
    assert off.stdout.split() == ["False", "False", "False", "0"]
    checked = _run(
        [sys.executable, "manage.py", "check", "--deploy"],
        DJANGO_HTTPS="1",
        DJANGO_SECRET_KEY="a-long-random-production-key-" + "x" * 40,
        EMAIL_HOST="smtp.example.com",
    )
    assert "kaopu.E001" not in checked.stderr
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning not in checked.stderr, checked.stderr
