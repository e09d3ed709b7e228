"""The nudge center: the bell's count, the list of one's nudges (open, snoozed, closed), snoozing
and dismissing one, and the coach's numbers (per rule, and each rep's reliability)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from coaching import selectors, services
from coaching.forms import DismissForm, SnoozeForm, snooze_until
from coaching.models import Nudge
from crm.permissions import can_view_cockpit, visible_teams
from crm.web import HtmxHttpRequest, apply_errors, current_user, paginate, render_region

# Nudges are long cards: fewer to a page than the CRM's lists.
NUDGE_PAGE_SIZE = 30


@login_required
def bell(request: HttpRequest) -> HttpResponse:
    """The bell's count, polled by htmx so new nudges show without a reload."""
    count = selectors.open_nudge_count(user=current_user(request))
    return render(request, "coaching/_bell.html", {"nudge_count": count})


def _nudge_page(
    request: HttpRequest, show_state: str, status: int = 200, **extra: Any
) -> HttpResponse:
    user = current_user(request)
    language = translation.get_language() or "en"
    nudges = selectors.nudges_for(user=user, show_state=show_state)
    page = paginate(request, nudges, NUDGE_PAGE_SIZE)
    context = {
        "page": page,
        "shown": [selectors.show(n, language) for n in page.object_list],
        "show": show_state,
        "snooze_form": SnoozeForm(),
        "dismiss_form": DismissForm(),
        "query": f"show={show_state}",
        **extra,
    }
    return render_region(request, "coaching/nudges.html", context, "nudge-list", status=status)


@login_required
def nudge_list(request: HttpRequest) -> HttpResponse:
    show_state = request.GET.get("show", "open")
    if show_state not in selectors.SHOW_STATES:
        show_state = "open"
    return _nudge_page(request, show_state)


def _my_nudge(request: HttpRequest, pk: int) -> Nudge:
    return get_object_or_404(Nudge, pk=pk, recipient=current_user(request))


def _refused(request: HttpRequest, form: Any, error: ValidationError) -> None:
    apply_errors(form, error)
    if not hasattr(error, "error_dict"):
        # e.g. already closed in another tab: the nudge is gone from the list, so say it at
        # the top of the page.
        messages.error(request, " ".join(error.messages))


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
                user=current_user(request),
                nudge=nudge,
                until=until,
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as error:
            _refused(request, form, error)
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
                user=current_user(request), nudge=nudge, reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            _refused(request, form, error)
        else:
            messages.success(request, _("Dismissed. Thanks for telling the coach why."))
            return redirect("coach-nudges") if not request.htmx else _nudge_page(request, "open")
    return _nudge_page(request, "open", status=422, error_nudge=nudge.pk, dismiss_form=form)


@login_required
def stats(request: HttpRequest) -> HttpResponse:
    """How the coach is doing: per rule, and the reliability (靠谱) of each rep."""
    user = current_user(request)
    if user.is_admin_role:
        scope = Nudge.objects.all()
    elif not can_view_cockpit(user):
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
