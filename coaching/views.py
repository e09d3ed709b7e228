"""The nudge center, thanks and credit, the team feed, coaching numbers and settings."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from coaching import playbook, selectors, services
from coaching.forms import (
    DismissForm,
    PreferenceForm,
    SnoozeForm,
    ThanksForm,
    YearEndForm,
    snooze_until,
)
from coaching.models import Nudge, RuleSetting
from crm.models import Role, Team, User
from crm.permissions import visible_leads, visible_teams
from crm.views import HtmxHttpRequest, _apply_errors, _user


@login_required
def bell(request: HttpRequest) -> HttpResponse:
    """The bell's count, polled by htmx so new nudges show without a reload."""
    count = selectors.open_nudge_count(user=_user(request))
    return render(request, "coaching/_bell.html", {"nudge_count": count})


def _nudge_page(
    request: HttpRequest, show_state: str, status: int = 200, **extra: Any
) -> HttpResponse:
    user = _user(request)
    language = translation.get_language() or "en"
    page = Paginator(selectors.nudges_for(user=user, show_state=show_state), 30).get_page(
        request.GET.get("page")
    )
    shown = [selectors.show(n, language) for n in page.object_list]
    context = {
        "page": page,
        "shown": shown,
        "show": show_state,
        "snooze_form": SnoozeForm(),
        "dismiss_form": DismissForm(),
        "query": f"show={show_state}",
        **extra,
    }
    template = "coaching/nudges.html"
    if getattr(request, "htmx", False) and not request.htmx.boosted:  # type: ignore[attr-defined]
        template += "#nudge-list"
    return render(request, template, context, status=status)


@login_required
def nudge_list(request: HttpRequest) -> HttpResponse:
    show_state = request.GET.get("show", "open")
    if show_state not in ("open", "snoozed", "closed"):
        show_state = "open"
    return _nudge_page(request, show_state)


def _my_nudge(request: HttpRequest, pk: int) -> Nudge:
    return get_object_or_404(Nudge, pk=pk, recipient=_user(request))


@login_required
@require_POST
def nudge_snooze(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    nudge = _my_nudge(request, pk)
    form = SnoozeForm(request.POST, auto_id=f"snooze-%s-{pk}")
    if form.is_valid():
        now = timezone.localtime()
        until = snooze_until(form.cleaned_data["period"], form.cleaned_data.get("until"), now)
        try:
            services.nudge_snooze(
                user=_user(request), nudge=nudge, until=until, reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            _apply_errors(form, error)
            if not hasattr(error, "error_dict"):
                # e.g. already closed in another tab: the nudge is gone from the list, so say
                # it at the top of the page.
                messages.error(request, " ".join(error.messages))
        else:
            messages.success(
                request, _("Snoozed until %(when)s.") % {"when": f"{until:%Y-%m-%d %H:%M}"}
            )
            return redirect("coach-nudges") if not request.htmx else _nudge_page(request, "open")
    return _nudge_page(request, "open", status=422, error_nudge=nudge.pk, snooze_form=form)


@login_required
@require_POST
def nudge_dismiss(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    nudge = _my_nudge(request, pk)
    form = DismissForm(request.POST, auto_id=f"dismiss-%s-{pk}")
    if form.is_valid():
        try:
            services.nudge_dismiss(
                user=_user(request), nudge=nudge, reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            _apply_errors(form, error)
            if not hasattr(error, "error_dict"):
                # e.g. already closed in another tab: the nudge is gone from the list, so say
                # it at the top of the page.
                messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, _("Dismissed. Thanks for telling the coach why."))
            return redirect("coach-nudges") if not request.htmx else _nudge_page(request, "open")
    return _nudge_page(request, "open", status=422, error_nudge=nudge.pk, dismiss_form=form)


@login_required
@require_http_methods(["GET", "POST"])
def thanks(request: HttpRequest) -> HttpResponse:
    """After a win: thank the manager who handed the lead down, credit them in public."""
    user = _user(request)
    lead = get_object_or_404(
        visible_leads(user).select_related("handed_by", "team"),
        pk=request.GET.get("lead") or request.POST.get("lead") or 0,
        owner=user,
    )
    people = User.objects.filter(
        Q(team=lead.team) | Q(pk=lead.team.manager_id) | Q(pk=lead.team.director_id)
    ).exclude(pk=user.pk)
    manager = lead.handed_by
    with translation.override(user.language):
        initial = {
            "body": _(
                "Thank you for handing me %(company)s. Your trust and your advice made this win "
                "possible. I learned a lot from it."
            )
            % {"company": lead.company},
            "public_post": _("We won %(company)s! Without %(manager)s there would be no win.")
            % {"company": lead.company, "manager": manager or ""},
            "credited": [manager.pk] if manager else [],
        }
    form = ThanksForm(request.POST or None, initial=initial, people=people)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.thanks_send(
                author=user,
                lead=lead,
                body=data["body"],
                reward_note=data["reward_note"],
                public_post=data["public_post"] if data["post_publicly"] else "",
                credited=list(data["credited"]),
            )
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, _("Thanks sent to %(manager)s.") % {"manager": manager})
            return redirect("coach-feed")
    status = 422 if request.method == "POST" else 200
    return render(request, "coaching/thanks.html", {"form": form, "lead": lead}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def year_end(request: HttpRequest) -> HttpResponse:
    """Year-end thank-you notes, pre-filled with the leads each manager handed down."""
    user = _user(request)
    year = timezone.localdate().year
    candidates = selectors.year_end_candidates(user=user, year=year)
    error_form: YearEndForm | None = None
    if request.method == "POST":
        form = YearEndForm(request.POST)
        allowed = {c["person"].pk: c["person"] for c in candidates}
        if form.is_valid() and form.cleaned_data["recipient"] in allowed:
            try:
                services.year_end_note_send(
                    author=user,
                    recipient=allowed[form.cleaned_data["recipient"]],
                    body=form.cleaned_data["body"],
                )
            except ValidationError as error:
                _apply_errors(form, error)
                error_form = form
            else:
                messages.success(request, _("Your note is sent."))
                return redirect("coach-year-end")
        else:
            if form.is_valid():
                form.add_error(None, _("Choose someone who helped you this year."))
            error_form = form
    for entry in candidates:
        lines = [f"· {lead.company} — {lead.get_stage_display()}" for lead in entry["leads"]]
        entry["draft"] = _(
            "Thank you for this year. The leads you handed me taught me a lot:\n%(lines)s\n"
            "I hope to make you proud next year."
        ) % {"lines": "\n".join(lines) or "—"}
    context = {"candidates": candidates, "year": year, "error_form": error_form}
    status = 422 if error_form is not None else 200
    return render(request, "coaching/year_end.html", context, status=status)


@login_required
def feed(request: HttpRequest) -> HttpResponse:
    return render(request, "coaching/feed.html", selectors.team_feed(user=_user(request)))


@login_required
def stats(request: HttpRequest) -> HttpResponse:
    """How the coach is doing: per rule, and the reliability (靠谱) of each rep."""
    user = _user(request)
    if user.is_admin_role:
        scope = Nudge.objects.all()
    elif user.role == Role.REP:
        scope = Nudge.objects.filter(recipient=user)
    else:
        teams = visible_teams(user)
        scope = Nudge.objects.filter(
            Q(recipient__team__in=teams) | Q(recipient__managed_team__in=teams)
        )
    context = {
        "rule_stats": selectors.rule_stats(scope=scope),
        "reliability": selectors.reliability(viewer=user),
        "language": translation.get_language(),
    }
    return render(request, "coaching/stats.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def rule_settings(request: HttpRequest) -> HttpResponse:
    """A manager tunes the playbook's thresholds for their team (an admin for any team)."""
    user = _user(request)
    if not (user.is_admin_role or user.role == Role.MANAGER):
        messages.info(request, _("Only managers and admins tune the coach."))
        return redirect("coach-nudges")
    teams = Team.objects.all() if user.is_admin_role else Team.objects.filter(manager=user)
    asked = request.GET.get("team") or request.POST.get("team")
    if asked:
        team = teams.filter(pk=int(asked) if asked.isdigit() else 0).first()
        if team is None:
            raise Http404
    else:
        team = teams.first()
    if team is None:
        messages.info(request, _("You do not manage a team yet."))
        return redirect("coach-nudges")
    errors: dict[str, str] = {}
    if request.method == "POST":
        rule_id = request.POST.get("rule", "")
        rule = playbook.rules().get(rule_id)
        if rule is None:
            errors["rule"] = _("Unknown rule.")
        else:
            values: dict[str, int] = {}
            for name in rule.thresholds:
                raw = request.POST.get(f"t_{name}", "").strip()
                if not raw.isdigit():
                    errors[name] = _("Enter a whole number of zero or more.")
                else:
                    values[name] = int(raw)
            if not errors:
                try:
                    services.rule_setting_update(
                        actor=user,
                        team=team,
                        rule_id=rule_id,
                        enabled=request.POST.get("enabled") == "on",
                        values=values,
                    )
                except ValidationError as error:
                    errors.update({k: " ".join(v) for k, v in error.message_dict.items()})
                else:
                    messages.success(request, _("Saved for %(team)s.") % {"team": team})
                    return redirect(f"{request.path}?team={team.pk}")
    settings_by_rule = {s.rule_id: s for s in RuleSetting.objects.filter(team=team)}
    language = translation.get_language() or "en"
    rows = []
    for rule in playbook.rules().values():
        setting = settings_by_rule.get(rule.id)
        current = dict(rule.thresholds) | (setting.thresholds if setting else {})
        rows.append(
            {
                "rule": rule,
                "title": rule.text("title", language, {}),
                "enabled": setting.enabled if setting else True,
                "values": [
                    (name, current.get(name), rule.thresholds[name]) for name in rule.thresholds
                ],
                "failed": request.POST.get("rule") == rule.id and errors,
            }
        )
    context = {"rows": rows, "team": team, "teams": teams, "errors": errors}
    return render(request, "coaching/settings.html", context, status=422 if errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    pref = services.preference_for(user)
    form = PreferenceForm(request.POST or None, instance=pref)
    if request.method == "POST" and form.is_valid():
        services.preference_update(user=user, **form.cleaned_data)
        messages.success(request, _("Your notification preferences are saved."))
        return redirect("coach-preferences")
    status = 422 if request.method == "POST" else 200
    return render(request, "coaching/preferences.html", {"form": form}, status=status)
