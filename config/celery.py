"""The Celery app, in Celery's Django layout: settings come from CELERY_* in config.settings."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("kaopu")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
