"""Per-team thresholds: a manager tunes the coach for their own team on the settings page."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from coaching import services
from coaching.models import RuleSetting
from tests.coaching.helpers import at, nudges, only_nudge, scan

if TYPE_CHECKING:
    from tests.conftest import Company

pytestmark = pytest.mark.django_db


def _report_due_form(team_id: int, days: str, enabled: bool = True) -> dict[str, str]:
    form = {
        "team": str(team_id),
        "rule": "report_due",
        "t_days": days,
        "t_days_near_deadline": "2",
        "t_deadline_window_days": "14",
    }
    if enabled:
        form["enabled"] = "on"
    return form


def test_a_manager_shortens_report_due_for_their_team_only(
    company: Company,
    client_for,  # type: ignore[no-untyped-def]
    clock: time_machine.Traveller,
) -> None:
    client = client_for(company.manager_a)
    page = client.get(reverse("coach-settings"))
    assert page.status_code == 200
    assert 'id="rule-report_due"' in page.content.decode()

    response = client.post(reverse("coach-settings"), _report_due_form(company.team_a.pk, "3"))
    assert response.status_code == 302
    setting = RuleSetting.objects.get(team=company.team_a, rule_id="report_due")
    assert setting.thresholds == {"days": 3, "days_near_deadline": 2, "deadline_window_days": 14}
    assert setting.updated_by == company.manager_a
    shown = client.get(response["Location"]).content.decode()
    assert 'name="t_days" value="3"' in shown

    clock.move_to(at(days=4))  # lead_a1 (team A) and lead_b1 (team B) were handed down 4 days ago
    scan()
    nudge = only_nudge("report_due", company.rep_a1, lead=company.lead_a1)
    assert nudge.context["days"] == 4
    assert nudges("report_due", lead=company.lead_b1) == []

    clock.move_to(at(days=7, hours=1))  # team B keeps the playbook's 7 days
    scan()
    only_nudge("report_due", company.rep_b1, lead=company.lead_b1)


def test_a_manager_can_switch_a_rule_off_for_their_team(
    company: Company,
    client_for,  # type: ignore[no-untyped-def]
    clock: time_machine.Traveller,
) -> None:
    form = _report_due_form(company.team_a.pk, "7", enabled=False)
    assert client_for(company.manager_a).post(reverse("coach-settings"), form).status_code == 302
    clock.move_to(at(days=8))
    scan()
    assert nudges("report_due", lead__team=company.team_a) == []
    only_nudge("report_due", company.rep_b1, lead=company.lead_b1)


def test_another_manager_cannot_change_team_a(company: Company, client_for) -> None:  # type: ignore[no-untyped-def]
    client_for(company.manager_b).post(
        reverse("coach-settings"), _report_due_form(company.team_a.pk, "1")
    )
    assert not RuleSetting.objects.filter(team=company.team_a).exists()
    with pytest.raises(ValidationError):
        services.rule_setting_update(
            actor=company.manager_b,
            team=company.team_a,
            rule_id="report_due",
            enabled=True,
            values={"days": 1},
        )
    with pytest.raises(ValidationError):
        services.rule_setting_update(
            actor=company.rep_a1,
            team=company.team_a,
            rule_id="report_due",
            enabled=True,
            values={"days": 1},
        )
    assert not RuleSetting.objects.filter(team=company.team_a).exists()


def test_a_request_for_another_team_is_refused_not_applied_elsewhere(
    company: Company,
    client_for,  # type: ignore[no-untyped-def]
) -> None:
    response = client_for(company.manager_b).post(
        reverse("coach-settings"), _report_due_form(company.team_a.pk, "1")
    )
    assert response.status_code in (403, 404)
    assert not RuleSetting.objects.exists()


@pytest.mark.parametrize("value", ["-1", "abc", "2.5", ""])
def test_a_threshold_must_be_a_whole_number(
    company: Company,
    client_for,  # type: ignore[no-untyped-def]
    value: str,
) -> None:
    response = client_for(company.manager_a).post(
        reverse("coach-settings"), _report_due_form(company.team_a.pk, value)
    )
    assert response.status_code == 422
    assert "Enter a whole number of zero or more." in response.content.decode()
    assert not RuleSetting.objects.exists()
