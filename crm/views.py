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
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.middleware import HtmxDetails

from crm import selectors, services
from crm.forms import (
    ActivityForm,
    AskAnswerForm,
    DecisionForm,
    HandOffForm,
    LeadFilterForm,
    LeadForm,
    ProfileForm,
    ReplyForm,
    ReportForm,
    StageForm,
)
from crm.models import (
    AskState,
    AuditEntry,
    Lead,
    Report,
    ReportKind,
    ReportState,
    Role,
    Team,
    User,
)
from crm.permissions import (
    can_answer_report,
    can_hand_off,
    hand_off_targets,
    visible_leads,
    visible_people,
    visible_reports,
)


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


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
def lead_list(request: HtmxHttpRequest) -> HttpResponse:
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


TIMELINE_PAGE = 50


def _timeline(request: HttpRequest, lead: Lead) -> dict[str, Any]:
    """The newest entries first; the whole history (up to 1,000) when asked for."""
    everything = request.GET.get("timeline") == "all"
    limit = 1000 if everything else TIMELINE_PAGE
    entries = selectors.lead_timeline(lead=lead, viewer=_user(request), limit=limit + 1)
    return {"timeline": entries[:limit], "timeline_more": len(entries) > limit}


def _detail_context(
    request: HttpRequest,
    lead: Lead,
    *,
    activity_form: ActivityForm | None = None,
    stage_form: StageForm | None = None,
) -> dict[str, Any]:
    return {
        "lead": lead,
        **_timeline(request, lead),
        "activity_form": activity_form or ActivityForm(),
        "stage_form": stage_form or StageForm(lead=lead),
    }


def _render_detail(
    request: HtmxHttpRequest, lead: Lead, status: int = 200, **forms: Any
) -> HttpResponse:
    template = "crm/lead_detail.html"
    if request.htmx:
        template += "#lead-work"
    return render(request, template, _detail_context(request, lead, **forms), status=status)


@login_required
def lead_detail(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _lead_for(request, pk)
    return render(request, "crm/lead_detail.html", _detail_context(request, lead))


@login_required
@require_POST
def lead_log_activity(request: HtmxHttpRequest, pk: int) -> HttpResponse:
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
def lead_change_stage(request: HtmxHttpRequest, pk: int) -> HttpResponse:
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


# --- Reports (汇报) ---------------------------------------------------------------------------


def _report_for(request: HttpRequest, pk: int, *, submitted_only: bool = False) -> Report:
    reports = visible_reports(_user(request))
    if submitted_only:
        reports = reports.filter(state=ReportState.SUBMITTED)
    return get_object_or_404(
        reports.select_related(
            "author", "team", "team__manager", "lead", "acknowledged_by", "decided_by"
        ),
        pk=pk,
    )


def _compose_context(form: ReportForm, report: Report | None, lead: Lead | None) -> dict[str, Any]:
    kind = form["kind"].value() or ReportKind.PROGRESS
    return {
        "form": form,
        "report": report,
        "kind": kind,
        "kind_label": ReportKind(kind).label if kind in ReportKind.values else "",
        "kinds": ReportKind.choices,
        "quality": report.quality_issue_labels() if report else [],
        "score": report.quality_score if report else None,
        **selectors.lead_report_facts(lead=lead),
    }


@login_required
@require_http_methods(["GET", "POST"])
def report_compose(request: HtmxHttpRequest, pk: int | None = None) -> HttpResponse:
    """Write a report: autosaved as a draft while typing, sent when the rep says so."""
    user = _user(request)
    report: Report | None = None
    if pk is not None:
        report = get_object_or_404(
            Report.objects.select_related("lead"), pk=pk, author=user, state=ReportState.DRAFT
        )
    elif (draft_id := request.POST.get("report_id", "")).isdigit():
        report = Report.objects.filter(pk=int(draft_id), author=user).first()
        if report is not None and report.state != ReportState.DRAFT:
            # Sent meanwhile (an autosave racing the send button): keep it as sent.
            if request.POST.get("action") == "autosave":
                return HttpResponse(status=204)
            messages.info(request, _("This report is already sent."))
            return redirect(report)
    lead: Lead | None = report.lead if report else None
    lead_id = request.GET.get("lead") or request.POST.get("lead")
    if report is None and lead_id:
        lead = get_object_or_404(visible_leads(user), pk=lead_id)
    kind = (
        request.POST.get("kind")
        or request.GET.get("kind")
        or (report.kind if report else ReportKind.PROGRESS)
    )
    if kind not in ReportKind.values:
        kind = ReportKind.PROGRESS
    if request.method == "GET":
        initial = {"kind": kind, "report_id": report.pk if report else None}
        if request.GET.get("share") == "1":
            initial["share_with_director"] = True
        form = ReportForm(instance=report, initial=initial, kind=kind)
        return render(request, "crm/report_form.html", _compose_context(form, report, lead))

    form = ReportForm(request.POST, instance=report, kind=kind)
    action = request.POST.get("action", "draft")
    if form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k != "report_id"}
        try:
            report = services.report_save_draft(author=user, data=data, report=report, lead=lead)
            if action == "submit":
                report = services.report_submit(author=user, report=report)
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            if action == "autosave":
                return render(
                    request,
                    "crm/report_form.html#autosave",
                    _compose_context(form, report, lead) | {"saved_at": timezone.now()},
                )
            if action == "submit":
                messages.success(request, _("Report sent to your manager."))
                return redirect(report)
            messages.success(request, _("Draft saved. Finish it whenever you are ready."))
            return redirect("report-edit", pk=report.pk)
    if action == "autosave":
        context = _compose_context(form, report, lead) | {"autosave_failed": True}
        return render(request, "crm/report_form.html#autosave", context)
    return render(request, "crm/report_form.html", _compose_context(form, report, lead), status=422)


def _report_context(request: HttpRequest, report: Report, **forms: Any) -> dict[str, Any]:
    user = _user(request)
    return {
        "report": report,
        "replies": report.replies.select_related("author"),
        "can_answer": can_answer_report(user, report),
        # Each form has its own id prefix: two "note" fields on one page must not share an id.
        "reply_form": forms.get("reply_form") or ReplyForm(auto_id="reply_%s"),
        "ask_form": forms.get("ask_form") or AskAnswerForm(auto_id="ask_%s"),
        "decision_form": forms.get("decision_form") or DecisionForm(auto_id="decision_%s"),
    }


def _render_report(
    request: HtmxHttpRequest, report: Report, status: int = 200, **forms: Any
) -> HttpResponse:
    template = "crm/report_detail.html"
    if request.htmx:
        template += "#report-body"
    return render(request, template, _report_context(request, report, **forms), status=status)


@login_required
def report_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    report = _report_for(request, pk)
    if report.state == ReportState.DRAFT:
        return redirect("report-edit", pk=report.pk)
    services.report_mark_read(actor=_user(request), report=report)
    return render(request, "crm/report_detail.html", _report_context(request, report))


def _report_action(
    request: HtmxHttpRequest, pk: int, form_name: str, form: Any, run: Any
) -> HttpResponse:
    """Shared shape of the report's answer buttons: validate, call the service, re-render."""
    report = _report_for(request, pk, submitted_only=True)
    if form is None or form.is_valid():
        try:
            run(report, form.cleaned_data if form is not None else {})
        except ValidationError as error:
            if form is None:
                messages.error(request, " ".join(error.messages))
            else:
                _apply_errors(form, error)
        else:
            if not request.htmx:
                return redirect(report)
            return _render_report(request, _report_for(request, pk, submitted_only=True))
    if not request.htmx:
        return render(
            request,
            "crm/report_detail.html",
            _report_context(request, report, **{form_name: form}),
            status=422,
        )
    return _render_report(request, report, status=422, **{form_name: form})


@login_required
@require_POST
def report_acknowledge(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    return _report_action(
        request,
        pk,
        "",
        None,
        lambda report, _data: services.report_acknowledge(actor=user, report=report),
    )


@login_required
@require_POST
def report_reply(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    return _report_action(
        request,
        pk,
        "reply_form",
        ReplyForm(request.POST, auto_id="reply_%s"),
        lambda report, data: services.report_reply(actor=user, report=report, **data),
    )


@login_required
@require_POST
def report_answer_ask(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    return _report_action(
        request,
        pk,
        "ask_form",
        AskAnswerForm(request.POST, auto_id="ask_%s"),
        lambda report, data: services.report_answer_ask(actor=user, report=report, **data),
    )


@login_required
@require_POST
def report_decide(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    return _report_action(
        request,
        pk,
        "decision_form",
        DecisionForm(request.POST, auto_id="decision_%s"),
        lambda report, data: services.report_decide(actor=user, report=report, **data),
    )


@login_required
def report_inbox(request: HtmxHttpRequest) -> HttpResponse:
    """The manager's inbox: the team's reports, newest first, unread marked; it refreshes
    itself while open."""
    user = _user(request)
    show = request.GET.get("show", "all")
    if show not in ("all", "unread", "asks", "unacknowledged"):
        show = "all"
    page = Paginator(selectors.report_inbox(user=user, show=show), 30).get_page(
        request.GET.get("page")
    )
    # Per-rep figures are for the manager (and admin), who sees every report they count; a +2
    # sees only shared reports here and has the director page for team figures.
    can_see_all = user.role == Role.MANAGER or user.is_admin_role
    reps = visible_people(user) if can_see_all else User.objects.none()
    context = {
        "page": page,
        "show": show,
        "query": urlencode({"show": show}),
        "rep_stats": selectors.rep_report_stats(reps=reps),
        "counts": selectors.report_inbox(user=user).aggregate(
            unread=Count("pk", filter=Q(read_at__isnull=True)),
            asks=Count("pk", filter=Q(ask_state=AskState.OPEN)),
            unacknowledged=Count("pk", filter=Q(acknowledged_at__isnull=True)),
        ),
    }
    template = "crm/report_inbox.html"
    if request.htmx and not request.htmx.boosted:
        template += "#inbox"
    return render(request, template, context)


@login_required
def my_manager(request: HttpRequest) -> HttpResponse:
    """A rep's page about their manager: reporting rhythm, open asks, answers."""
    user = _user(request)
    return render(request, "crm/my_manager.html", selectors.my_manager(user=user))


# --- Security: lock-out page and the audit trail ----------------------------------------------


def locked_out(
    request: HttpRequest, credentials: Any = None, *args: Any, **kwargs: Any
) -> HttpResponse:
    """django-axes calls this after too many failed sign-ins for one username and address."""
    from django.contrib.auth.forms import AuthenticationForm

    message = _(
        "Too many failed sign-ins. For your safety this account is locked for 15 minutes here."
    )
    context = {"form": AuthenticationForm(request), "lockout_message": message}
    return render(request, "registration/login.html", context, status=429)


@login_required
def audit_trail(request: HttpRequest) -> HttpResponse:
    """Admins read the audit trail in the app; everyone else gets a 404."""
    user = _user(request)
    if not user.is_admin_role:
        raise Http404
    entries = AuditEntry.objects.select_related("actor")
    action = request.GET.get("action", "")
    actions = sorted(set(AuditEntry.objects.values_list("action", flat=True).distinct()))
    if action in actions:
        entries = entries.filter(action=action)
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "actions": actions,
        "action": action,
        "query": urlencode({"action": action}),
    }
    return render(request, "crm/audit.html", context)
