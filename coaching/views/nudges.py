"""The nudge center: the bell's count of open cards, one's open advice as cards (coaching.cards:
one per rule, subjects ranked, the rest folded), the snoozed and closed nudges, snoozing and
dismissing a whole card or one subject in it (htmx in place; plain forms without JavaScript; on a
lead's page its block is swapped), and the coach's numbers (per rule, each rep's reliability)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from coaching import cards, selectors, services
from coaching import nudges as nudge_actions
from coaching.forms import DismissForm, SnoozeForm, snooze_until
from coaching.models import Nudge
from coaching.views import nudge_items
from crm.permissions import can_view_cockpit, visible_teams
from crm.web import (
    HtmxHttpRequest,
    apply_errors,
    current_user,
    paginate,
    parse_int,
    render_region,
)

# Nudges are long cards: fewer to a page than the CRM's lists.
NUDGE_PAGE_SIZE = 30


@login_required
def bell(request: HttpRequest) -> HttpResponse:
    """The bell's count of open cards, polled by htmx so new advice shows without a reload."""
    count = cards.open_card_count(user=current_user(request))
    return render(request, "coaching/_bell.html", {"nudge_count": count})


def _nudge_page(
    request: HttpRequest, show_state: str, status: int = 200, **extra: Any
) -> HttpResponse:
    """The open list as cards (one per rule, subjects ranked, the rest folded); the snoozed and
    closed lists one nudge a row, paged."""
    user = current_user(request)
    language = translation.get_language() or "en"
    context: dict[str, Any] = {
        "show": show_state,
        "snooze_form": SnoozeForm(),
        "dismiss_form": DismissForm(),
        "card_snooze_form": SnoozeForm(),
        "card_dismiss_form": DismissForm(),
        "query": f"show={show_state}",
    }
    context |= extra
    # The subjects and their forms are written in Python (nudge_items), with the page's token.
    context["csrf_token"] = get_token(request)  # one token a page, as {% csrf_token %} had
    forms = nudge_items.NudgeForms(context["csrf_token"])
    if show_state == "open":
        context["cards"] = cards.cards_for(user=user, language=language)
        context["card_rows"] = [
            (card, nudge_items.card_parts(card, forms, context)) for card in context["cards"]
        ]
    else:
        nudges = selectors.nudges_for(user=user, show_state=show_state)
        page = paginate(request, nudges, NUDGE_PAGE_SIZE)
        shown = [selectors.show(n, language) for n in page.object_list]
        context |= {
            "page": page,
            "shown": [
                (item, forms.nudge(item.nudge.pk) if item.nudge.is_active else "") for item in shown
            ],
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


def _lead_of(request: HttpRequest, nudge: Nudge) -> int | None:
    """The lead whose page the form was posted from (its block is re-rendered), if any."""
    asked = parse_int(request.POST.get("from_lead"))
    return nudge.lead_id if asked is not None and asked == nudge.lead_id else None


def _lead_block(request: HttpRequest, lead_id: int, status: int = 200) -> HttpResponse:
    """The lead page's coaching block alone, swapped in place; it carries the flash messages
    (when it is part of a swapped #lead-work, that region shows them instead)."""
    return render(
        request,
        "coaching/_lead_nudges.html",
        {"lead_nudges_for": lead_id, "lead_nudges_swapped": True, "request": request},
        status=status,
    )


def _after(request: HtmxHttpRequest, lead_id: int | None) -> HttpResponse:
    """Where a successful action returns: the lead's page (or its block), or the coach."""
    if lead_id is not None:
        if request.htmx:
            return _lead_block(request, lead_id)
        return redirect("lead-detail", pk=lead_id)
    return redirect("coach-nudges") if not request.htmx else _nudge_page(request, "open")


def _snooze_until(form: SnoozeForm) -> Any:
    return snooze_until(
        form.cleaned_data["period"], form.cleaned_data.get("until"), timezone.localtime()
    )


@login_required
@require_POST
def nudge_snooze(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Snooze one subject (on its card, or on its lead's page)."""
    nudge = _my_nudge(request, pk)
    form = SnoozeForm(request.POST, auto_id=f"snooze-%s-{pk}")
    if form.is_valid():
        until = _snooze_until(form)
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
            return _after(request, _lead_of(request, nudge))
    return _refused_page(request, nudge, snooze_form=form)


def _refused_page(request: HtmxHttpRequest, nudge: Nudge, **form: Any) -> HttpResponse:
    """A refused snooze or dismiss, shown in place: the lead's block when it came from a lead's
    page, else the coach page with the form's errors on that nudge."""
    lead_id = _lead_of(request, nudge)
    if lead_id is not None:
        return _lead_block(request, lead_id, status=422)
    return _nudge_page(request, "open", status=422, error_nudge=nudge.pk, **form)


@login_required
@require_POST
def nudge_dismiss(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Dismiss one subject, saying why."""
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
            return _after(request, _lead_of(request, nudge))
    return _refused_page(request, nudge, dismiss_form=form)


@login_required
@require_POST
def card_snooze(request: HtmxHttpRequest, rule_id: str) -> HttpResponse:
    """Snooze a whole card: every due nudge of the rule for this person."""
    form = SnoozeForm(request.POST, auto_id=f"card-snooze-%s-{rule_id}")
    if form.is_valid():
        until = _snooze_until(form)
        try:
            n = nudge_actions.card_snooze(
                user=current_user(request),
                rule_id=rule_id,
                until=until,
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as error:
            _refused(request, form, error)
        else:
            messages.success(
                request,
                ngettext(
                    "%(n)s item snoozed until %(when)s.",
                    "%(n)s items snoozed until %(when)s.",
                    n,
                )
                % {"n": n, "when": f"{until:%Y-%m-%d %H:%M}"},
            )
            return _after(request, None)
    return _nudge_page(request, "open", status=422, error_card=rule_id, card_snooze_form=form)


@login_required
@require_POST
def card_dismiss(request: HtmxHttpRequest, rule_id: str) -> HttpResponse:
    """Dismiss a whole card, saying why."""
    form = DismissForm(request.POST, auto_id=f"card-dismiss-%s-{rule_id}")
    if form.is_valid():
        try:
            nudge_actions.card_dismiss(
                user=current_user(request), rule_id=rule_id, reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            _refused(request, form, error)
        else:
            messages.success(request, _("Dismissed. Thanks for telling the coach why."))
            return _after(request, None)
    return _nudge_page(request, "open", status=422, error_card=rule_id, card_dismiss_form=form)


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
