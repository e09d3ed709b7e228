"""The Celery app, in Celery's Django layout: settings come from CELERY_* in config.settings.
A worker or beat refuses to start on the public development key (config/production.py)."""

import os
from typing import Any

from celery import Celery
from celery.signals import beat_init, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("kaopu")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
@beat_init.connect
def _refuse_public_key(**kwargs: Any) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from config.production import require_secret_key

    try:
        require_secret_key()
    except ImproperlyConfigured as error:
        # Celery logs and swallows exceptions from signal handlers; SystemExit does stop it.
        raise SystemExit(f"Kaopu: {error}") from None
