"""Thanks and credit: thanking the manager who handed down a won lead, year-end notes to the
people who helped, and the team feed where public thanks appear."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_http_methods

from coaching import selectors, services, updates
from coaching.forms import ThanksForm, YearEndForm
from crm.models import Lead, User
from crm.permissions import visible_leads
from crm.web import apply_errors, current_user, id_param, int_params


def thanks_drafts(*, lead: Lead, manager: User | None) -> dict[str, str]:
    """What the thanks page offers, in the active language, as a rep would write it: the
    private note, a sentence of loyalty (the talk's "贵人 … 您招呼，我随时在", I4) and the
    public credit. The rep keeps, edits or clears each."""
    names = {"company": lead.company, "manager": manager or ""}
    return {
        "body": _(
            "%(manager)s, we won %(company)s because you trusted me with it and kept steering "
            "me along the way. I learned a lot on this deal. Thank you!"
        )
        % names,
        "loyalty": _(
            "You opened doors for me at work. Wherever I am, if you ever need anything, just "
            "say the word: I'm there."
        ),
        "public_post": _(
            "We won %(company)s! Honestly, it isn't my win alone: %(manager)s looked after me "
            "and did the legwork with me. Without %(manager)s there would be no win."
        )
        % names,
    }


def with_loyalty(body: str, loyalty: str) -> str:
    """The private note with the loyalty sentence as its last paragraph, if one is kept."""
    body, loyalty = body.strip(), loyalty.strip()
    return f"{body}\n\n{loyalty}" if body and loyalty else body


@login_required
@require_http_methods(["GET", "POST"])
def thanks(request: HttpRequest) -> HttpResponse:
    """After a win, give back: a private thank-you to the manager who handed the lead down,
    a word of loyalty, a note on sharing the reward, and public credit for who helped."""
    user = current_user(request)
    lead = get_object_or_404(
        visible_leads(user).select_related("handed_by", "team"),
        pk=id_param(request, "lead") or 0,
        owner=user,
    )
    people = User.objects.filter(
        Q(team=lead.team) | Q(pk=lead.team.manager_id) | Q(pk=lead.team.director_id)
    ).exclude(pk=user.pk)
    manager = lead.handed_by
    with translation.override(user.language):
        initial: dict[str, object] = dict(thanks_drafts(lead=lead, manager=manager))
    initial["credited"] = [manager.pk] if manager else []
    form = ThanksForm(request.POST or None, initial=initial, people=people)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.thanks_send(
                author=user,
                lead=lead,
                body=with_loyalty(data["body"], data["loyalty"]),
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


def letter(helper: selectors.Helper) -> str:
    """The year-end note offered to one helper, in the active language: the wins they helped
    with and what they did on each (never a loss)."""
    sep = pgettext("between the items of a list", ", ")
    lines = [
        _("· %(company)s: you %(what)s")
        % {"company": lead.company, "what": sep.join(selectors.help_label(k) for k in kinds)}
        for lead, kinds in helper.lines
    ]
    if not lines:
        return _(
            "%(name)s, thank you for your guidance and support this year. I learned a lot "
            "from you, and I will keep working hard next year."
        ) % {"name": helper.person}
    return _(
        "%(name)s, thank you for looking after me this year. The wins you helped me with:\n"
        "%(lines)s\n"
        "None of them would have happened without you. Next year I will work even harder to "
        "live up to your trust."
    ) % {"name": helper.person, "lines": "\n".join(lines)}


def _added(request: HttpRequest) -> list[int]:
    """The colleagues the rep added by hand (?add=…, repeated), as ids."""
    return int_params(request, "add")


@login_required
@require_http_methods(["GET", "POST"])
def year_end(request: HttpRequest) -> HttpResponse:
    """Year-end thank-you notes to the people who helped this year, each pre-filled with the
    wins they helped with and what they did; the rep may add any active colleague."""
    user = current_user(request)
    year = timezone.localdate().year
    added = _added(request)
    error_form: YearEndForm | None = None
    if request.method == "POST":
        form = YearEndForm(request.POST)
        recipient = None
        if form.is_valid():
            recipient = (
                selectors.colleagues(user=user).filter(pk=form.cleaned_data["recipient"]).first()
            )
            if recipient is None:
                form.add_error(None, _("Choose someone who helped you this year."))
        if recipient is not None:
            try:
                services.year_end_note_send(
                    author=user, recipient=recipient, body=form.cleaned_data["body"]
                )
            except ValidationError as error:
                apply_errors(form, error)
            else:
                messages.success(request, _("Your note is sent."))
                query = urlencode([("add", pk) for pk in added])
                return redirect(reverse("coach-year-end") + (f"?{query}" if query else ""))
        error_form = form
    candidates = selectors.year_end_candidates(user=user, year=year, added=added)
    for helper in candidates:
        helper.draft = letter(helper)
    listed = {helper.person.pk for helper in candidates}
    context = {
        "candidates": candidates,
        "year": year,
        "error_form": error_form,
        "added": added,
        "list_sep": pgettext("between the items of a list", ", "),
        "colleagues": selectors.colleagues(user=user).exclude(pk__in=listed),
    }
    status = 422 if error_form is not None else 200
    return render(request, "coaching/year_end.html", context, status=status)


@login_required
def feed(request: HttpRequest) -> HttpResponse:
    """The team feed: public credit on the reader's team(s), the thanks they received and
    sent. Opening it marks the "you were thanked / credited" updates as seen."""
    user = current_user(request)
    updates.feed_seen(user=user)
    return render(request, "coaching/feed.html", selectors.team_feed(user=user))
