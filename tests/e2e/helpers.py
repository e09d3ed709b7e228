"""Browser tests: a real Chromium (Debian's, driven by Playwright's sync API) against
pytest-django's live server.

- `browser` starts Chromium once per module. Playwright's sync API keeps an asyncio loop
  "running" in the test thread while it is up, which Django's ORM refuses
  (SynchronousOnlyOperation), so the module allows it for exactly that span.
- `browsing` opens one isolated browser context per person, signs them in through the real
  login form, and watches every page's console: any console error, uncaught page error or CSP
  violation fails the test at teardown.
- `coach_worker` runs the coach's event processing in a background thread, as the Celery
  worker would, so nudges appear while the browser is open.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.db import close_old_connections, connection
from django.utils import timezone
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page

from coaching.services import process_pending_events, run_scans
from crm.models import DomainEvent, User

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
PASSWORD = "correct-horse-battery"  # tests/factories.py
LANGS = ("en", "zh-hans")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Chinese pages must not show these English words in the main region (whole words, case
# sensitive: data such as company or user names is written to avoid them).
ENGLISH_LEFTOVERS = (
    "Leads",
    "Lead",
    "Report",
    "Reports",
    "Stage",
    "Submit",
    "Save",
    "Send",
    "Next",
    "Previous",
    "Search",
    "Apply",
    "Owner",
    "Value",
    "Source",
    "Activity",
    "Timeline",
    "Facts",
    "Snooze",
    "Dismiss",
    "Decide",
    "Decision",
    "Acknowledge",
    "Acknowledged",
    "Keep pushing",
    "Thanks",
    "Thank",
    "Coach",
    "Unassigned",
    "Open",
    "Reply",
    "Page",
    "Edit",
    "Status",
    "Draft",
    "Manager",
    "Call",
    "Unreachable",
    "Won",
    "Proposal",
    "Qualified",
    "Handed",
    "Hand",
    "days",
    "open leads",
)


def english_leftovers(text: str) -> list[str]:
    return [
        word
        for word in ENGLISH_LEFTOVERS
        if re.search(rf"(?<![A-Za-z]){re.escape(word)}(?![A-Za-z])", text)
    ]


def assert_language(page: Page, lang: str, *, leftovers: bool = True) -> None:
    """The page is in `lang`; a Chinese page has no English leftovers in its main region
    (`leftovers=False` where the data itself is in English, as in the demo company)."""
    assert page.locator("html").get_attribute("lang") == lang, page.url
    if lang == "zh-hans" and leftovers:
        text = page.locator("main").inner_text()
        found = english_leftovers(text)
        assert not found, f"English left on {page.url}: {found}\n---\n{text}"


def mark(page: Page) -> None:
    """Tag the document; a full reload loses the tag."""
    page.evaluate("() => { window.__marker = 1 }")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("() => window.__marker") == 1, f"{page.url} was fully reloaded"


def wait_htmx_idle(page: Page, quiet_ms: int = 1800) -> None:
    """Wait until no htmx request has been in flight for `quiet_ms` (longer than any delayed
    trigger on the page, so no request is still pending behind a timer)."""
    page.evaluate("() => { window.__htmxBusyAt = Date.now() }")
    page.wait_for_function(
        """(quiet) => {
            const now = Date.now();
            if (document.querySelector('.htmx-request')) window.__htmxBusyAt = now;
            return now - window.__htmxBusyAt >= quiet;
        }""",
        arg=quiet_ms,
        polling=50,
        timeout=15_000,
    )


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, step: float = 0.2) -> Any:
    """Poll `predicate` (for database state: Playwright delivers page events only while one
    of its own calls waits, never during this sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(step)


def local_date(days: int) -> str:
    """An ISO date `days` from today in the users' zone (Asia/Shanghai by default)."""
    return (timezone.localdate() + dt.timedelta(days=days)).isoformat()


def set_language(lang: str, *users: User) -> None:
    for user in users:
        user.language = lang
        user.save(update_fields=["language"])


# --- The demo company (the screenshots) ------------------------------------------------------

DEMO_PASSWORD = "kaopu-demo-2026"  # crm/management/commands/seed_demo.py


def seed_demo() -> None:
    """The demo company (seed_demo) with one pass of the coach over it."""
    call_command("seed_demo", stdout=io.StringIO())
    process_pending_events(limit=100_000)
    run_scans()


def demo_people(lang: str) -> tuple[User, User]:
    """The demo's manager (li.ge) and one of her reps (xiao.guang), both set to `lang`."""
    manager = User.objects.get(username="li.ge")
    rep = User.objects.get(username="xiao.guang")
    set_language(lang, manager, rep)
    return manager, rep


class Browsing:
    """Browser contexts for the people in a test, with a console watch on every page."""

    def __init__(self, browser: Browser, base_url: str) -> None:
        self.browser = browser
        self.base_url = base_url.rstrip("/")
        self.contexts: list[BrowserContext] = []
        self.problems: list[str] = []

    def url(self, path: str) -> str:
        return self.base_url + path

    def _watch(self, page: Page) -> None:
        def on_console(message: ConsoleMessage) -> None:
            text = message.text
            if message.type == "error" or "Content Security Policy" in text:
                # The app answers a form with errors with 422 and htmx swaps it in place
                # (see base.html's htmx-config); Chromium logs any 4xx as a failed load.
                if "the server responded with a status of 422" in text:
                    return
                where = message.location.get("url", "") if message.location else ""
                self.problems.append(f"console {message.type} on {page.url}: {text} ({where})")

        page.on("console", on_console)
        page.on(
            "pageerror", lambda error: self.problems.append(f"page error on {page.url}: {error}")
        )

    def new_page(self, lang: str = "en", *, service_workers: str = "allow") -> Page:
        """A page in a new browser context. `service_workers="block"` for a test that cuts or
        fakes the network with page.route(): Kaopu's service worker takes over a page a moment
        after it loads, and requests passing through a service worker escape page.route(), so
        such a test would race it."""
        context = self.browser.new_context(
            base_url=self.base_url,
            viewport={"width": 1280, "height": 900},
            locale="zh-CN" if lang == "zh-hans" else "en-US",
            timezone_id="Asia/Shanghai",
            service_workers=service_workers,  # type: ignore[arg-type]
        )
        context.set_default_timeout(10_000)
        context.on("page", self._watch)
        self.contexts.append(context)
        return context.new_page()

    def log_in(
        self, user: User, password: str = PASSWORD, *, service_workers: str = "allow"
    ) -> Page:
        """A new browser for `user`, signed in through the login form, on My day."""
        page = self.new_page(user.language, service_workers=service_workers)
        page.goto(f"/login/?lang={user.language}")
        assert page.locator("html").get_attribute("lang") == user.language
        page.locator("#id_username").fill(user.username)
        page.locator("#id_password").fill(password)
        page.locator("main button[type=submit]").click()
        page.wait_for_url(self.url("/"))
        return page


# --- The coach, working in the background --------------------------------------------------


class CoachWorker:
    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, name="coach-worker", daemon=True)

    def _run(self) -> None:
        from coaching.services import process_pending_events

        try:
            while not self.stop.is_set():
                close_old_connections()
                try:
                    process_pending_events()
                except Exception as error:  # keep going, report at the end
                    self.errors.append(error)
                self.stop.wait(self.interval)
        finally:
            connection.close()

    def drained(self) -> bool:
        return not DomainEvent.objects.filter(processed_at__isnull=True).exists()
