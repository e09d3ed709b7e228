"""Kaopu as an installed app: the service worker at the site's root (a file under /static/
could only control /static/) and the page it shows when a page cannot load offline."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

SERVICE_WORKER = Path(settings.BASE_DIR) / "static" / "js" / "sw.js"


@require_GET
@never_cache
def service_worker(request: HttpRequest) -> HttpResponse:
    # never_cache: browsers compare this file at each visit to know a new version is out.
    return HttpResponse(SERVICE_WORKER.read_bytes(), content_type="text/javascript")


@require_GET
def offline(request: HttpRequest) -> HttpResponse:
    return render(request, "offline.html")
