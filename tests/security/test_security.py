"""Attacks tried: headers on every URL, login lock-out, sessions, XSS, CSRF, open redirects,
SQL in parameters, smuggled fields, the audit trail, and the deploy checklist."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import translation

from coaching import services as coach
from coaching.models import Nudge
from coaching.rules import NudgeSpec
from crm import services
from crm.models import AuditEntry, Lead, Report, User
from tests.conftest import Company

ROOT = Path(__file__).resolve().parents[2]
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def _names(patterns: list, prefix: str = "", ns: str = "") -> list[tuple[str, str]]:
    found = []
    for p in patterns:
        if isinstance(p, URLResolver):
            if p.namespace == "admin":
                continue
            inner = f"{ns}{p.namespace}:" if p.namespace else ns
            found += _names(p.url_patterns, prefix + str(p.pattern), inner)
        elif (
            isinstance(p, URLPattern)
            and p.name
            and "<" not in str(p.pattern).replace("<int:pk>", "").replace("<int:team_id>", "")
        ):
            found.append((ns + p.name, prefix + str(p.pattern)))
    return found


def _url(name: str, route: str, ids: dict[str, int]) -> str:
    if "<int:pk>" in route:
        kind = "lead" if route.startswith("leads/") else "report"
        kind = "nudge" if "nudges" in route else kind
        return reverse(name, args=[ids[kind]])
    if "<int:team_id>" in route:
        return reverse(name, args=[ids["team"]])
    return reverse(name)


@pytest.fixture
def ids(company: Company) -> dict[str, int]:
    report = services.report_save_draft(
        author=company.rep_a1,
        lead=company.lead_a1,
        data={"kind": "progress", "status_now": "fine", "next_step": "call"},
    )
    services.report_submit(author=company.rep_a1, report=report)
    (nudge,) = coach.create_nudges([NudgeSpec("low_contact", company.admin.pk, context={})])
    return {
        "lead": company.lead_a1.pk,
        "report": report.pk,
        "nudge": nudge.pk,
        "team": company.team_a.pk,
    }


def test_every_url_sends_the_security_headers(company: Company, ids: dict[str, int]) -> None:
    admin = Client()
    admin.force_login(company.admin)
    anonymous = Client()
    urls = [_url(n, r, ids) for n, r in _names(get_resolver().url_patterns)]
    urls += ["/admin/", "/admin/login/", "/login/", "/does-not-exist/"]
    assert len(urls) > 30
    problems = []
    for url in urls:
        for who, client in (("admin", admin), ("anonymous", anonymous)):
            response = client.get(url)
            csp = response.headers.get("Content-Security-Policy", "")
            checks = {
                "csp": "default-src 'self'" in csp,
                "frame-ancestors": "frame-ancestors 'none'" in csp,
                "no unsafe-inline": "unsafe-inline" not in csp,
                "nosniff": response.headers.get("X-Content-Type-Options") == "nosniff",
                "frame": response.headers.get("X-Frame-Options") == "DENY",
                "referrer": response.headers.get("Referrer-Policy") == "same-origin",
                "no 500": response.status_code < 500,
            }
            problems += [f"{who} {url}: {k}" for k, ok in checks.items() if not ok]
    assert problems == []


def test_pages_have_no_inline_script_or_style(company: Company, ids: dict[str, int]) -> None:
    client = Client()
    client.force_login(company.manager_a)
    for name, route in _names(get_resolver().url_patterns):
        response = client.get(_url(name, route, ids))
        if response.status_code != 200 or "text/html" not in response.headers["Content-Type"]:
            continue
        html = response.content.decode()
        for tag in re.findall(r"<script\b[^>]*>", html):
            if 'type="application/json"' in tag:
                continue  # a data block: never executed
            # No inline code; scripts come from our own static files, never a CDN.
            assert re.search(r'src="/static/', tag), (name, tag)
        assert not re.search(r"\sstyle=", html), name
        assert "<style" not in html, name
        assert not re.search(r"\son[a-z]+=", html), name


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_five_failed_logins_lock_the_account_for_this_address(
    company: Company, language: str
) -> None:
    client = Client(REMOTE_ADDR="10.0.0.7")
    url = reverse("login") + f"?lang={language}"
    for _ in range(4):
        response = client.post(url, {"username": "rep_a1", "password": "wrong-password-123"})
        assert response.status_code == 200
    # The fifth failure locks; even the right password is refused now.
    fifth = client.post(url, {"username": "rep_a1", "password": "wrong-password-123"})
    assert fifth.status_code == 429
    locked = client.post(url, {"username": "rep_a1", "password": "correct-horse-battery"})
    assert locked.status_code == 429
    with translation.override(language):
        message = translation.gettext(
            "Too many failed sign-ins. For your safety this account is locked for 15 minutes here."
        )
    assert message in locked.content.decode()
    assert "_auth_user_id" not in client.session
    # Another address is not locked out, and signs in.
    other = Client(REMOTE_ADDR="10.0.0.8")
    response = other.post(
        reverse("login"), {"username": "rep_a1", "password": "correct-horse-battery"}
    )
    assert response.status_code == 302


def test_session_rotates_at_login_and_dies_at_logout(company: Company) -> None:
    client = Client()
    client.get(reverse("login"))
    client.cookies["sessionid"] = "attacker-chosen-session-key"
    client.post(reverse("login"), {"username": "rep_a1", "password": "correct-horse-battery"})
    key = client.cookies["sessionid"].value
    assert key != "attacker-chosen-session-key"
    assert client.get(reverse("my-day")).status_code == 200
    client.post(reverse("logout"))
    thief = Client()
    thief.cookies["sessionid"] = key
    assert thief.get(reverse("my-day")).status_code == 302


def test_password_change_ends_other_sessions(company: Company) -> None:
    phone = Client()
    phone.post(reverse("login"), {"username": "rep_a1", "password": "correct-horse-battery"})
    assert phone.get(reverse("my-day")).status_code == 200
    user = User.objects.get(username="rep_a1")
    user.set_password("an-entirely-new-passphrase-42")
    user.save()
    assert phone.get(reverse("my-day")).status_code == 302


def test_short_passwords_are_refused() -> None:
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        validate_password("short-pw-1")
    validate_password("a-long-enough-passphrase")


@pytest.mark.parametrize(
    "target", ["//evil.example", "/\\evil.example", "javascript:alert(1)", "https://evil.example/"]
)
def test_login_next_never_leaves_the_site(company: Company, target: str) -> None:
    client = Client()
    response = client.post(
        reverse("login") + "?next=" + target,
        {"username": "rep_a1", "password": "correct-horse-battery", "next": target},
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/") and not location.startswith(("//", "/\\"))
    assert "evil" not in location and "javascript" not in location


def test_xss_payloads_render_escaped_everywhere(company: Company, ids: dict[str, int]) -> None:
    lead = services.lead_update(
        actor=company.manager_a,
        lead=company.lead_a1,
        data={
            "company": XSS,
            "contact_name": XSS,
            "competitor": XSS,
            "next_step": XSS,
            "notes": XSS,
            "phone": XSS[:40],
        },
    )
    services.activity_log(actor=company.rep_a1, lead=lead, kind="call", outcome="reached", note=XSS)
    report = services.report_save_draft(
        author=company.rep_a1,
        lead=lead,
        data={"kind": "escalation", "status_now": XSS, "next_step": XSS, "ask": XSS},
    )
    services.report_submit(author=company.rep_a1, report=report)
    services.report_reply(actor=company.manager_a, report=report, body=XSS)
    coach.create_nudges(
        [
            NudgeSpec(
                "stalled_lead",
                company.rep_a1.pk,
                lead_id=lead.pk,
                context={"company": XSS, "days": 20},
            )
        ]
    )
    pages = [
        reverse("my-day"),
        reverse("lead-list"),
        reverse("lead-list") + "?q=" + "alert",
        reverse("lead-board"),
        reverse("lead-detail", args=[lead.pk]),
        reverse("lead-edit", args=[lead.pk]),
        reverse("report-detail", args=[report.pk]),
        reverse("report-inbox"),
        reverse("my-manager"),
        reverse("coach-nudges"),
        reverse("lead-handoff") + "?show=all",
    ]
    unescaped = []
    for user in (company.rep_a1, company.manager_a):
        client = Client()
        client.force_login(user)
        for url in pages:
            for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
                html = client.get(url, **headers).content.decode()
                if "<script>alert" in html or "<img src=x onerror" in html:
                    unescaped.append(f"{user.username} {url} {headers}")
    assert unescaped == []


def test_unsafe_endpoints_refuse_requests_without_csrf(
    company: Company, ids: dict[str, int]
) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(company.manager_a)
    posts = [
        reverse("lead-create"),
        reverse("lead-edit", args=[ids["lead"]]),
        reverse("lead-log-activity", args=[ids["lead"]]),
        reverse("lead-change-stage", args=[ids["lead"]]),
        reverse("lead-handoff"),
        reverse("report-create"),
        reverse("report-acknowledge", args=[ids["report"]]),
        reverse("report-reply", args=[ids["report"]]),
        reverse("report-answer-ask", args=[ids["report"]]),
        reverse("report-decide", args=[ids["report"]]),
        reverse("profile"),
        reverse("logout"),
        reverse("coach-nudge-snooze", args=[ids["nudge"]]),
        reverse("coach-nudge-dismiss", args=[ids["nudge"]]),
        reverse("coach-thanks"),
        reverse("coach-year-end"),
        reverse("coach-settings"),
        reverse("coach-preferences"),
    ]
    for url in posts:
        for headers in ({}, {"HTTP_HX_REQUEST": "true", "HTTP_X_CSRFTOKEN": "wrong"}):
            assert client.post(url, {"note": "x"}, **headers).status_code == 403, url


@pytest.mark.parametrize(
    "query",
    [
        "sort=company;DROP TABLE crm_lead",
        "sort=-value' OR '1'='1",
        "stage=won' UNION SELECT 1--",
        "owner=1 OR 1=1",
        "owner=../../etc",
        "source=%27",
        "page=-1",
        "page=99999999999999999999",
        "view=stalled%00",
    ],
)
def test_sql_in_parameters_is_never_a_500(company: Company, query: str) -> None:
    client = Client()
    client.force_login(company.manager_a)
    assert client.get(reverse("lead-list") + "?" + query).status_code == 200
    assert client.get(reverse("report-inbox") + "?" + query).status_code == 200
    assert Lead.objects.count() == 4


def test_smuggled_fields_are_ignored(company: Company) -> None:
    client = Client()
    client.force_login(company.rep_a1)
    client.post(
        reverse("profile"),
        {
            "language": "en",
            "time_zone": "UTC",
            "is_staff": "on",
            "is_superuser": "on",
            "role": "admin",
        },
    )
    rep = User.objects.get(pk=company.rep_a1.pk)
    assert (rep.is_staff, rep.is_superuser, rep.role) == (False, False, "rep")
    client.post(
        reverse("lead-create"),
        {
            "company": "Smuggle Ltd",
            "source": "website",
            "value": "1",
            "currency": "CNY",
            "owner": company.rep_a2.pk,
            "team": company.team_b.pk,
            "stage": "won",
        },
    )
    lead = Lead.objects.get(company="Smuggle Ltd")
    assert (lead.owner_id, lead.team_id, lead.stage) == (
        company.rep_a1.pk,
        company.team_a.pk,
        "new",
    )


def test_sensitive_changes_leave_an_audit_row_with_the_address(
    company: Company, ids: dict[str, int]
) -> None:
    manager = Client(REMOTE_ADDR="192.0.2.10")
    manager.force_login(company.manager_a)
    manager.post(
        reverse("lead-handoff"), {"leads": [company.lead_a_pool.pk], "to_user": company.rep_a2.pk}
    )
    manager.post(
        reverse("lead-change-stage", args=[company.lead_a_pool.pk]), {"to_stage": "contacted"}
    )
    manager.post(reverse("report-acknowledge", args=[ids["report"]]))
    admin = Client(REMOTE_ADDR="192.0.2.99")
    admin.force_login(company.admin)
    admin.post(
        f"/admin/crm/team/{company.team_b.pk}/change/",
        {
            "name": "Team B renamed",
            "manager": company.manager_b.pk,
            "director": company.director.pk,
            "created_at_0": "2026-01-01",
            "created_at_1": "10:00:00",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )
    rows = {(e.action, e.ip_address) for e in AuditEntry.objects.all()}
    assert ("lead.handed_down", "192.0.2.10") in rows
    assert ("lead.stage_changed", "192.0.2.10") in rows
    assert ("report.acknowledged", "192.0.2.10") in rows
    assert ("admin.changed", "192.0.2.99") in rows, rows
    page = admin.get(reverse("audit-trail"))
    assert page.status_code == 200 and "lead.handed_down" in page.content.decode()
    rep = Client()
    rep.force_login(company.rep_a1)
    assert rep.get(reverse("audit-trail")).status_code == 404
    assert Report.objects.filter(pk=ids["report"], acknowledged_at__isnull=False).exists()


def test_nudges_of_others_are_404(company: Company, ids: dict[str, int]) -> None:
    client = Client()
    client.force_login(company.rep_a1)
    url = reverse("coach-nudge-dismiss", args=[ids["nudge"]])
    assert client.post(url, {"reason": "not mine"}).status_code == 404
    assert Nudge.objects.get(pk=ids["nudge"]).state == "open"


def test_check_deploy_with_production_settings_is_clean() -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "EMAIL_", "DATABASE_"))
    }
    env |= {
        "DJANGO_SECRET_KEY": "k" * 20 + "-production-secret-with-enough-entropy-9f8e7d6c5b4a",
        "DJANGO_ALLOWED_HOSTS": "crm.example.com",
        "DJANGO_SECURE_SSL_REDIRECT": "1",
        "DJANGO_SECURE_COOKIES": "1",
        "DJANGO_SECURE_HSTS_SECONDS": "31536000",
        "EMAIL_HOST": "smtp.example.com",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_debug_is_off_without_the_env_switch() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    out = subprocess.run(
        [sys.executable, "-c", "from config import settings; print(settings.DEBUG)"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "False"


def test_htmx_never_copies_a_style_attribute_the_policy_would_block(company: Company) -> None:
    """htmx "settles" a swap by copying the old element's settle attributes onto the new one
    with setAttribute; a `style` (a textarea the user resized) is then an inline style the CSP
    blocks, with a console error and a report on every swap. The policy stays as strict; htmx
    is told not to copy `style` (no page here carries one)."""
    client = Client()
    client.force_login(company.rep_a1)
    html = client.get(company.lead_a1.get_absolute_url()).content.decode()
    match = re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", html)
    assert match is not None
    config = json.loads(match.group(1))
    assert "style" not in config["attributesToSettle"]
    assert {"class", "width", "height"} <= set(config["attributesToSettle"])
    assert config["includeIndicatorStyles"] is False
    csp = client.get(company.lead_a1.get_absolute_url()).headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp
