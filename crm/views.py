"""Pages. Views parse input, call one service or selector, and render; htmx requests get the
page's swappable region (a template partial), everything else the whole page.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from crm import selectors, services
from crm.forms import ActivityForm, HandOffForm, LeadFilterForm, LeadForm, ProfileForm, StageForm
from crm.models import Lead, Team, User
from crm.permissions import can_hand_off, hand_off_targets, visible_leads, visible_people


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _apply_errors(form: Any, error: ValidationError) -> None:
    """Show a service's refusal on the form, next to the field it concerns where it names one."""
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


@login_required
def my_day(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    context = selectors.my_day(user=user)
    context["can_hand_off"] = can_hand_off(user)
    return render(request, "crm/my_day.html", context)


@login_required
def lead_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    owners = [(str(p.pk), str(p)) for p in visible_people(user).order_by("first_name", "username")]
    form = LeadFilterForm(request.GET or None, owners=owners)
    form.is_valid()
    data = getattr(form, "cleaned_data", {})
    filters = selectors.LeadFilters(
        **{name: data.get(name) or "" for name in selectors.LeadFilters.__dataclass_fields__}
    )
    if not filters.sort:
        filters = selectors.LeadFilters(**{**filters.__dict__, "sort": selectors.DEFAULT_SORT})
    leads = selectors.lead_list(user=user, filters=filters)
    page = Paginator(leads, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "filters": filters,
        "can_hand_off": can_hand_off(user),
    }
    template = "crm/lead_list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#results"
    return render(request, template, context)


def _lead_for(request: HttpRequest, pk: int) -> Lead:
    """The lead if the user may see it; 404 otherwise, whatever the reason."""
    return get_object_or_404(
        visible_leads(_user(request)).select_related(
            "owner", "team", "handed_by", "created_by", "team__manager"
        ),
        pk=pk,
    )


def _detail_context(
    lead: Lead,
    *,
    activity_form: ActivityForm | None = None,
    stage_form: StageForm | None = None,
) -> dict[str, Any]:
    return {
        "lead": lead,
        "timeline": selectors.lead_timeline(lead=lead),
        "activity_form": activity_form or ActivityForm(),
        "stage_form": stage_form or StageForm(lead=lead),
    }


def _render_detail(
    request: HttpRequest, lead: Lead, status: int = 200, **forms: Any
) -> HttpResponse:
    template = "crm/lead_detail.html"
    if request.htmx:
        template += "#lead-work"
    return render(request, template, _detail_context(lead, **forms), status=status)


@login_required
def lead_detail(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _lead_for(request, pk)
    return render(request, "crm/lead_detail.html", _detail_context(lead))


@login_required
@require_POST
def lead_log_activity(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _lead_for(request, pk)
    form = ActivityForm(request.POST)
    if form.is_valid():
        try:
            services.activity_log(actor=_user(request), lead=lead, **form.cleaned_data)
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, _("Activity logged."))
            if not request.htmx:
                return redirect(lead)
            return _render_detail(request, _lead_for(request, pk))
    return _render_detail(request, lead, status=422, activity_form=form)


@login_required
@require_POST
def lead_change_stage(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _lead_for(request, pk)
    form = StageForm(request.POST, lead=lead)
    if form.is_valid():
        try:
            services.lead_change_stage(
                actor=_user(request),
                lead=lead,
                to_stage=form.cleaned_data["to_stage"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, _("Stage changed."))
            if not request.htmx:
                return redirect(lead)
            return _render_detail(request, _lead_for(request, pk))
    return _render_detail(request, lead, status=422, stage_form=form)


@login_required
@require_http_methods(["GET", "POST"])
def lead_create(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if user.is_director and not user.is_admin_role:
        messages.info(request, _("Directors do not create leads; a manager or rep does."))
        return redirect("lead-list")
    form = LeadForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        team: Team | None = data.pop("team", None)
        try:
            lead = services.lead_create(actor=user, data=data, team=team)
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, _("Lead created."))
            return redirect(lead)
    status = 422 if request.method == "POST" else 200
    return render(request, "crm/lead_form.html", {"form": form, "lead": None}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def lead_edit(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _lead_for(request, pk)
    form = LeadForm(request.POST or None, instance=lead, user=_user(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.lead_update(actor=_user(request), lead=lead, data=form.cleaned_data)
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, _("Lead saved."))
            return redirect(lead)
    if request.method == "POST":
        # The form changed the instance in place while validating; show the stored lead.
        lead.refresh_from_db()
    status = 422 if request.method == "POST" else 200
    return render(request, "crm/lead_form.html", {"form": form, "lead": lead}, status=status)


@login_required
def pipeline_board(request: HttpRequest) -> HttpResponse:
    columns = selectors.pipeline_board(user=_user(request))
    return render(request, "crm/board.html", {"columns": columns})


@login_required
@require_http_methods(["GET", "POST"])
def handoff(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not can_hand_off(user):
        messages.info(request, _("Only a manager can hand leads down."))
        return redirect("lead-list")
    q = request.GET.get("q", "").strip()[:100]
    show = "all" if request.GET.get("show") == "all" else "pool"
    candidates = selectors.handoff_candidates(user=user, q=q, show=show)
    reps = hand_off_targets(user)
    page = Paginator(candidates, 50).get_page(request.GET.get("page"))
    if request.method == "POST":
        # Validate against every lead the manager may hand, not only the page on screen.
        allowed = list(
            selectors.handoff_candidates(user=user, show="all").values_list("pk", flat=True)
        )
        form = HandOffForm(request.POST, lead_choices=allowed, reps=reps)
        if form.is_valid():
            try:
                moved = services.lead_hand_off(
                    actor=user,
                    lead_ids=form.cleaned_data["leads"],
                    to_user=form.cleaned_data["to_user"],
                    note=form.cleaned_data["note"],
                )
            except ValidationError as error:
                _apply_errors(form, error)
            else:
                messages.success(
                    request,
                    ngettext(
                        "%(count)d lead handed to %(rep)s.",
                        "%(count)d leads handed to %(rep)s.",
                        moved,
                    )
                    % {"count": moved, "rep": form.cleaned_data["to_user"]},
                )
                return HttpResponseRedirect(request.get_full_path())
    else:
        form = HandOffForm(lead_choices=[], reps=reps)
    selected = {str(pk) for pk in request.POST.getlist("leads")}
    context = {
        "form": form,
        "page": page,
        "reps": selectors.rep_load(reps=reps),
        "q": q,
        "show": show,
        "selected": selected,
        "query": urlencode({"q": q, "show": show}),
    }
    status = 422 if request.method == "POST" else 200
    return render(request, "crm/handoff.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    initial = {"language": user.language, "time_zone": user.time_zone}
    form = ProfileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.profile_update(user=user, **form.cleaned_data)
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            translation.activate(user.language)
            messages.success(request, _("Your preferences are saved."))
            return redirect("profile")
    status = 422 if request.method == "POST" else 200
    history = user.memberships.select_related("team").all()
    return render(request, "crm/profile.html", {"form": form, "history": history}, status=status)


def health(request: HttpRequest) -> HttpResponse:
    """For load balancers and docker-compose: the process is up and the database answers."""
    connection.ensure_connection()
    return HttpResponse("ok", content_type="text/plain")
