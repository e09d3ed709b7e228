"""Thanks and credit: thanking the manager who handed down a won lead, year-end notes to the
people who helped, and the team feed where public thanks appear."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from coaching import selectors, services
from coaching.forms import ThanksForm, YearEndForm
from crm.models import User
from crm.permissions import visible_leads
from crm.web import apply_errors, current_user


@login_required
@require_http_methods(["GET", "POST"])
def thanks(request: HttpRequest) -> HttpResponse:
    """After a win: thank the manager who handed the lead down, credit them in public."""
    user = current_user(request)
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
            apply_errors(form, error)
        else:
            messages.success(request, _("Thanks sent to %(manager)s.") % {"manager": manager})
            return redirect("coach-feed")
    status = 422 if request.method == "POST" else 200
    return render(request, "coaching/thanks.html", {"form": form, "lead": lead}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def year_end(request: HttpRequest) -> HttpResponse:
    """Year-end thank-you notes, pre-filled with the leads each manager handed down."""
    user = current_user(request)
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
                apply_errors(form, error)
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
    return render(request, "coaching/feed.html", selectors.team_feed(user=current_user(request)))
