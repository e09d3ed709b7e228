"""The coach's settings: a manager tunes the playbook's thresholds for their team (an admin for
any team), and everyone chooses how they hear from the coach."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from coaching import delivery, playbook, services
from coaching.forms import PreferenceForm
from coaching.models import RuleSetting
from crm.models import Team, User
from crm.permissions import can_tune_coach, visible_teams
from crm.web import current_user, parse_int


def _save_thresholds(request: HttpRequest, user: User, team: Team) -> dict[str, str]:
    """Check and save the posted rule's thresholds; the errors by field (none when saved)."""
    errors: dict[str, str] = {}
    rule_id = request.POST.get("rule", "")
    rule = playbook.rules().get(rule_id)
    if rule is None:
        return {"rule": _("Unknown rule.")}
    values: dict[str, int] = {}
    for name in rule.thresholds:
        value = parse_int(request.POST.get(f"t_{name}"), minimum=0, maximum=2**31 - 1)
        if value is None:
            errors[name] = _("Enter a whole number of zero or more.")
        else:
            values[name] = value
    if errors:
        return errors
    try:
        services.rule_setting_update(
            actor=user,
            team=team,
            rule_id=rule_id,
            enabled=request.POST.get("enabled") == "on",
            values=values,
        )
    except ValidationError as error:
        return {k: " ".join(v) for k, v in error.message_dict.items()}
    return {}


def _rule_rows(request: HttpRequest, team: Team, errors: dict[str, str]) -> list[dict[str, Any]]:
    """One row per playbook rule: its name in words, whether it is on, and each threshold
    (its label in words, the team's value and the playbook's default)."""
    settings_by_rule = {s.rule_id: s for s in RuleSetting.objects.filter(team=team)}
    language = translation.get_language() or "en"
    rows = []
    for rule in playbook.rules().values():
        setting = settings_by_rule.get(rule.id)
        current = dict(rule.thresholds) | (setting.thresholds if setting else {})
        rows.append(
            {
                "rule": rule,
                "title": rule.name_in(language),
                "enabled": setting.enabled if setting else True,
                "values": [
                    (name, rule.threshold_label(name, language), current.get(name), default)
                    for name, default in rule.thresholds.items()
                ],
                "failed": request.POST.get("rule") == rule.id and errors,
                "errors": {
                    rule.threshold_label(name, language): message
                    for name, message in errors.items()
                },
            }
        )
    return rows


@login_required
@require_http_methods(["GET", "POST"])
def rule_settings(request: HttpRequest) -> HttpResponse:
    """A manager tunes the playbook's thresholds for their team (an admin for any team)."""
    user = current_user(request)
    if not can_tune_coach(user):
        messages.info(request, _("Only managers and admins tune the coach."))
        return redirect("coach-nudges")
    teams = visible_teams(user)
    asked = request.GET.get("team") or request.POST.get("team")
    if asked:
        team = teams.filter(pk=parse_int(asked) or 0).first()
        if team is None:
            raise Http404
    else:
        team = teams.first()
    if team is None:
        messages.info(request, _("You do not manage a team yet."))
        return redirect("coach-nudges")
    errors: dict[str, str] = {}
    if request.method == "POST":
        errors = _save_thresholds(request, user, team)
        if not errors:
            messages.success(request, _("Saved for %(team)s.") % {"team": team})
            return redirect(f"{request.path}?team={team.pk}")
    context = {"rows": _rule_rows(request, team, errors), "team": team, "teams": teams}
    context["errors"] = errors
    return render(request, "coaching/settings.html", context, status=422 if errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    pref = services.preference_for(user)
    form = PreferenceForm(request.POST or None, instance=pref)
    if request.method == "POST" and form.is_valid():
        services.preference_update(user=user, **form.cleaned_data)
        messages.success(request, _("Your notification preferences are saved."))
        return redirect("coach-preferences")
    status = 422 if request.method == "POST" else 200
    context = {"form": form, "failed_email": delivery.failed_for(user)}
    return render(request, "coaching/preferences.html", context, status=status)
