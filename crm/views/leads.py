"""Lead pages: my day, the lead list (filters, sort, pages), a lead's page with its timeline and
its two forms (log an activity, change the stage), creating and editing a lead, the pipeline
board, and the manager's hand-out page.

Leads come from crm.permissions (`lead_get_for`, `visible_leads`): a lead one may not see is a
404. Writes go through crm.services; a refusal is shown on the form that asked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet, Sum
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    QueryDict,
)
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from crm import selectors, services
from crm.forms import ActivityForm, HandOffForm, LeadFilterForm, LeadForm, StageForm
from crm.models import ActivityKind, Contact, Lead, LeadTally, Team, User
from crm.models.people import NAME_COLUMNS, person_name
from crm.permissions import (
    can_create_leads,
    can_hand_off,
    hand_off_targets,
    lead_get_for,
    scope_team_ids,
    sees_whole_teams,
    visible_people,
)
from crm.selectors.walks import WALKED_PAGES
from crm.views.board_cards import board_cards
from crm.views.companies import lead_contacts_context
from crm.views.lead_rows import ListedLead, lead_rows
from crm.views.timeline_entries import timeline_entries
from crm.web import (
    HtmxHttpRequest,
    apply_errors,
    current_user,
    int_param,
    paginate,
    render_region,
    text_param,
)


@login_required
def my_day(request: HttpRequest) -> HttpResponse:
    context = selectors.my_day(user=current_user(request))
    return render(request, "crm/my_day.html", context)


# Past this many leads the list counts no further: "10,000+ leads", and its pages end there
# (a filter or an export reaches the rest). Counting a +2's 50,000 leads was most of their
# list's database time on PostgreSQL, and it grows with the company (issue 22).
COUNT_CAP = 10_000


class CappedPaginator(Paginator):
    """Counts at most COUNT_CAP + 1 of the rows of `counted` (the rows of `object_list` as a
    query of the leads alone) by their ids, in no order: an index answers it and stops. Without
    the owner's name (a join) or idle_since (on SQLite, a read of the table for each of a +2's
    10,001 leads: 25 ms when a filter is set). Given the `tally` of the same leads (their lead
    tally groups) it sums those instead and reads no lead. Past COUNT_CAP, `capped` is true and
    the pages end at COUNT_CAP rows."""

    def __init__(
        self,
        object_list: Any,
        per_page: int,
        *,
        counted: QuerySet[Any],
        tally: QuerySet[LeadTally] | None = None,
    ) -> None:
        super().__init__(object_list, per_page)
        self.counted, self.tally = counted, tally

    @cached_property
    def count(self) -> int:
        if self.tally is not None:
            counted = self.tally.aggregate(n=Sum("n"))["n"] or 0
            return min(int(counted), COUNT_CAP + 1)
        return int(self.counted.values("pk").order_by()[: COUNT_CAP + 1].count())

    @cached_property
    def capped(self) -> bool:
        return self.count > COUNT_CAP

    @cached_property
    def num_pages(self) -> int:
        if self.capped:
            return -(-COUNT_CAP // self.per_page)
        return int(super().num_pages)


# What a row shows (crm/views/lead_rows.py's ListedLead, in its order): its owner's name and
# the lead's own columns.
ROW_VALUES = (
    *(f"owner__{name}" for name in NAME_COLUMNS),
    *("pk", "company", "contact_name", "is_chicken_rib", "stage", "currency", "value", "source"),
    *("next_step", "next_step_due", "updated_at"),
)


def listed_leads(rows: Iterable[tuple[Any, ...]]) -> list[ListedLead]:
    """The rows of a lead query's `values_list(*ROW_VALUES)` as lead_rows reads them."""
    listed = []
    for shown, first, last, username, *lead in rows:
        # No username: the join found no owner, the lead is in the team pool.
        owner = None if username is None else person_name(shown, first, last, username)
        listed.append(ListedLead(owner, *lead))
    return listed


def owner_choices(user: User) -> list[tuple[str, str]]:
    """The owner filter's people as (id, name), read as values: a +2's hundred reps made into
    whole users were a fifth of their list's time (issue 22)."""
    people = visible_people(user).order_by("first_name", "username")
    return [
        (str(pk), person_name(*names)) for pk, *names in people.values_list("pk", *NAME_COLUMNS)
    ]


def filter_key(
    form: LeadFilterForm, asked: QueryDict, owners: list[tuple[str, str]]
) -> tuple[Any, ...]:
    """All the filter bar's HTML depends on besides the language: the owners one may pick and
    the values asked of each field (the bar is rendered once per process for each such key:
    lead_list.html); its errors and selected options follow from these."""
    values = tuple((name, tuple(asked.getlist(name))) for name in form.fields)
    return (tuple(owners), form.is_bound, values)


def walk_depth(raw: str | None, per_page: int) -> int | None:
    """The last row's place of the page asked for, when it is one of the first WALKED_PAGES
    (crm.selectors.walks): a list sorted biggest first reads that deep (a page past the end is
    shown as the last, which lies within it). None for a later page or what is not a page
    number (shown as the first or the last page): its rows are sorted."""
    raw = raw or "1"
    # Digits only (never int() on '²' or 5,000 digits), and few of them.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 3) or not 1 <= int(raw) <= WALKED_PAGES:
        return None
    return int(raw) * per_page


@login_required
def lead_list(request: HtmxHttpRequest) -> HttpResponse:
    user = current_user(request)
    owners = owner_choices(user)
    form = LeadFilterForm(request.GET or None, owners=owners)
    form.is_valid()
    filters = selectors.LeadFilters.from_params(getattr(form, "cleaned_data", {}))
    team_ids = scope_team_ids(user)  # a manager's or +2's teams; None for a rep, an admin
    depth = walk_depth(request.GET.get("page"), settings.KAOPU_PAGE_SIZE)
    leads = selectors.lead_list(user=user, filters=filters, team_ids=team_ids, depth=depth)
    rows = leads.select_related(None).values_list(*ROW_VALUES)
    # Unfiltered, such a list is their teams' leads, and the lead tally has their number in a
    # few hundred rows a team: 0.3-0.6 ms less than counting 10,001 of a +2's (issue 22).
    tally = None
    if team_ids is not None and sees_whole_teams(user) and not filters.narrows:
        tally = LeadTally.objects.filter(team_id__in=team_ids)
    counted = leads
    if filters.view:
        # Due and Stalled counted from each team's own index range (SQLite: lead_team_idle, the
        # covering lead_team_cube for Due) instead of as the rows walk: a +2's stalled leads
        # 56 -> 43 ms, due 92 -> 18 ms. Other filters count best as the rows are read (by
        # source: 60 ms, not 200). The same statement on PostgreSQL.
        counted = selectors.lead_list(user=user, filters=filters, team_ids=team_ids, walking=False)
    paginator = CappedPaginator(rows, settings.KAOPU_PAGE_SIZE, counted=counted, tally=tally)
    page = paginator.get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "filter_key": filter_key(form, request.GET, owners),
        "page": page,
        "rows": lead_rows(listed_leads(page.object_list)),
        "query": query.urlencode(),
        "filters": filters,
        "count_cap": f"{COUNT_CAP:,}",
    }
    return render_region(request, "crm/lead_list.html", context, "results")


def _timeline(request: HttpRequest, lead: Lead) -> dict[str, Any]:
    """The newest entries first (a page of them); the whole history (up to 1,000) when asked."""
    everything = request.GET.get("timeline") == "all"
    limit = 1000 if everything else settings.KAOPU_PAGE_SIZE
    entries = selectors.lead_timeline(lead=lead, viewer=current_user(request), limit=limit + 1)
    return {
        "timeline": entries[:limit],
        "timeline_entries": timeline_entries(entries[:limit]),
        "timeline_more": len(entries) > limit,
    }


def _detail_context(
    request: HttpRequest,
    lead: Lead,
    *,
    activity_form: ActivityForm | None = None,
    stage_form: StageForm | None = None,
) -> dict[str, Any]:
    contacts = lead_contacts_context(request, lead)
    # The activity form's "with whom" checkboxes are the people on the deal just read.
    people = [link.contact for link in contacts["lead_contacts"]]
    key = None
    if activity_form is None:
        activity_form = _activity_form(request, lead, people)
        key = _activity_form_key(activity_form, lead, people)
    return {
        "lead": lead,
        "today": timezone.localdate(),
        **_timeline(request, lead),
        "activity_form": activity_form,
        "activity_form_key": key,
        "stage_form": stage_form or StageForm(lead=lead),
        **contacts,
    }


def _activity_form_key(form: ActivityForm, lead: Lead, people: list[Contact]) -> tuple[Any, ...]:
    """All an unbound activity form's fields show besides the language (the page renders them
    once per process for each: lead_detail.html): the kind chosen, the lead's next step and
    its date, and the people on the deal."""
    kind = form.fields["kind"].initial
    return ("activity", kind, lead.next_step, lead.next_step_due, *((c.pk, str(c)) for c in people))


def _client_key(request: HttpRequest) -> str:
    """The phone's key of a log kept offline (static/js/kaopu.js), or "" when none or odd."""
    key = request.POST.get("client_key", "")
    return key if re.fullmatch(r"[A-Za-z0-9-]{8,64}", key) else ""


def _activity_form(request: HttpRequest, lead: Lead, people: list[Contact]) -> ActivityForm:
    """The lead page's activity form, `people` on its checkboxes; the quick-log bar's links
    (?log=call) choose its kind."""
    form = ActivityForm(lead=lead, people=people)
    if request.GET.get("log") in ActivityKind.values:
        form.fields["kind"].initial = request.GET["log"]
    return form


def _render_work(request: HttpRequest, lead: Lead, status: int = 200, **forms: Any) -> HttpResponse:
    context = _detail_context(request, lead, **forms)
    return render_region(request, "crm/lead_detail.html", context, "lead-work", status=status)


@login_required
def lead_detail(request: HttpRequest, pk: int) -> HttpResponse:
    lead = lead_get_for(current_user(request), pk)
    return render(request, "crm/lead_detail.html", _detail_context(request, lead))


def _replay(request: HttpRequest) -> bool:
    """A log kept offline, sent by static/js/kaopu.js's outbox (not a person at the form)."""
    return request.headers.get("X-Kaopu-Replay") == "1"


@require_POST
def lead_log_activity(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    # A replay from a session that has ended is told so (401), not sent to the login page: the
    # phone keeps the log and asks its person to sign in, instead of taking the redirect as sent.
    if _replay(request) and not request.user.is_authenticated:
        return HttpResponse(status=401)
    return _log_activity(request, pk)


@login_required
def _log_activity(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    user = current_user(request)
    lead = lead_get_for(user, pk)
    form = ActivityForm(request.POST, lead=lead)
    if form.is_valid():
        try:
            activity = services.activity_log(
                actor=user, lead=lead, client_key=_client_key(request), **form.cleaned_data
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            if _replay(request):  # only this answer means "sent": the phone drops its copy
                return JsonResponse({"activity": activity.pk}, status=201)
            messages.success(request, _("Activity logged."))
            if not request.htmx:
                return redirect(lead)
            return _render_work(request, lead_get_for(user, pk))
    return _render_work(request, lead, status=422, activity_form=form)


def apply_stage_form(request: HttpRequest, user: User, lead: Lead) -> tuple[StageForm, bool]:
    """The stage form posted for a lead (its page or the board), sent to the pipeline: the form
    (with the refusal on it, if any) and whether the move was made ("Stage changed." is queued)."""
    form = StageForm(request.POST, lead=lead)
    if form.is_valid():
        try:
            services.lead_change_stage(
                actor=user,
                lead=lead,
                to_stage=form.cleaned_data["to_stage"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, _("Stage changed."))
            return form, True
    return form, False


@login_required
@require_POST
def lead_change_stage(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    user = current_user(request)
    lead = lead_get_for(user, pk)
    form, moved = apply_stage_form(request, user, lead)
    if moved:
        if not request.htmx:
            return redirect(lead)
        return _render_work(request, lead_get_for(user, pk))
    return _render_work(request, lead, status=422, stage_form=form)


@login_required
@require_http_methods(["GET", "POST"])
def lead_create(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    if not can_create_leads(user):
        messages.info(request, _("Directors do not create leads; a manager or rep does."))
        return redirect("lead-list")
    form = LeadForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        team: Team | None = data.pop("team", None)
        try:
            lead = services.lead_create(actor=user, data=data, team=team)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, _("Lead created."))
            return redirect(lead)
    status = 422 if request.method == "POST" else 200
    return render(request, "crm/lead_form.html", {"form": form, "lead": None}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def lead_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = current_user(request)
    lead = lead_get_for(user, pk)
    form = LeadForm(request.POST or None, instance=lead, user=user)
    if request.method == "POST" and form.is_valid():
        try:
            services.lead_update(actor=user, lead=lead, data=form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
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
    today = timezone.localdate()
    columns = board_cards(selectors.pipeline_board(user=current_user(request)), today)
    return render(request, "crm/board.html", {"columns": columns, "today": today})


@login_required
@require_http_methods(["GET", "POST"])
def handoff(request: HttpRequest) -> HttpResponse:
    """A manager hands pool leads down to the reps of their team, several at once."""
    user = current_user(request)
    if not can_hand_off(user):
        messages.info(request, _("Only a manager can hand leads down."))
        return redirect("lead-list")
    q = text_param(request, "q")
    show = "all" if request.GET.get("show") == "all" else "pool"
    reps = hand_off_targets(user)
    page = paginate(request, selectors.handoff_candidates(user=user, q=q, show=show))
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
                apply_errors(form, error)
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
        # "Pick" on the coach's suggestion (a link without JavaScript) preselects the rep.
        picked = int_param(request, "rep")
        initial = {"to_user": picked} if picked is not None else {}
        form = HandOffForm(lead_choices=[], reps=reps, initial=initial)
    context = {
        "form": form,
        "page": page,
        "reps": selectors.rep_load(reps=reps),
        "q": q,
        "show": show,
        "selected": {str(pk) for pk in request.POST.getlist("leads")},
        "query": urlencode({"q": q, "show": show}),
    }
    status = 422 if request.method == "POST" else 200
    return render(request, "crm/handoff.html", context, status=status)
