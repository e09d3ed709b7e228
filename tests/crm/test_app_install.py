"""Kaopu installs on a phone: a web app manifest whose start is My day, icons, and a service
worker served at the site's root (so it controls every page), never cached by the browser."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders

from tests.conftest import Company

pytestmark = pytest.mark.django_db


def test_every_page_links_the_manifest_whose_start_is_my_day(company: Company, client_for) -> None:
    html = client_for(company.rep_a1).get("/leads/").content.decode()
    href = re.search(r'<link rel="manifest" href="([^"]+)"', html)
    assert href is not None and 'data-service-worker="/sw.js"' in html
    path = finders.find("manifest.webmanifest")
    assert path is not None
    manifest = json.loads(Path(path).read_text(encoding="utf-8"))
    assert (manifest["start_url"], manifest["scope"], manifest["display"]) == (
        "/",
        "/",
        "standalone",
    )
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        assert finders.find(icon["src"]) is not None, icon["src"]


def test_a_visitor_gets_no_service_worker(client) -> None:
    assert "data-service-worker" not in client.get("/login/").content.decode()


def test_the_service_worker_is_served_at_the_root_uncached(client) -> None:
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert "no-cache" in response["Cache-Control"]
    assert b'addEventListener("fetch"' in response.content


def test_the_offline_page_speaks_the_users_language(company: Company, client_for) -> None:
    html = client_for(company.rep_a1, "zh-hans").get("/offline/").content.decode()
    assert "没有网络" in html and "再试一次" in html
