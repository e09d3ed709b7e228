"""Who sees which lead: every role against every lead, on every lead page and action.

A lead one may not see does not exist for them: 404, and nothing changes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse

from api.services import token_create
from crm import services
from crm.models import Activity, ContactRole, Lead, LeadContact, LeadEvent, Source, User
from crm.permissions import visible_leads
from crm.pipeline import Stage
from tests.factories import lead_new

if TYPE_CHECKING:
    from django.http import HttpResponse

    from tests.conftest import Company

LEADS = ("lead_a1", "lead_a2", "lead_a_pool", "lead_b1")

# The matrix: X = the role sees the lead, . = it does not exist for them.
#                     lead_a1  lead_a2  lead_a_pool  lead_b1
MATRIX_TABLE = """
admin                 X        X        X            X
director              X        X        X            X
other_director        .        .        .            .
manager_a             X        X        X            .
manager_b             .        .        .            X
rep_a1                X        .        .            .
rep_a2                .        X        .            .
rep_b1                .        .        .            X
"""


def _parse_matrix(table: str) -> dict[str, set[str]]:
    matrix: dict[str, set[str]] = {}
    for line in table.strip().splitlines():
        role, *marks = line.split()
        assert len(marks) == len(LEADS), line
        matrix[role] = {lead for lead, mark in zip(LEADS, marks, strict=True) if mark == "X"}
    return matrix


VISIBLE = _parse_matrix(MATRIX_TABLE)
ROLES = tuple(VISIBLE)


def test_matrix_table_covers_every_role_and_lead(company: Company) -> None:
    assert set(VISIBLE) == set(company.people)
    assert set(LEADS) == set(company.leads)


def _edit_payload(lead: Lead, company_name: str) -> dict[str, str]:
    return {
        "company": company_name,
        "contact_name": lead.contact_name,
        "phone": lead.phone,
        "email": lead.email,
        "source": Source.REFERRAL,
        "value": "4321",
        "currency": lead.currency,
        "expected_close": "",
        "tender_date": "",
        "competitor": "",
        "next_step": "",
        "next_step_due": "",
        "notes": "",
    }


@dataclass(frozen=True)
class Action:
    """One thing a user may try on a lead, and how to tell whether it took effect."""

    name: str
    method: str
    url_name: str
    payload: Callable[[Lead], dict[str, str]]
    snapshot: Callable[[Lead], object]
    expected_status: int

    def run(self, client: Client, lead: Lead) -> HttpResponse:
        url = reverse(self.url_name, args=[lead.pk])
        if self.method == "get":
            return client.get(url)
        return client.post(url, self.payload(lead))


def _row(lead: Lead) -> tuple[object, ...]:
    fresh = Lead.objects.get(pk=lead.pk)
    return (
        fresh.company,
        fresh.source,
        fresh.value,
        fresh.stage,
        fresh.owner_id,
        LeadEvent.objects.filter(lead=lead).count(),
    )


def _activity_count(lead: Lead) -> object:
    return Activity.objects.filter(lead=lead).count()


def _no_payload(lead: Lead) -> dict[str, str]:
    return {}


ACTIONS = (
    Action("GET lead-detail", "get", "lead-detail", _no_payload, _row, 200),
    Action("GET lead-edit", "get", "lead-edit", _no_payload, _row, 200),
    Action(
        "POST lead-edit",
        "post",
        "lead-edit",
        lambda lead: _edit_payload(lead, f"{lead.company} (edited)"),
        _row,
        302,
    ),
    Action(
        "POST lead-log-activity",
        "post",
        "lead-log-activity",
        lambda lead: {"kind": "call", "outcome": "reached", "note": "Spoke to the buyer"},
        _activity_count,
        302,
    ),
    Action(
        "POST lead-change-stage",
        "post",
        "lead-change-stage",
        lambda lead: {"to_stage": Stage.CONTACTED, "reason": ""},
        _row,
        302,
    ),
)


def _took_effect(action: Action, lead: Lead) -> bool:
    """True when the action's change is in the database."""
    fresh = Lead.objects.get(pk=lead.pk)
    if action.name == "POST lead-edit":
        return (
            fresh.company == f"{lead.company} (edited)"
            and fresh.source == Source.REFERRAL
            and str(fresh.value) == "4321.00"
        )
    if action.name == "POST lead-log-activity":
        return Activity.objects.filter(lead=lead, note="Spoke to the buyer").count() == 1
    if action.name == "POST lead-change-stage":
        return fresh.stage == Stage.CONTACTED
    return True


@pytest.mark.parametrize("action", ACTIONS, ids=lambda action: action.name)
def test_lead_pages_answer_404_exactly_where_the_matrix_says(
    company: Company, client_for: Callable[..., Client], action: Action
) -> None:
    mismatches: list[str] = []
    for role in ROLES:
        client = client_for(company.people[role])
        for lead_name in LEADS:
            lead = company.leads[lead_name]
            visible = lead_name in VISIBLE[role]
            # Each attempt runs in a savepoint that is rolled back, so every role starts
            # from the same leads (a stage can only move new → contacted once).
            with transaction.atomic():
                before = action.snapshot(lead)
                response = action.run(client, lead)
                after = action.snapshot(lead)
                where = f"{role} → {lead_name} ({action.name})"
                if visible:
                    if response.status_code != action.expected_status:
                        mismatches.append(
                            f"{where}: visible, expected {action.expected_status}, "
                            f"got {response.status_code}"
                        )
                    elif action.method == "post" and not _took_effect(action, lead):
                        mismatches.append(f"{where}: visible, but the change was not made")
                else:
                    if response.status_code != 404:
                        mismatches.append(
                            f"{where}: invisible, expected 404, got {response.status_code}"
                        )
                    if after != before:
                        mismatches.append(f"{where}: invisible, but it changed {before} → {after}")
                transaction.set_rollback(True)
    assert mismatches == []


def _listed_lead_ids(html: str) -> set[int]:
    return {int(pk) for pk in re.findall(r'href="/leads/(\d+)/"', html)}


def test_lead_list_shows_exactly_the_visible_leads(
    company: Company, client_for: Callable[..., Client]
) -> None:
    mismatches: list[str] = []
    for role in ROLES:
        html = client_for(company.people[role]).get(reverse("lead-list")).content.decode()
        listed = _listed_lead_ids(html)
        for lead_name in LEADS:
            lead = company.leads[lead_name]
            visible = lead_name in VISIBLE[role]
            if visible and (lead.company not in html or lead.pk not in listed):
                mismatches.append(f"{role}: {lead_name} ({lead.company}) missing from the list")
            if not visible and (lead.company in html or lead.pk in listed):
                mismatches.append(f"{role}: {lead_name} ({lead.company}) listed but invisible")
    assert mismatches == []


def test_pipeline_board_shows_exactly_the_visible_leads(
    company: Company, client_for: Callable[..., Client]
) -> None:
    mismatches: list[str] = []
    for role in ROLES:
        html = client_for(company.people[role]).get(reverse("lead-board")).content.decode()
        for lead_name in LEADS:
            lead = company.leads[lead_name]
            shown = lead.company in html
            if shown != (lead_name in VISIBLE[role]):
                mismatches.append(f"{role}: {lead_name} shown={shown} on the board")
    assert mismatches == []


def test_visible_leads_matches_the_matrix(company: Company) -> None:
    names = {lead.pk: name for name, lead in company.leads.items()}
    mismatches: list[str] = []
    for role in ROLES:
        seen = {
            names[pk] for pk in visible_leads(company.people[role]).values_list("pk", flat=True)
        }
        if seen != VISIBLE[role]:
            mismatches.append(f"{role}: sees {sorted(seen)}, expected {sorted(VISIBLE[role])}")
    assert mismatches == []


def test_a_deactivated_user_sees_no_lead(company: Company) -> None:
    company.rep_a1.is_active = False
    company.rep_a1.save(update_fields=["is_active"])
    assert list(visible_leads(company.rep_a1)) == []


PAGES = (
    ("get", "my-day", False),
    ("get", "lead-list", False),
    ("get", "lead-create", False),
    ("post", "lead-create", False),
    ("get", "lead-board", False),
    ("get", "lead-handoff", False),
    ("post", "lead-handoff", False),
    ("get", "profile", False),
    ("post", "profile", False),
    ("get", "report-inbox", False),
    ("get", "report-create", False),
    ("get", "my-manager", False),
    ("get", "lead-detail", True),
    ("get", "lead-edit", True),
    ("post", "lead-edit", True),
    ("post", "lead-log-activity", True),
    ("post", "lead-change-stage", True),
)


def test_anonymous_visitors_are_sent_to_login_and_change_nothing(company: Company) -> None:
    lead = company.lead_a1
    before = (_row(lead), _activity_count(lead), Lead.objects.count())
    client = Client()
    mismatches: list[str] = []
    for method, url_name, takes_lead in PAGES:
        url = reverse(url_name, args=[lead.pk] if takes_lead else [])
        if method == "get":
            response = client.get(url)
        else:
            payload = _edit_payload(lead, "Anonymous edit") | {
                "kind": "call",
                "outcome": "reached",
                "to_stage": Stage.CONTACTED,
                "leads": [str(company.lead_a_pool.pk)],
                "to_user": str(company.rep_a1.pk),
                "language": "zh-hans",
                "time_zone": "UTC",
            }
            response = client.post(url, payload)
        expected = f"{reverse('login')}?next={url}"
        if response.status_code != 302 or response["Location"] != expected:
            mismatches.append(
                f"{method.upper()} {url}: {response.status_code} {response.get('Location')}"
            )
    assert mismatches == []
    assert (_row(lead), _activity_count(lead), Lead.objects.count()) == before
    assert Lead.objects.get(pk=company.lead_a_pool.pk).owner_id is None


# --- Companies and contacts: seen only through the leads (issue 19) -------------------------


_TOKENS: dict[int, str] = {}


def _api_status(user: User, path: str) -> tuple[int, str]:
    """The API's status and its body as text (JSON with the non-ASCII unescaped)."""
    token = _TOKENS.get(user.pk) or token_create(user=user, name="matrix")[1]
    _TOKENS[user.pk] = token
    response = Client().get(f"/api{path}", headers={"Authorization": f"Bearer {token}"})
    return response.status_code, json.dumps(response.json(), ensure_ascii=False)


def test_companies_and_contacts_follow_the_matrix_on_pages_and_api(
    company: Company, client_for: Callable[..., Client]
) -> None:
    _TOKENS.clear()
    # One person on each lead, put there by the admin (so nobody else created them).
    people = {
        name: services.lead_contact_create(
            actor=company.admin,
            lead=lead,
            data={"name": f"Person of {name}"},
            role=ContactRole.DECISION_MAKER,
        ).contact_id
        for name, lead in company.leads.items()
    }
    mismatches: list[str] = []
    for role in ROLES:
        user = company.people[role]
        client = client_for(user)
        companies_html = client.get(reverse("company-list")).content.decode()
        contacts_html = client.get(reverse("contact-list")).content.decode()
        _status, contacts_json = _api_status(user, "/contacts?page_size=100")
        _status, companies_json = _api_status(user, "/companies?page_size=100")
        for lead_name in LEADS:
            lead = company.leads[lead_name]
            visible = lead_name in VISIBLE[role]
            expected = 200 if visible else 404
            statuses = {
                "company page": client.get(
                    reverse("company-detail", args=[lead.account_id])
                ).status_code,
                "contact page": client.get(
                    reverse("contact-edit", args=[people[lead_name]])
                ).status_code,
                "API company": _api_status(user, f"/companies/{lead.account_id}")[0],
                "API contact": _api_status(user, f"/contacts/{people[lead_name]}")[0],
                "API lead's people": _api_status(user, f"/leads/{lead.pk}/contacts")[0],
            }
            listed = {
                "company list": lead.company in companies_html,
                "contact list": f"Person of {lead_name}" in contacts_html,
                "API company list": lead.company in companies_json,
                "API contact list": f"Person of {lead_name}" in contacts_json,
            }
            for what, status in statuses.items():
                if status != expected:
                    mismatches.append(f"{role} → {lead_name}: {what} {status}, not {expected}")
            for what, shown in listed.items():
                if shown != visible:
                    mismatches.append(f"{role} → {lead_name}: {what} shown={shown}")
    assert mismatches == []


def test_a_rep_never_sees_another_reps_contacts_through_a_shared_company(
    company: Company, client_for: Callable[..., Client]
) -> None:
    _TOKENS.clear()
    mine = lead_new(company.manager_a, "Shared Co Ltd", to=company.rep_a1)
    theirs = lead_new(company.manager_b, "Shared Co", to=company.rep_b1)
    assert mine.account_id == theirs.account_id
    wang = services.lead_contact_create(
        actor=company.rep_a1, lead=mine, data={"name": "王总"}, role=ContactRole.DECISION_MAKER
    ).contact
    services.lead_contact_create(
        actor=company.rep_b1, lead=theirs, data={"name": "李工"}, role=ContactRole.TECHNICAL
    )
    seen = {
        "rep_a1": {"王总"},
        "manager_a": {"王总"},
        "rep_b1": {"李工"},
        "manager_b": {"李工"},
        "director": {"王总", "李工"},
        "admin": {"王总", "李工"},
    }
    for role, names in seen.items():
        user = company.people[role]
        page = client_for(user).get(reverse("company-detail", args=[mine.account_id]))
        html = page.content.decode()
        assert {n for n in ("王总", "李工") if n in html} == names, role
        _status, body = _api_status(user, f"/contacts?company_id={mine.account_id}")
        assert {n for n in ("王总", "李工") if n in body} == names, role
    rep_b1 = client_for(company.rep_b1)
    assert rep_b1.get(reverse("contact-edit", args=[wang.pk])).status_code == 404
    # Nor can they put him on their own lead, by page or by API.
    rep_b1.post(
        reverse("lead-contact-add", args=[theirs.pk]), {"contact": wang.pk, "role": "other"}
    )
    token = token_create(user=company.rep_b1, name="t")[1]
    response = Client().post(
        f"/api/leads/{theirs.pk}/contacts",
        json.dumps({"contact_id": wang.pk}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 404
    assert not LeadContact.objects.filter(lead=theirs, contact=wang).exists()
