"""Reliability (靠谱) seen by the rep and about one rep: "My reliability" shows a rep their own
figures as their manager sees them and, once they meet the team's bar, lets them ask for the
next good lead (ideas I9, I15); the rep page shows the same figures about one rep to whoever
may see that rep (their manager, their +2, an admin) — 404 for anyone else.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from coaching import cockpit, next_lead
from coaching.forms import NextLeadAskForm
from crm.models import User
from crm.permissions import reports_to_a_manager, visible_people
from crm.web import HtmxHttpRequest, apply_errors, current_user, render_region


def _context(request: HtmxHttpRequest, rep: User, base: str) -> dict[str, Any]:
    """The rep's figures over the period asked for, and their standing against the bar."""
    days = cockpit.period_from(request.GET.get("days"))
    now = timezone.now()
    bar, standing_row, met = next_lead.standing(rep=rep, now=now)
    return {
        "rep": rep,
        "days": days,
        "periods": [(n, urlencode({"days": n})) for n in cockpit.PERIODS],
        "row": cockpit.rep_figures(rep=rep, days=days, now=now),
        "bar": bar,
        "bar_row": standing_row,
        "bar_met": met,
        "reports_missing": bar.reports_missing(standing_row),
        "open_ask": next_lead.open_ask_of(rep),
        "base": base,
    }


@login_required
@require_http_methods(["GET", "POST"])
def my_reliability(request: HtmxHttpRequest) -> HttpResponse:
    """A rep's own figures as their manager sees them, the team's bar, and the ask for the
    next lead once the bar is met."""
    user = current_user(request)
    if not reports_to_a_manager(user):
        raise Http404
    form = NextLeadAskForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                next_lead.next_lead_ask(rep=user, note=form.cleaned_data["note"])
            except ValidationError as error:
                apply_errors(form, error)
            else:
                messages.success(request, _("Your manager sees your ask beside the next hand-off."))
                return redirect("coach-me")
        status = 422
    context = _context(request, user, "me") | {"form": form, "own": True}
    return render_region(request, "coaching/reliability.html", context, "cockpit", status=status)


@login_required
@require_POST
def my_ask_withdraw(request: HtmxHttpRequest) -> HttpResponse:
    """The rep takes back their ask for the next lead."""
    user = current_user(request)
    if not reports_to_a_manager(user):
        raise Http404
    if next_lead.next_lead_ask_withdraw(rep=user):
        messages.success(request, _("Your ask is withdrawn."))
    return redirect("coach-me")


@login_required
def rep_page(request: HtmxHttpRequest, rep_id: int) -> HttpResponse:
    """One rep's figures, for the people who may see that rep; the rep is sent to their own
    page; anyone else gets 404."""
    user = current_user(request)
    if user.pk == rep_id and reports_to_a_manager(user):
        return redirect("coach-me")
    if reports_to_a_manager(user):
        raise Http404
    rep = get_object_or_404(visible_people(user).select_related("team"), pk=rep_id)
    context = _context(request, rep, "rep") | {"own": False}
    return render_region(request, "coaching/reliability.html", context, "cockpit")
