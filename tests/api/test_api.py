"""The JSON API: tokens (made and revoked on a page, stored as a hash), the same visibility as
the pages (invisible → 404), one error format in the user's language, the rate limit, and a
property-based run against its own OpenAPI document with no server error."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from api.models import ApiToken
from api.services import token_create, token_hash
from coaching.models import Nudge, NudgeState
from crm.models import Activity, Lead, Report, ReportState
from tests.crm.test_visibility import LEADS, ROLES, VISIBLE

if TYPE_CHECKING:
    from crm.models import User
    from tests.conftest import Company


@pytest.fixture(autouse=True)
def _fresh_rate_counters() -> None:
    cache.clear()


class Api:
    """A client holding a token, speaking JSON."""

    def __init__(self, user: User, token: str | None = None) -> None:
        self.user = user
        self.token = token or token_create(user=user, name="tests")[1]
        self.client = Client(enforce_csrf_checks=True)

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"}
        send = getattr(self.client, method)
        if method == "get":
            return send(f"/api{path}", params, headers=headers)
        return send(
            f"/api{path}",
            json.dumps(body or {}),
            content_type="application/json",
            headers=headers,
        )

    def get(self, path: str, **params: Any) -> Any:
        return self.call("get", path, **params)

    def post(self, path: str, body: Any = None) -> Any:
        return self.call("post", path, body)

    def patch(self, path: str, body: Any = None) -> Any:
        return self.call("patch", path, body)


def api_for(user: User, language: str = "en") -> Api:
    if user.language != language:
        user.language = language
        user.save(update_fields=["language"])
    return Api(user)


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


# --- Tokens -------------------------------------------------------------------------------------


def test_a_token_is_made_on_the_profile_page_shown_once_and_stored_as_a_hash(
    company: Company, client_for: Any
) -> None:
    page = client_for(company.rep_a1)
    assert reverse("api-tokens") in page.get(reverse("profile")).content.decode()
    made = page.post(reverse("api-tokens"), {"name": "Excel macro"})
    assert made.status_code == 200
    assert made["Cache-Control"] == "no-store"
    body = made.content.decode()
    row = ApiToken.objects.get(user=company.rep_a1)
    token = body.split('<code class="token">')[1].split("</code>")[0]
    assert token.startswith("kp_") and len(token) > 40
    assert row.key_hash == token_hash(token)
    assert token not in {row.key_hash, row.prefix, row.name}
    # Shown once: the next visit lists it by name and first characters only.
    again = page.get(reverse("api-tokens")).content.decode()
    assert token not in again and row.prefix in again and "Excel macro" in again

    api = Api(company.rep_a1, token)
    assert api.get("/leads").status_code == 200
    assert ApiToken.objects.get(pk=row.pk).last_used_at is not None

    revoked = page.post(reverse("api-token-revoke", args=[row.pk]))
    assert revoked.status_code == 302
    assert_error(api.get("/leads"), 401, "unauthorized")


def test_nobody_revokes_someone_elses_token(company: Company, client_for: Any) -> None:
    row, token = token_create(user=company.rep_a1, name="mine")
    other = client_for(company.manager_a)
    assert other.post(reverse("api-token-revoke", args=[row.pk])).status_code == 404
    assert Api(company.rep_a1, token).get("/leads").status_code == 200


def test_a_token_of_a_deactivated_user_stops_working(company: Company) -> None:
    api = api_for(company.rep_a1)
    company.rep_a1.is_active = False
    company.rep_a1.save()
    assert_error(api.get("/leads"), 401, "unauthorized")


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Bearer kp_nonsense", "Token kp_x", "Basic dXNlcjpwYXNz"],
)
def test_without_a_valid_token_401(company: Company, header: str) -> None:
    client = Client()
    response = client.get("/api/leads", headers={"Authorization": header} if header else {})
    error = assert_error(response, 401, "unauthorized")
    assert "Bearer" in error["message"]


def test_a_signed_in_browser_session_is_not_enough(company: Company, client_for: Any) -> None:
    """Session cookies are not accepted: no token, no API (and so no CSRF exposure)."""
    browser = client_for(company.manager_a)
    assert_error(browser.get("/api/leads"), 401, "unauthorized")
    assert_error(
        browser.post(
            "/api/leads", {"company": "X", "source": "brand"}, content_type="application/json"
        ),
        401,
        "unauthorized",
    )
    assert not Lead.objects.filter(company="X").exists()


def test_token_calls_need_no_csrf_token(company: Company) -> None:
    api = api_for(company.manager_a)  # its client enforces CSRF checks like a browser
    response = api.post("/leads", {"company": "Zulu Ltd", "source": "referral"})
    assert response.status_code == 201, response.content
    lead = Lead.objects.get(company="Zulu Ltd")
    assert (lead.team, lead.owner) == (company.team_a, None)


# --- Errors -------------------------------------------------------------------------------------


def test_error_format_for_each_kind_of_error(company: Company) -> None:
    api = api_for(company.manager_a)
    assert_error(api.get("/leads/999999"), 404, "not_found")
    assert_error(api.get("/no-such-thing"), 404, "not_found")
    invalid = assert_error(api.post("/leads", {"source": "nowhere"}), 422, "invalid")
    assert set(invalid["fields"]) == {"company", "source"}
    refused = assert_error(
        api.post("/leads", {"company": "  ", "source": "brand", "next_step_due": "2026-01-01"}),
        422,
        "invalid",
    )
    assert set(refused["fields"]) == {"company", "next_step"}
    bad_json = api.client.post(
        "/api/leads",
        "{not json",
        content_type="application/json",
        headers={"Authorization": f"Bearer {api.token}"},
    )
    assert_error(bad_json, 400, "bad_request")
    bad_filter = assert_error(api.get("/leads", stage="sideways"), 422, "invalid")
    assert "stage" in bad_filter["fields"]


def test_errors_speak_the_users_language(company: Company) -> None:
    api = api_for(company.manager_a, language="zh-hans")
    missing = assert_error(api.post("/leads", {"source": "brand"}), 422, "invalid")
    assert missing["fields"]["company"] == "这个字段是必填项。"
    refused = assert_error(api.post("/leads", {"company": " ", "source": "brand"}), 422, "invalid")
    assert refused["fields"]["company"] == "商机必须填写公司名称。"
    assert assert_error(api.get("/leads/999999"), 404, "not_found")["message"] == "未找到。"


def test_rate_limit_answers_429_in_the_error_format(company: Company, settings: Any) -> None:
    settings.KAOPU_API_RATE_LIMIT = 5
    api = api_for(company.rep_a1)
    other = api_for(company.rep_b1)
    # Stay within one minute window.
    if time.time() % 60 > 55:
        time.sleep(61 - time.time() % 60)
    assert [api.get("/leads").status_code for _ in range(5)] == [200] * 5
    limited = api.get("/leads")
    error = assert_error(limited, 429, "rate_limited")
    assert 1 <= int(limited["Retry-After"]) <= 61
    assert "5" in error["message"]
    # Per token: another token is not limited.
    assert other.get("/leads").status_code == 200


# --- Visibility: every role × every lead × every lead endpoint ---------------------------------


def _lead_endpoints(api: Api, lead: Lead, company: Company) -> dict[str, Any]:
    return {
        "get": api.get(f"/leads/{lead.pk}"),
        "patch": api.patch(f"/leads/{lead.pk}", {"notes": f"seen by {api.user.username}"}),
        "activities": api.get(f"/leads/{lead.pk}/activities"),
        "log": api.post(f"/leads/{lead.pk}/activities", {"kind": "call", "note": "api"}),
        "handoff": api.post(
            f"/leads/{lead.pk}/handoff", {"to_user_id": company.rep_a1.pk, "note": "x"}
        ),
        "report": api.post(
            "/reports", {"lead_id": lead.pk, "status_now": "Waiting", "kind": "progress"}
        ),
    }


@pytest.mark.parametrize("role", ROLES)
def test_visibility_matrix_over_the_api(company: Company, role: str) -> None:
    user = company.people[role]
    api = api_for(user)
    listed = {item["company"] for item in api.get("/leads").json()["items"]}
    assert listed == {company.leads[name].company for name in VISIBLE[role]}
    for name in LEADS:
        lead = Lead.objects.get(pk=company.leads[name].pk)
        before_notes = lead.notes
        before_activities = Activity.objects.filter(lead=lead).count()
        responses = _lead_endpoints(api, lead, company)
        if name in VISIBLE[role]:
            for endpoint, response in responses.items():
                assert response.status_code != 404, (role, name, endpoint)
            assert responses["get"].json()["id"] == lead.pk
        else:
            for endpoint, response in responses.items():
                assert response.status_code == 404, (role, name, endpoint)
                assert_error(response, 404, "not_found")
            lead.refresh_from_db()
            assert lead.notes == before_notes
            assert Activity.objects.filter(lead=lead).count() == before_activities
            assert lead.owner_id == company.leads[name].owner_id


def test_report_and_nudge_visibility(company: Company) -> None:
    rep = api_for(company.rep_a1)
    made = rep.post(
        "/reports", {"status_now": "All quiet", "next_step": "Visit", "kind": "progress"}
    )
    assert made.status_code == 201, made.content
    report = Report.objects.get(pk=made.json()["id"])
    assert report.state == ReportState.SUBMITTED
    assert rep.get(f"/reports/{report.pk}").status_code == 200
    assert [r["id"] for r in rep.get("/reports").json()["items"]] == [report.pk]
    manager = api_for(company.manager_a)
    assert [r["id"] for r in manager.get("/reports", scope="team").json()["items"]] == [report.pk]
    assert manager.get(f"/reports/{report.pk}").status_code == 200
    for outsider in (company.manager_b, company.rep_a2, company.director):
        assert_error(api_for(outsider).get(f"/reports/{report.pk}"), 404, "not_found")
    assert api_for(company.manager_b).get("/reports", scope="team").json()["items"] == []
    # A failed submit leaves no draft behind.
    rejected = rep.post("/reports", {"kind": "question"})
    assert_error(rejected, 422, "invalid")
    assert Report.objects.filter(author=company.rep_a1).count() == 1

    nudge = Nudge.objects.create(
        recipient=company.rep_a1, rule_id="stalled_lead", lead=company.lead_a1, key="t-1"
    )
    listed = rep.get("/nudges").json()["items"]
    assert [n["id"] for n in listed] == [nudge.pk]
    assert listed[0]["title"]
    for outsider in (company.manager_a, company.rep_a2):
        other = api_for(outsider)
        assert other.get("/nudges").json()["items"] == []
        assert_error(other.post(f"/nudges/{nudge.pk}/dismiss", {"reason": "x"}), 404, "not_found")
    until = (timezone.now() + dt.timedelta(days=2)).isoformat()
    snoozed = rep.post(f"/nudges/{nudge.pk}/snooze", {"until": until})
    assert snoozed.status_code == 200 and snoozed.json()["state"] == NudgeState.SNOOZED
    past = rep.post(f"/nudges/{nudge.pk}/snooze", {"until": "2001-01-01T00:00:00"})
    assert "until" in assert_error(past, 422, "invalid")["fields"]
    dismissed = rep.post(f"/nudges/{nudge.pk}/dismiss", {"reason": "Already called them"})
    assert dismissed.json()["state"] == NudgeState.DISMISSED
    assert_error(rep.post(f"/nudges/{nudge.pk}/dismiss", {"reason": "again"}), 422, "invalid")


# --- Behaviour ----------------------------------------------------------------------------------


def test_leads_list_filters_and_pages(company: Company) -> None:
    api = api_for(company.manager_a)
    for i in range(7):
        api.post("/leads", {"company": f"Paged {i}", "source": "website", "value": str(100 * i)})
    page = api.get("/leads", q="Paged", sort="-value", page_size=3, page=2).json()
    assert page["count"] == 7
    assert [item["company"] for item in page["items"]] == ["Paged 3", "Paged 2", "Paged 1"]
    pool = api.get("/leads", owner="none").json()
    assert {i["company"] for i in pool["items"]} >= {"Pool Foods", "Paged 0"}
    assert all(item["owner_id"] is None for item in pool["items"])
    assert_error(api.get("/leads", page_size=1000), 422, "invalid")


def test_list_query_counts_do_not_grow_with_rows(
    company: Company, django_assert_max_num_queries: Any
) -> None:
    manager = api_for(company.manager_a)
    for i in range(30):
        manager.post("/leads", {"company": f"Counted {i}", "source": "brand"})
        manager.post(f"/leads/{company.lead_a1.pk}/activities", {"kind": "note", "note": str(i)})
    with django_assert_max_num_queries(7):
        assert len(manager.get("/leads", page_size=100).json()["items"]) == 33
    with django_assert_max_num_queries(6):
        assert manager.get(f"/leads/{company.lead_a1.pk}/activities").json()["count"] == 30
    with django_assert_max_num_queries(6):
        manager.get("/reports", scope="team")


def test_update_hand_off_and_activities(company: Company) -> None:
    manager = api_for(company.manager_a)
    pool = company.lead_a_pool
    patched = manager.patch(f"/leads/{pool.pk}", {"value": "2500.50", "next_step_due": None})
    assert patched.status_code == 200, patched.content
    assert patched.json()["value"] in ("2500.50", 2500.5)
    assert patched.json()["company"] == "Pool Foods"  # untouched
    handed = manager.post(f"/leads/{pool.pk}/handoff", {"to_user_id": company.rep_a2.pk})
    assert handed.json()["moved"] == 1 and handed.json()["lead"]["owner_id"] == company.rep_a2.pk
    wrong_team = manager.post(f"/leads/{pool.pk}/handoff", {"to_user_id": company.rep_b1.pk})
    assert "own team" in assert_error(wrong_team, 422, "invalid")["message"]
    rep_handoff = api_for(company.rep_a2).post(
        f"/leads/{pool.pk}/handoff", {"to_user_id": company.rep_a1.pk}
    )
    assert_error(rep_handoff, 403, "forbidden")

    rep = api_for(company.rep_a2)
    logged = rep.post(f"/leads/{pool.pk}/activities", {"kind": "visit", "outcome": "interested"})
    assert logged.status_code == 201
    future = rep.post(
        f"/leads/{pool.pk}/activities",
        {"kind": "call", "happened_at": (timezone.now() + dt.timedelta(days=1)).isoformat()},
    )
    assert "happened_at" in assert_error(future, 422, "invalid")["fields"]
    for epoch in (0, "0", 1_700_000_000):  # a Unix timestamp is not a 1970 (or any) activity
        refused = rep.post(f"/leads/{pool.pk}/activities", {"kind": "call", "happened_at": epoch})
        assert "happened_at" in assert_error(refused, 422, "invalid")["fields"]
    items = rep.get(f"/leads/{pool.pk}/activities").json()["items"]
    assert [(a["kind"], a["author_id"]) for a in items] == [("visit", company.rep_a2.pk)]


def test_docs_are_served_without_a_token_and_without_cdn(company: Company) -> None:
    docs = Client().get("/api/docs")
    assert docs.status_code == 200
    assert "cdn" not in docs.content.decode().lower()
    schema = Client().get("/api/openapi.json").json()
    assert "/api/leads/{lead_id}/handoff" in schema["paths"]
    assert schema["components"]["securitySchemes"]


# --- Property-based: the OpenAPI document against the running app -------------------------------


@contextlib.contextmanager
def connection_kept_open() -> Iterator[None]:
    """The WSGI app (unlike Django's test client) closes the database connection around each
    request, which would end the test's transaction: keep it open, as the test client does."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_schemathesis_finds_no_server_error(company: Company, settings: Any) -> None:
    """Generated requests, valid and invalid, for every operation, through the WSGI app in
    this process: never a 5xx, and every answer has a documented status, content type and
    shape. A fixed number of examples per operation, not a time budget: on a loaded machine a
    budget skipped the last operations (and their 5xx, if any) instead of taking longer."""
    import hypothesis
    import schemathesis
    from django.core.wsgi import get_wsgi_application
    from schemathesis.generation import GenerationMode

    settings.KAOPU_API_RATE_LIMIT = 1_000_000
    token = token_create(user=company.manager_a, name="fuzz")[1]
    rep_token = token_create(user=company.rep_a1, name="fuzz")[1]
    failures: list[str] = []
    calls = 0
    tried: set[tuple[str, str]] = set()
    checks = [
        schemathesis.checks.not_a_server_error,
        schemathesis.checks.status_code_conformance,
        schemathesis.checks.content_type_conformance,
        schemathesis.checks.response_schema_conformance,
    ]

    def run(operation: Any, mode: GenerationMode) -> None:
        @hypothesis.settings(
            max_examples=20,
            deadline=None,
            database=None,
            suppress_health_check=list(hypothesis.HealthCheck),
            phases=[hypothesis.Phase.generate],
        )
        @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
        def check(case: Any) -> None:
            nonlocal calls
            calls += 1
            tried.add((f"{operation.method} {operation.path}", str(mode)))
            who = rep_token if calls % 3 == 0 else token
            response = case.call(headers={"Authorization": f"Bearer {who}"})
            if response.status_code >= 500:
                failures.append(f"{operation.method} {operation.path} [{mode}]: {response.text}")
            case.validate_response(response, checks=checks)

        check()

    with connection_kept_open():
        schema = schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application())
        operations = [result.ok() for result in schema.get_all_operations()]
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                run(operation, mode)
    assert failures == []
    assert len(operations) >= 23
    # Every operation was called with valid and with invalid input.
    assert len(tried) == 2 * len(operations)
    assert calls > 400
