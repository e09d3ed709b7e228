"""Report pages (汇报): writing one (autosaved as a draft, sent when the rep says so), reading
one with its answer buttons (acknowledge, reply, answer the ask, decide on the plan), and the
manager's inbox that refreshes itself while open.

Reports come from crm.permissions (`report_get_for`): one the user may not read is a 404.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from crm import selectors, services
from crm.forms import AskAnswerForm, DecisionForm, ReplyForm, ReportForm
from crm.models import AskState, Lead, Report, ReportKind, ReportState, User
from crm.permissions import (
    can_answer_report,
    can_see_rep_figures,
    report_get_for,
    reports_to_a_manager,
    visible_leads,
    visible_people,
)
from crm.reporting import is_big_deal
from crm.views.inbox_items import INBOX_COLUMNS, inbox_items
from crm.web import (
    HtmxHttpRequest,
    apply_errors,
    current_user,
    id_param,
    parse_int,
    render_region,
)

# The inbox shows fewer rows than the other lists: it refreshes itself every 20 seconds.
INBOX_PAGE_SIZE = 30

# The report page's answer forms by their name in the page's context, each with its own id
# prefix: two "note" fields on one page must not share an id.
ANSWER_FORMS: dict[str, tuple[type[Form], str]] = {
    "reply_form": (ReplyForm, "reply_%s"),
    "ask_form": (AskAnswerForm, "ask_%s"),
    "decision_form": (DecisionForm, "decision_%s"),
}


def _answer_form(name: str, report: Report, data: Any = None) -> Form:
    """The answer form `name`, empty or with what was posted; the ask's offers its next steps."""
    form_class, auto_id = ANSWER_FORMS[name]
    if form_class is AskAnswerForm:
        return AskAnswerForm(data, auto_id=auto_id, current=report.ask_state)
    return form_class(data, auto_id=auto_id)


def _compose_context(form: ReportForm, report: Report | None, lead: Lead | None) -> dict[str, Any]:
    kind = form["kind"].value() or ReportKind.PROGRESS
    folded_filled = any(str(field.value() or "").strip() for field in form.folded_fields())
    return {
        # The big-deal parts open by themselves on a big lead (or once something is in them).
        "fold_open": folded_filled or (lead is not None and is_big_deal(lead)),
        "form": form,
        "report": report,
        "kind": kind,
        "kind_label": ReportKind(kind).label if kind in ReportKind.values else "",
        "kinds": ReportKind.choices,
        "quality": report.quality_issue_labels() if report else [],
        "score": report.quality_score if report else None,
        **selectors.lead_report_facts(lead=lead),
    }


def _posted_kind(request: HttpRequest, report: Report | None) -> str:
    kind = (
        request.POST.get("kind")
        or request.GET.get("kind")
        or (report.kind if report else ReportKind.PROGRESS)
    )
    return kind if kind in ReportKind.values else ReportKind.PROGRESS


@login_required
@require_http_methods(["GET", "POST"])
def report_compose(request: HtmxHttpRequest, pk: int | None = None) -> HttpResponse:
    """Write a report: autosaved as a draft while typing, sent when the rep says so. Only a
    rep reports to a manager: anyone else is sent to the inbox where reports reach them."""
    user = current_user(request)
    report: Report | None = None
    if pk is not None:
        report = get_object_or_404(
            Report.objects.select_related("lead"), pk=pk, author=user, state=ReportState.DRAFT
        )
    if not reports_to_a_manager(user):
        messages.info(
            request, _("Reps write reports to their manager; your team’s reports are here.")
        )
        return redirect("report-inbox")
    elif (draft_id := parse_int(request.POST.get("report_id"))) is not None:
        report = Report.objects.filter(pk=draft_id, author=user).first()
        if report is not None and report.state != ReportState.DRAFT:
            # Sent meanwhile (an autosave racing the send button): keep it as sent.
            if request.POST.get("action") == "autosave":
                return HttpResponse(status=204)
            messages.info(request, _("This report is already sent."))
            return redirect(report)
    lead: Lead | None = report.lead if report else None
    lead_id = id_param(request, "lead")
    if report is None and lead_id is not None:
        lead = get_object_or_404(visible_leads(user), pk=lead_id)
    kind = _posted_kind(request, report)
    if request.method == "GET":
        initial = {"kind": kind, "report_id": report.pk if report else None}
        if request.GET.get("share") == "1":
            initial["share_with_director"] = True
        form = ReportForm(instance=report, initial=initial, kind=kind, on_lead=lead is not None)
        return render(request, "crm/report_form.html", _compose_context(form, report, lead))
    return _compose_post(request, user, report, lead, kind)


def _compose_post(
    request: HttpRequest, user: User, report: Report | None, lead: Lead | None, kind: str
) -> HttpResponse:
    """Save the draft (autosave or the draft button) or send it."""
    form = ReportForm(request.POST, instance=report, kind=kind, on_lead=lead is not None)
    action = request.POST.get("action", "draft")
    if form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k != "report_id"}
        try:
            report = services.report_save_draft(author=user, data=data, report=report, lead=lead)
            if action == "submit":
                report = services.report_submit(author=user, report=report)
        except ValidationError as error:
            apply_errors(form, error)
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


def _report_context(
    request: HttpRequest, report: Report, seen_before: Any = None, **forms: Any
) -> dict[str, Any]:
    """The report page. `seen_before` is when its author last looked before this visit: what
    the manager answered after it is marked "new" for the author."""
    user = current_user(request)
    is_author = report.author_id == user.pk
    return {
        "report": report,
        "replies": report.replies.select_related("author"),
        "can_answer": can_answer_report(user, report),
        "is_author": is_author,
        "seen_before": seen_before,
        "new_for_author": is_author
        and report.answered_at is not None
        and (seen_before is None or report.answered_at > seen_before),
        **{name: forms.get(name) or _answer_form(name, report) for name in ANSWER_FORMS},
    }


@login_required
def report_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    user = current_user(request)
    report = report_get_for(user, pk)
    if report.state == ReportState.DRAFT:
        return redirect("report-edit", pk=report.pk)
    services.report_mark_read(actor=user, report=report)
    seen_before = report.author_seen_at
    services.report_mark_seen(author=user, report=report)
    context = _report_context(request, report, seen_before=seen_before)
    return render(request, "crm/report_detail.html", context)


def _report_action(
    request: HtmxHttpRequest,
    pk: int,
    form_name: str,
    run: Callable[[Report, dict[str, Any]], object],
) -> HttpResponse:
    """Shared shape of the report's answer buttons: validate the posted answer form (none for
    a plain button), call the service, re-render."""
    user = current_user(request)
    report = report_get_for(user, pk, submitted_only=True)
    form = _answer_form(form_name, report, request.POST) if form_name else None
    if form is None or form.is_valid():
        try:
            run(report, form.cleaned_data if form is not None else {})
        except ValidationError as error:
            if form is None:
                messages.error(request, " ".join(error.messages))
            else:
                apply_errors(form, error)
        else:
            if not request.htmx:
                return redirect(report)
            report = report_get_for(user, pk, submitted_only=True)
            return render_region(
                request, "crm/report_detail.html", _report_context(request, report), "report-body"
            )
    context = _report_context(request, report, **{form_name: form})
    return render_region(request, "crm/report_detail.html", context, "report-body", status=422)


@login_required
@require_POST
def report_acknowledge(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    user = current_user(request)
    return _report_action(
        request,
        pk,
        "",
        lambda report, _data: services.report_acknowledge(actor=user, report=report),
    )


@login_required
@require_POST
def report_reply(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    user = current_user(request)
    return _report_action(
        request,
        pk,
        "reply_form",
        lambda report, data: services.report_reply(actor=user, report=report, **data),
    )


@login_required
@require_POST
def report_answer_ask(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    user = current_user(request)
    return _report_action(
        request,
        pk,
        "ask_form",
        lambda report, data: services.report_answer_ask(actor=user, report=report, **data),
    )


@login_required
@require_POST
def report_decide(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    user = current_user(request)
    return _report_action(
        request,
        pk,
        "decision_form",
        lambda report, data: services.report_decide(actor=user, report=report, **data),
    )


@login_required
def report_inbox(request: HtmxHttpRequest) -> HttpResponse:
    """The manager's inbox: the team's reports, newest first, unread marked; it refreshes
    itself while open."""
    user = current_user(request)
    show = request.GET.get("show", "all")
    if show not in ("all", "unread", "asks", "unacknowledged"):
        show = "all"
    inbox = selectors.report_inbox(user=user)
    counts = inbox.aggregate(
        all=Count("pk"),
        unread=Count("pk", filter=Q(read_at__isnull=True)),
        asks=Count("pk", filter=Q(ask_state=AskState.OPEN)),
        unacknowledged=Count("pk", filter=Q(acknowledged_at__isnull=True)),
    )
    shown = selectors.report_inbox(user=user, show=show, inbox=inbox).only(*INBOX_COLUMNS)
    paginator = Paginator(shown, INBOX_PAGE_SIZE)
    # Each view's count is one of the counts above (the same filters): no second COUNT.
    paginator.count = counts[show]  # type: ignore[misc]
    page = paginator.get_page(request.GET.get("page"))
    reps = visible_people(user) if can_see_rep_figures(user) else User.objects.none()
    context = {
        "page": page,
        "items": inbox_items(page.object_list),
        "show": show,
        "query": urlencode({"show": show}),
        "rep_stats": selectors.rep_report_stats(reps=reps),
        "counts": counts,
    }
    return render_region(request, "crm/report_inbox.html", context, "inbox")
