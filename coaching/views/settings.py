"""The coach's settings: a manager tunes the playbook's thresholds for their team (an admin for
any team) and keeps the team's group chat robot, and everyone chooses how they hear from the
coach, their own chat robots included (issue 17). A robot's URL and secret are write-only: the
pages show them masked."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from coaching import chat, delivery, playbook, services
from coaching.chat_forms import ChatChannelForm, TeamRobotForm
from coaching.chat_models import ChatChannel
from coaching.forms import PreferenceForm
from coaching.models import RuleSetting
from coaching.nudges import EVENT_EMAILS_PER_DAY  # a robot's daily cap too (chat.queue_pushes)
from crm.models import Team, User
from crm.permissions import can_manage_team, can_tune_coach, visible_teams
from crm.web import apply_errors, current_user, parse_int


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
    action = request.POST.get("action", "")
    robot = ChatChannel.objects.filter(team=team).first()
    robot_form = TeamRobotForm(prefix="robot", initial={"platform": robot and robot.platform})
    if request.method == "POST" and action.startswith("robot_"):
        if not can_manage_team(user, team):
            raise Http404
        robot_form, done = _robot_action(request, user, team, robot, action)
        if done:
            return redirect(f"{request.path}?team={team.pk}#robot")
    elif request.method == "POST":
        errors = _save_thresholds(request, user, team)
        if not errors:
            messages.success(request, _("Saved for %(team)s.") % {"team": team})
            return redirect(f"{request.path}?team={team.pk}")
    context = {"rows": _rule_rows(request, team, errors), "team": team, "teams": teams}
    context["errors"] = errors
    if can_manage_team(user, team):
        context |= {
            "robot": robot,
            "robot_form": robot_form,
            "robot_test": chat.last_test(robot) if robot else None,
        }
    failed = bool(errors) or bool(robot_form.errors)
    return render(request, "coaching/settings.html", context, status=422 if failed else 200)


def _robot_action(
    request: HttpRequest, user: User, team: Team, robot: ChatChannel | None, action: str
) -> tuple[TeamRobotForm, bool]:
    """Save, remove or test the team's robot: (the form, with its errors; done)."""
    form = TeamRobotForm(request.POST, prefix="robot")
    if action == "robot_remove" and robot is not None:
        chat.channel_remove(actor=user, channel=robot)
        messages.success(request, _("The team's robot is removed."))
        return form, True
    if action == "robot_test" and robot is not None:
        chat.channel_test(actor=user, channel=robot)
        messages.success(request, _("A test message is on its way to the robot."))
        return form, True
    if action == "robot_save" and form.is_valid():
        try:
            chat.channel_save(
                actor=user,
                channel=robot,
                team=team,
                platform=form.cleaned_data["platform"],
                webhook_url=form.cleaned_data["webhook_url"],
                secret=form.cleaned_data["secret"],
                for_pushes=False,
                for_digest=False,
            )
        except ValidationError as error:
            apply_errors(form, error)
            return form, False
        messages.success(request, _("The team's robot is saved."))
        return form, True
    return form, False


def _chat_context(user: User, failed: dict[str, ChatChannelForm] | None = None) -> dict[str, Any]:
    """The person's robots, each with its change form and its last test, and the add form."""
    failed = failed or {}
    rows = []
    for channel in ChatChannel.objects.filter(owner=user).order_by("id"):
        prefix = f"c{channel.pk}"
        form = failed.get(prefix) or ChatChannelForm(
            prefix=prefix,
            initial={
                "platform": channel.platform,
                "for_pushes": channel.for_pushes,
                "for_digest": channel.for_digest,
            },
        )
        rows.append({"channel": channel, "form": form, "test": chat.last_test(channel)})
    add = failed.get("new") or ChatChannelForm(prefix="new")
    return {"chat_rows": rows, "chat_add": add, "chat_push_cap": EVENT_EMAILS_PER_DAY}


def _chat_action(
    request: HttpRequest, user: User, action: str
) -> tuple[HttpResponse | None, dict[str, ChatChannelForm]]:
    """Add, change, remove or test one of the person's robots: a redirect when done, else the
    form with its errors by prefix (the caller draws the page with it)."""
    channel = None
    if action != "chat_add":
        # Another person's robot is not found, whoever asks; nor is `channel=abc`.
        pk = parse_int(request.POST.get("channel"))
        if pk is None:
            raise Http404
        channel = get_object_or_404(ChatChannel, pk=pk, owner=user)
    if action == "chat_remove" and channel is not None:
        chat.channel_remove(actor=user, channel=channel)
        messages.success(request, _("The chat channel is removed."))
        return redirect(_chat_anchor()), {}
    if action == "chat_test" and channel is not None:
        chat.channel_test(actor=user, channel=channel)
        messages.success(request, _("A test message is on its way. Look in your chat in a moment."))
        return redirect(_chat_anchor()), {}
    prefix = "new" if channel is None else f"c{channel.pk}"
    form = ChatChannelForm(request.POST, prefix=prefix)
    if form.is_valid():
        try:
            chat.channel_save(
                actor=user,
                channel=channel,
                owner=user if channel is None else None,
                **form.cleaned_data,
            )
        except ValidationError as error:
            apply_errors(form, error)
        except PermissionDenied:
            raise Http404 from None
        else:
            messages.success(request, _("The chat channel is saved."))
            return redirect(_chat_anchor()), {}
    return None, {prefix: form}


def _chat_anchor() -> str:
    return reverse("coach-preferences") + "#chat"


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    pref = services.preference_for(user)
    action = request.POST.get("action", "")
    if request.method == "POST" and action.startswith("chat_"):
        done, failed = _chat_action(request, user, action)
        if done is not None:
            return done
        context = {
            "form": PreferenceForm(instance=pref),
            "failed_email": delivery.failed_for(user),
            **_chat_context(user, failed),
        }
        return render(request, "coaching/preferences.html", context, status=422)
    form = PreferenceForm(request.POST or None, instance=pref)
    if request.method == "POST" and form.is_valid():
        services.preference_update(user=user, **form.cleaned_data)
        messages.success(request, _("Your notification preferences are saved."))
        return redirect("coach-preferences")
    status = 422 if request.method == "POST" else 200
    context = {"form": form, "failed_email": delivery.failed_for(user), **_chat_context(user)}
    return render(request, "coaching/preferences.html", context, status=status)
