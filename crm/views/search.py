"""Search from anywhere: the header's box (and "/" from any page, static/js/kaopu.js) lands on
one page listing the leads, companies, contacts and reports the person may see that match,
each kind ranked (crm.selectors.search). A bad term (a NUL byte, too long) is refused with the
form's message and nothing is searched."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from crm.selectors import search as select
from crm.web import HtmxHttpRequest, current_user, render_region


class SiteSearchForm(forms.Form):
    q = forms.CharField(label=_("Search"), max_length=select.MAX_TERM, required=False)


@login_required
@require_GET
def site_search(request: HtmxHttpRequest) -> HttpResponse:
    form = SiteSearchForm(request.GET)
    q = form.cleaned_data["q"] if form.is_valid() else ""
    results = select.site_search(user=current_user(request), q=q)
    context = {
        "form": form,
        "results": results,
        "search_term": results.term,
        "limit": select.LIMIT,
    }
    return render_region(request, "crm/search.html", context, "results")
