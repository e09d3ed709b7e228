"""Pages about people and the running system: one's own preferences, a rep's page about their
manager, the health check, the sign-in lock-out page and the admins' audit trail."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from crm import selectors, services
from crm.calendar import feed_urls
from crm.forms import ProfileForm
from crm.models import AuditEntry
from crm.permissions import can_view_audit, reports_to_a_manager
from crm.views.calendar import profile_calendar_action
from crm.web import apply_errors, current_user, paginate


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    initial = {"language": user.language, "time_zone": user.time_zone}
    if request.method == "POST" and profile_calendar_action(request, user):
        return redirect(reverse("profile") + "#calendar")
    form = ProfileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.profile_update(user=user, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            translation.activate(user.language)
            messages.success(request, _("Your preferences are saved."))
            return redirect("profile")
    status = 422 if request.method == "POST" else 200
    history = user.memberships.select_related("team").all()
    context = {"form": form, "history": history, "calendar": feed_urls(user)}
    return render(request, "crm/profile.html", context, status=status)


@login_required
def my_manager(request: HttpRequest) -> HttpResponse:
    """A rep's page about their manager: reporting rhythm, open asks, answers. Managers and
    directors read reports rather than write them: their inbox."""
    user = current_user(request)
    if not reports_to_a_manager(user):
        messages.info(
            request, _("Reps write reports to their manager; your team’s reports are here.")
        )
        return redirect("report-inbox")
    return render(request, "crm/my_manager.html", selectors.my_manager(user=user))


def health(request: HttpRequest) -> HttpResponse:
    """For load balancers and docker-compose: the process is up and the database answers."""
    connection.ensure_connection()
    return HttpResponse("ok", content_type="text/plain")


def locked_out(
    request: HttpRequest, credentials: Any = None, *args: Any, **kwargs: Any
) -> HttpResponse:
    """django-axes calls this after too many failed sign-ins for one username and address."""
    message = _(
        "Too many failed sign-ins. For your safety this account is locked for 15 minutes here."
    )
    context = {"form": AuthenticationForm(request), "lockout_message": message}
    return render(request, "registration/login.html", context, status=429)


@login_required
def audit_trail(request: HttpRequest) -> HttpResponse:
    """Admins read the audit trail in the app; everyone else gets a 404."""
    if not can_view_audit(current_user(request)):
        raise Http404
    entries = AuditEntry.objects.select_related("actor")
    action = request.GET.get("action", "")
    actions = sorted(set(AuditEntry.objects.values_list("action", flat=True).distinct()))
    if action in actions:
        entries = entries.filter(action=action)
    context = {
        "page": paginate(request, entries),
        "actions": actions,
        "action": action,
        "query": urlencode({"action": action}),
    }
    return render(request, "crm/audit.html", context)
