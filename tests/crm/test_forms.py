"""Rejected input changes nothing, and the reason is shown next to the field in the user's
language (English and Simplified Chinese)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.translation import gettext

from crm.models import Activity, Lead, LeadEvent, Role, Source, User
from crm.pipeline import Stage

if TYPE_CHECKING:
    from tests.conftest import Company

LANGUAGES = ["en", "zh-hans"]

# Django's own messages (translated by Django's catalogue) and Kaopu's (locale/zh_Hans).
MIN_VALUE = "Ensure this value is greater than or equal to %(limit_value)s."
BAD_DATE = "Enter a valid date."
BAD_CHOICE = "Select a valid choice. %(value)s is not one of the available choices."
RIB_REASON = "Say why this lead is a chicken-rib lead."
NEXT_STEP = "Say what the next step is, not only when."
LOST_REASON = "Say why the lead was lost."
FUTURE = "An activity cannot happen in the future; plan it as the next step."


def message(language: str, msgid: str, **params: object) -> str:
    """`msgid` as the user reads it in `language`, HTML-escaped as the page shows it."""
    with translation.override(language):
        translated = gettext(msgid)
        # Labels such as stage names are lazy: resolve them in `language` too.
        text = translated % {k: str(v) for k, v in params.items()} if params else translated
    if language != "en":
        # A message without its translation fails here: `make messages` compiles the catalogue.
        assert translated != msgid, f"locale/zh_Hans has no translation for {msgid!r}"
    return escape(text)


def field_errors(html: str, field: str) -> str:
    """The error text shown next to `field` ('' when the field shows none)."""
    start = rf'<div class="field field-{re.escape(field)}(?: required)? has-error">'
    match = re.search(start + r'.*?<div class="errors" role="alert">(.*?)</div>', html, re.S)
    return match.group(1) if match else ""


def lead_payload(**overrides: str) -> dict[str, str]:
    return {
        "company": "Echo Instruments",
        "contact_name": "Ms Wang",
        "phone": "+86 21 5555 0100",
        "email": "wang@echo.example",
        "source": Source.TRADE_SHOW,
        "value": "12000",
        "currency": "CNY",
        "expected_close": "2026-12-20",
        "tender_date": "",
        "competitor": "",
        "next_step": "",
        "next_step_due": "",
        "notes": "",
    } | overrides


BAD_LEAD_INPUT: list[tuple[str, dict[str, str], str, str, dict[str, Any]]] = [
    ("negative value", {"value": "-5"}, "value", MIN_VALUE, {"limit_value": 0}),
    ("bad date", {"expected_close": "2026-13-45"}, "expected_close", BAD_DATE, {}),
    ("unknown source", {"source": "bogus"}, "source", BAD_CHOICE, {"value": "bogus"}),
    ("chicken-rib without reason", {"is_chicken_rib": "on"}, "chicken_rib_reasons", RIB_REASON, {}),
    ("due without next step", {"next_step_due": "2026-12-01"}, "next_step", NEXT_STEP, {}),
]


def _lead_state(lead: Lead) -> tuple[object, ...]:
    fresh = Lead.objects.get(pk=lead.pk)
    return (
        fresh.company,
        fresh.value,
        fresh.source,
        fresh.expected_close,
        fresh.is_chicken_rib,
        fresh.next_step_due,
        fresh.updated_at,
        LeadEvent.objects.filter(lead=lead).count(),
    )


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(
    ("case", "bad", "field", "msgid", "params"), BAD_LEAD_INPUT, ids=[c[0] for c in BAD_LEAD_INPUT]
)
def test_creating_a_lead_with_bad_input_saves_nothing(
    company: Company,
    client_for: Callable[..., Client],
    language: str,
    case: str,
    bad: dict[str, str],
    field: str,
    msgid: str,
    params: dict[str, Any],
) -> None:
    count = Lead.objects.count()

    response = client_for(company.rep_a1, language).post(
        reverse("lead-create"), lead_payload(**bad)
    )

    assert response.status_code == 422
    assert Lead.objects.count() == count
    assert message(language, msgid, **params) in field_errors(response.content.decode(), field)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(
    ("case", "bad", "field", "msgid", "params"), BAD_LEAD_INPUT, ids=[c[0] for c in BAD_LEAD_INPUT]
)
def test_editing_a_lead_with_bad_input_changes_nothing(
    company: Company,
    client_for: Callable[..., Client],
    language: str,
    case: str,
    bad: dict[str, str],
    field: str,
    msgid: str,
    params: dict[str, Any],
) -> None:
    lead = company.lead_a1
    before = _lead_state(lead)

    response = client_for(company.rep_a1, language).post(
        reverse("lead-edit", args=[lead.pk]), lead_payload(company="Renamed Ltd", **bad)
    )

    assert response.status_code == 422
    assert _lead_state(lead) == before
    html = response.content.decode()
    assert message(language, msgid, **params) in field_errors(html, field)
    # The page still names the lead as it is stored, not as it was posted.
    assert f">{lead.company}</a>" in html


def test_a_good_edit_is_saved_and_remembered_in_the_history(
    company: Company, client_for: Callable[..., Client]
) -> None:
    lead = company.lead_a1
    response = client_for(company.rep_a1).post(
        reverse("lead-edit", args=[lead.pk]),
        lead_payload(next_step="Send the quote", next_step_due="2026-12-03"),
    )
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.company == "Echo Instruments"
    assert lead.next_step == "Send the quote"
    event = LeadEvent.objects.filter(lead=lead).first()
    assert event is not None
    assert event.kind == "updated"
    assert event.changes["company"] == ["Alpha Robotics", "Echo Instruments"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_posted_owner_team_stage_and_handed_by_are_ignored_on_edit(
    company: Company, client_for: Callable[..., Client], language: str
) -> None:
    lead = company.lead_a1
    response = client_for(company.manager_a, language).post(
        reverse("lead-edit", args=[lead.pk]),
        lead_payload(
            owner=str(company.rep_b1.pk),
            team=str(company.team_b.pk),
            stage=Stage.WON,
            handed_by=str(company.manager_b.pk),
            lost_reason="forged",
            created_by=str(company.rep_b1.pk),
        ),
    )

    assert response.status_code == 302
    fresh = Lead.objects.get(pk=lead.pk)
    assert fresh.company == "Echo Instruments"  # the legitimate part of the post was saved
    assert (fresh.owner, fresh.team, fresh.stage, fresh.handed_by) == (
        company.rep_a1,
        company.team_a,
        Stage.NEW,
        company.manager_a,
    )
    assert fresh.lost_reason == ""
    assert fresh.created_by == company.manager_a


def test_posted_owner_team_and_stage_are_ignored_on_create(
    company: Company, client_for: Callable[..., Client]
) -> None:
    response = client_for(company.rep_a1).post(
        reverse("lead-create"),
        lead_payload(
            owner=str(company.rep_b1.pk),
            team=str(company.team_b.pk),
            stage=Stage.WON,
            handed_by=str(company.manager_b.pk),
        ),
    )

    assert response.status_code == 302
    lead = Lead.objects.get(company="Echo Instruments")
    assert (lead.owner, lead.team, lead.stage, lead.handed_by) == (
        company.rep_a1,
        company.team_a,
        Stage.NEW,
        None,
    )
    assert response["Location"] == lead.get_absolute_url()


def test_a_manager_creating_a_lead_puts_it_in_the_team_pool(
    company: Company, client_for: Callable[..., Client]
) -> None:
    response = client_for(company.manager_a).post(
        reverse("lead-create"), lead_payload(owner=str(company.rep_a1.pk))
    )
    assert response.status_code == 302
    lead = Lead.objects.get(company="Echo Instruments")
    assert (lead.owner, lead.team) == (None, company.team_a)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_rep_without_a_team_is_told_so_when_creating_a_lead(
    company: Company, client_for: Callable[..., Client], language: str
) -> None:
    rep = User.objects.create_user(username="new_rep", role=Role.REP)
    count = Lead.objects.count()

    response = client_for(rep, language).post(reverse("lead-create"), lead_payload())

    assert response.status_code == 422
    assert Lead.objects.count() == count
    expected = message(language, "You are not in a team yet; ask your manager to add you.")
    assert expected in response.content.decode()


def test_a_manager_without_a_team_is_told_so_when_creating_a_lead(
    company: Company, client_for: Callable[..., Client]
) -> None:
    manager = User.objects.create_user(username="new_manager", role=Role.MANAGER)
    count = Lead.objects.count()
    client = client_for(manager)
    client.raise_request_exception = False

    response = client.post(reverse("lead-create"), lead_payload())

    assert Lead.objects.count() == count
    assert response.status_code == 422
    assert 'role="alert"' in response.content.decode()


STAGE_INPUT: list[tuple[str, dict[str, str], str, str, dict[str, Any]]] = [
    ("unknown stage", {"to_stage": "bogus"}, "to_stage", BAD_CHOICE, {"value": "bogus"}),
    ("lost without reason", {"to_stage": Stage.LOST, "reason": "  "}, "reason", LOST_REASON, {}),
]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(
    ("case", "bad", "field", "msgid", "params"), STAGE_INPUT, ids=[c[0] for c in STAGE_INPUT]
)
def test_a_refused_stage_change_changes_nothing(
    company: Company,
    client_for: Callable[..., Client],
    language: str,
    case: str,
    bad: dict[str, str],
    field: str,
    msgid: str,
    params: dict[str, Any],
) -> None:
    lead = company.lead_a1
    before = _lead_state(lead)

    response = client_for(company.rep_a1, language).post(
        reverse("lead-change-stage", args=[lead.pk]), bad
    )

    assert response.status_code == 422
    assert _lead_state(lead) == before
    assert Lead.objects.get(pk=lead.pk).stage == Stage.NEW
    assert message(language, msgid, **params) in field_errors(response.content.decode(), field)


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_illegal_move_is_refused_and_changes_nothing(
    company: Company, client_for: Callable[..., Client], language: str
) -> None:
    lead = company.lead_a1
    before = _lead_state(lead)

    response = client_for(company.rep_a1, language).post(
        reverse("lead-change-stage", args=[lead.pk]), {"to_stage": Stage.PROPOSAL}
    )

    assert response.status_code == 422
    assert _lead_state(lead) == before
    assert field_errors(response.content.decode(), "to_stage")


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_illegal_move_says_which_move_is_not_allowed(
    company: Company, client_for: Callable[..., Client], language: str
) -> None:
    response = client_for(company.rep_a1, language).post(
        reverse("lead-change-stage", args=[company.lead_a1.pk]), {"to_stage": Stage.PROPOSAL}
    )

    expected = message(
        language,
        "A lead cannot move from %(from)s to %(to)s.",
        **{"from": Stage.NEW.label, "to": Stage.PROPOSAL.label},
    )
    assert expected in field_errors(response.content.decode(), "to_stage")


def _local_input(moment: Any) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_activity_in_the_future_is_refused(
    company: Company, client_for: Callable[..., Client], language: str
) -> None:
    lead = company.lead_a1
    with timezone.override(company.rep_a1.time_zone):
        tomorrow = _local_input(timezone.now() + timedelta(days=1))

    response = client_for(company.rep_a1, language).post(
        reverse("lead-log-activity", args=[lead.pk]),
        {"kind": "call", "outcome": "reached", "happened_at": tomorrow, "note": "Will call"},
    )

    assert response.status_code == 422
    assert not Activity.objects.filter(lead=lead).exists()
    assert Lead.objects.get(pk=lead.pk).last_activity_at is None
    assert message(language, FUTURE) in field_errors(response.content.decode(), "happened_at")


def test_an_activity_in_the_past_is_logged_at_its_time(
    company: Company, client_for: Callable[..., Client]
) -> None:
    lead = company.lead_a1
    # The time typed in is read in the user's own time zone, not the server's.
    company.rep_a1.time_zone = "America/New_York"
    company.rep_a1.save(update_fields=["time_zone"])
    with timezone.override(company.rep_a1.time_zone):
        two_days_ago = timezone.localtime() - timedelta(days=2)
        posted = _local_input(two_days_ago)

    response = client_for(company.rep_a1).post(
        reverse("lead-log-activity", args=[lead.pk]),
        {"kind": "visit", "outcome": "interested", "happened_at": posted, "note": "Site visit"},
    )

    assert response.status_code == 302
    activity = Activity.objects.get(lead=lead)
    assert activity.happened_at == two_days_ago.replace(second=0, microsecond=0)
    assert Lead.objects.get(pk=lead.pk).last_activity_at == activity.happened_at


HTMX = {"HTTP_HX_REQUEST": "true"}


def test_htmx_activity_log_returns_the_lead_work_region(
    company: Company, client_for: Callable[..., Client]
) -> None:
    lead = company.lead_a1
    response = client_for(company.rep_a1).post(
        reverse("lead-log-activity", args=[lead.pk]),
        {"kind": "call", "outcome": "reached", "note": "Buyer picked up at last"},
        **HTMX,
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="lead-work"' in html
    assert "<html" not in html
    assert "Buyer picked up at last" in html  # the timeline in the region shows the new call
    assert Activity.objects.filter(lead=lead, note="Buyer picked up at last").count() == 1


@pytest.mark.parametrize("language", LANGUAGES)
def test_htmx_activity_log_error_returns_422_with_the_message(
    company: Company, client_for: Callable[..., Client], language: str
) -> None:
    lead = company.lead_a1
    with timezone.override(company.rep_a1.time_zone):
        later = _local_input(timezone.now() + timedelta(hours=3))

    response = client_for(company.rep_a1, language).post(
        reverse("lead-log-activity", args=[lead.pk]),
        {"kind": "call", "outcome": "reached", "happened_at": later},
        **HTMX,
    )

    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="lead-work"' in html
    assert "<html" not in html
    assert message(language, FUTURE) in field_errors(html, "happened_at")
    assert not Activity.objects.filter(lead=lead).exists()


def test_htmx_stage_change_returns_the_lead_work_region(
    company: Company, client_for: Callable[..., Client]
) -> None:
    lead = company.lead_a1
    response = client_for(company.rep_a1).post(
        reverse("lead-change-stage", args=[lead.pk]), {"to_stage": Stage.CONTACTED}, **HTMX
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="lead-work"' in html
    assert "<html" not in html
    assert "Stage: New → Contacted" in html
    assert Lead.objects.get(pk=lead.pk).stage == Stage.CONTACTED


@pytest.mark.parametrize("language", LANGUAGES)
def test_unknown_time_zone_is_refused(
    company: Company, client_for: Callable[..., Client], language: str
) -> None:
    user = company.rep_a1
    response = client_for(user, language).post(
        reverse("profile"), {"language": language, "time_zone": "Mars/Olympus_Mons"}
    )

    assert response.status_code == 422
    user.refresh_from_db()
    assert user.time_zone == "Asia/Shanghai"
    assert message(language, BAD_CHOICE, value="Mars/Olympus_Mons") in field_errors(
        response.content.decode(), "time_zone"
    )


# --- What a form shows before anything is sent (issue 21) -----------------------------------


@pytest.mark.parametrize(
    ("language", "empty", "not_shown"),
    [("zh-hans", ">请选择<", "Select an option"), ("en", ">- Select an option -<", "请选择")],
)
def test_a_selects_empty_choice_reads_in_the_users_language(
    company: Company, client_for: Callable[..., Client], language: str, empty: str, not_shown: str
) -> None:
    html = client_for(company.manager_a, language).get(reverse("lead-create")).content.decode()
    assert empty in html
    assert not_shown not in html


def test_required_fields_are_marked_before_sending(
    company: Company, client_for: Callable[..., Client]
) -> None:
    html = client_for(company.manager_a).get(reverse("lead-create")).content.decode()
    # The field's box says it is required (the stylesheet puts a star after its label) ...
    assert '<div class="field field-company required">' in html
    assert '<div class="field field-competitor">' in html  # optional: no star
    # ... and screen readers hear the field's own `required`, not the star.
    assert re.search(r'<input[^>]*name="company"[^>]*\srequired', html)
    css = (Path(settings.BASE_DIR) / "static/css/kaopu.css").read_text()
    rule = re.search(r"\.field\.required > label::after[^{]*\{([^}]*)\}", css)
    assert rule is not None
    assert 'content: "*" / "";' in rule.group(1)  # empty alternative text: silent for readers


@pytest.mark.parametrize(("language", "badge"), [("en", "Chicken rib"), ("zh-hans", "鸡肋")])
def test_the_chicken_rib_badge_reads_in_the_users_language(
    company: Company, client_for: Callable[..., Client], language: str, badge: str
) -> None:
    Lead.objects.filter(pk=company.lead_a1.pk).update(
        is_chicken_rib=True, chicken_rib_reasons=["no_budget"]
    )
    client = client_for(company.rep_a1, language)
    for url in (company.lead_a1.get_absolute_url(), reverse("lead-list"), reverse("lead-board")):
        html = client.get(url).content.decode()
        assert '<span class="tag rib"' in html, url
        badges = re.findall(r'<span class="tag rib"[^>]*>([^<]*)</span>', html)
        assert badges and set(badges) == {badge}, (url, badges)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_profile_redirects_after_saving_and_says_so(
    company: Company, client_for: Callable[..., Client], language: str
) -> None:
    client = client_for(company.rep_a1, language)
    response = client.post(reverse("profile"), {"language": language, "time_zone": "Asia/Tokyo"})

    assert response.status_code == 302
    assert response["Location"] == reverse("profile")
    page = client.get(response["Location"]).content.decode()
    assert message(language, "Your preferences are saved.") in page
    # A refresh now repeats the GET, not the POST: the message is shown once.
    assert (
        message(language, "Your preferences are saved.")
        not in client.get(reverse("profile")).content.decode()
    )
