"""Company and contact pages: the company list and a company's page (its leads, its contacts
with the last time anyone spoke to each, likely duplicates to merge), the contact list with
search and filters, editing both, and the lead page's contacts region (who is on the deal, in
which role; put someone on it or take them off).

Companies and contacts come from crm.permissions (`company_get_for`, `contact_get_for`): one a
person may not see is a 404. Writes go through crm.services.companies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm import audit, exports
from crm.company_forms import (
    CompanyFilterForm,
    CompanyForm,
    CompanyMergeForm,
    ContactFilterForm,
    ContactForm,
    LeadContactForm,
)
from crm.models import Company, Lead, LeadContact
from crm.permissions import (
    can_hand_off,
    company_get_for,
    contact_get_for,
    lead_get_for,
    visible_companies,
)
from crm.selectors import companies as select
from crm.services import companies as write
from crm.web import HtmxHttpRequest, apply_errors, current_user, paginate, render_region


def _filter_values(form: forms.Form, names: tuple[str, ...]) -> dict[str, str]:
    """The list filters a GET form carries; a bad or missing one is "" (no filter)."""
    form.is_valid()
    data = getattr(form, "cleaned_data", {})
    return {name: data.get(name) or "" for name in names}


def _company_filters(request: HttpRequest) -> tuple[CompanyFilterForm, select.CompanyFilters]:
    form = CompanyFilterForm(request.GET or None)
    return form, select.CompanyFilters(**_filter_values(form, ("q", "city", "industry")))


def _contact_filters(request: HttpRequest) -> tuple[ContactFilterForm, select.ContactFilters]:
    form = ContactFilterForm(request.GET or None)
    return form, select.ContactFilters(**_filter_values(form, ("q", "role", "company")))


def _render_list(
    request: HttpRequest, template: str, form: forms.Form, rows: QuerySet[Any]
) -> HttpResponse:
    """A filtered list's page (or, for htmx, its results region), paged; the pager's links keep
    the filters."""
    page = paginate(request, rows)
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode()}
    return render_region(request, template, context, "results")


@login_required
def company_list(request: HtmxHttpRequest) -> HttpResponse:
    form, filters = _company_filters(request)
    companies = select.company_list(user=current_user(request), filters=filters)
    return _render_list(request, "crm/company_list.html", form, companies)


@login_required
@require_http_methods(["GET", "POST"])
def company_create(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    form = CompanyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            company = write.company_create(actor=user, data=form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, _("Company created."))
            return redirect(company)
    status = 422 if request.method == "POST" else 200
    return render(request, "crm/company_form.html", {"form": form, "company": None}, status=status)


def _company_context(request: HttpRequest, company: Company, **forms: Any) -> dict[str, Any]:
    user = current_user(request)
    context = select.company_page(user=user, company=company)
    context["contact_form"] = forms.get("contact_form") or ContactForm()
    if can_hand_off(user):
        duplicates = select.company_duplicates(user=user, company=company)
        context["duplicates"] = duplicates
        ids = [c.pk for c, _score in duplicates]
        context["merge_form"] = forms.get("merge_form") or CompanyMergeForm(
            companies=visible_companies(user).filter(pk__in=ids)
        )
    return context


@login_required
def company_detail(request: HttpRequest, pk: int) -> HttpResponse:
    company = company_get_for(current_user(request), pk)
    return render(request, "crm/company_detail.html", _company_context(request, company))


def _saved(
    request: HttpRequest,
    form: forms.BaseForm,
    save: Callable[[Mapping[str, Any]], object],
    done: str,
) -> bool:
    """A posted edit form, valid, saved through its service: True (with the success message).
    A refusal from the service lands on the form's fields, and nothing is saved."""
    if request.method != "POST" or not form.is_valid():
        return False
    try:
        save(form.cleaned_data)
    except ValidationError as error:
        apply_errors(form, error)
        return False
    messages.success(request, done)
    return True


@login_required
@require_http_methods(["GET", "POST"])
def company_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = current_user(request)
    company = company_get_for(user, pk)
    form = CompanyForm(request.POST or None, instance=company)

    def save(data: Mapping[str, Any]) -> object:
        return write.company_update(actor=user, company=company, data=data)

    if _saved(request, form, save, _("Company saved.")):
        return redirect(company)
    if request.method == "POST":
        company.refresh_from_db()
    status = 422 if request.method == "POST" else 200
    return render(
        request, "crm/company_form.html", {"form": form, "company": company}, status=status
    )


@login_required
@require_POST
def company_add_contact(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """A new contact at the company, from the form under its contact list (htmx swaps the list)."""
    user = current_user(request)
    company = company_get_for(user, pk)
    form = ContactForm(request.POST)
    status = 422
    if form.is_valid():
        try:
            write.contact_create(actor=user, company=company, data=form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, _("Contact added."))
            if not request.htmx:
                return redirect(company)
            form, status = ContactForm(), 200
    context = _company_context(request, company, contact_form=form)
    return render_region(
        request, "crm/company_detail.html", context, "company-contacts", status=status
    )


@login_required
@require_POST
def company_merge(request: HttpRequest, pk: int) -> HttpResponse:
    """Merge a likely duplicate into this company, after a person confirmed it."""
    user = current_user(request)
    company = company_get_for(user, pk)
    form = CompanyMergeForm(request.POST, companies=visible_companies(user).exclude(pk=pk))
    if form.is_valid():
        try:
            write.company_merge(actor=user, keep=company, merge=form.cleaned_data["merge"])
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, _("Companies merged; every lead and contact kept."))
            return redirect(company)
    context = _company_context(request, company, merge_form=form)
    return render(request, "crm/company_detail.html", context, status=422)


@login_required
def contact_list(request: HtmxHttpRequest) -> HttpResponse:
    form, filters = _contact_filters(request)
    contacts = select.contact_list(user=current_user(request), filters=filters)
    return _render_list(request, "crm/contact_list.html", form, contacts)


@login_required
@require_http_methods(["GET", "POST"])
def contact_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = current_user(request)
    contact = contact_get_for(user, pk)
    form = ContactForm(request.POST or None, instance=contact)

    def save(data: Mapping[str, Any]) -> object:
        return write.contact_update(actor=user, contact=contact, data=data)

    if _saved(request, form, save, _("Contact saved.")):
        return redirect(contact.company)
    if request.method == "POST":
        contact.refresh_from_db()
    context = {
        "form": form,
        "contact": contact,
        "last_spoken": select.contact_last_spoken(user=user, contact=contact),
    }
    return render(
        request,
        "crm/contact_form.html",
        context,
        status=422 if request.method == "POST" else 200,
    )


# --- The lead page's contacts region ----------------------------------------------------------


def lead_contacts_context(
    request: HttpRequest, lead: Lead, form: LeadContactForm | None = None
) -> dict[str, Any]:
    """What the lead page's contacts region needs (crm.views.leads adds it to its context).
    The form to put someone on the deal comes only when asked (?add_contact=1, or htmx fetching
    it), so the page people open all day does not pay for its menu."""
    user = current_user(request)
    if form is None and request.GET.get("add_contact") == "1":
        form = LeadContactForm(contacts=select.company_contacts_to_add(user=user, lead=lead))
    return {
        "lead_contacts": select.lead_contacts(user=user, lead=lead),
        "lead_contact_form": form,
    }


def _render_lead_contacts(
    request: HttpRequest, lead: Lead, form: LeadContactForm | None = None, status: int = 200
) -> HttpResponse:
    # The region alone carries the flash messages (inside #lead-work the page's own do).
    context = {"lead": lead, "contacts_alone": True, **lead_contacts_context(request, lead, form)}
    return render(request, "crm/contacts_on_lead.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def lead_contact_add(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """GET: the region with the form open (htmx), or the lead page with it (no JavaScript).
    POST: put someone on the deal."""
    user = current_user(request)
    lead = lead_get_for(user, pk)
    if request.method == "GET":
        candidates = select.company_contacts_to_add(user=user, lead=lead)
        if not request.htmx:
            return redirect(f"{lead.get_absolute_url()}?add_contact=1#lead-contacts")
        return _render_lead_contacts(request, lead, LeadContactForm(contacts=candidates))
    form = LeadContactForm(
        request.POST, contacts=select.company_contacts_to_add(user=user, lead=lead)
    )
    if form.is_valid():
        data = form.cleaned_data
        try:
            if data.get("contact"):
                write.lead_contact_add(
                    actor=user, lead=lead, contact=data["contact"], role=data["role"]
                )
            else:
                write.lead_contact_create(actor=user, lead=lead, data=data, role=data["role"])
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, _("Contact put on this lead."))
            if not request.htmx:
                return redirect(lead)
            return _render_lead_contacts(request, lead_get_for(user, pk))
    return _render_lead_contacts(request, lead, form, status=422)


@login_required
@require_POST
def lead_contact_remove(request: HtmxHttpRequest, pk: int, link_pk: int) -> HttpResponse:
    user = current_user(request)
    lead = lead_get_for(user, pk)
    link = get_object_or_404(LeadContact.objects.select_related("contact"), pk=link_pk, lead=lead)
    write.lead_contact_remove(actor=user, link=link)
    messages.success(request, _("%(name)s is no longer on this lead.") % {"name": link.contact})
    if not request.htmx:
        return redirect(lead)
    return _render_lead_contacts(request, lead)


# --- Export -----------------------------------------------------------------------------------


def _export(
    request: HttpRequest, fmt: str, name: str, title: str, head: list[str], rows: Any
) -> HttpResponseBase:
    user = current_user(request)
    audit.record(actor=user, action=f"{name}.exported", obj=user, summary=fmt)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    if fmt == "xlsx":
        # Written to a temporary file and streamed from it, as the lead export: flat memory.
        response: HttpResponseBase = FileResponse(
            exports.xlsx_file(rows, head, title=title),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    else:
        response = StreamingHttpResponse(
            exports.csv_lines(rows, head), content_type="text/csv; charset=utf-8"
        )
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.{fmt}"'
    return response


@login_required
@require_GET
def company_export(request: HttpRequest, fmt: str) -> HttpResponseBase:
    """The company list as filtered, as CSV or XLSX (only companies the user may see)."""
    _form, filters = _company_filters(request)
    companies = select.company_list(user=current_user(request), filters=filters)
    rows = exports.company_rows(companies)
    return _export(request, fmt, "companies", _("Companies"), exports.company_header(), rows)


@login_required
@require_GET
def contact_export(request: HttpRequest, fmt: str) -> HttpResponseBase:
    """The contact list as filtered, as CSV or XLSX (only contacts the user may see)."""
    _form, filters = _contact_filters(request)
    contacts = select.contact_list(user=current_user(request), filters=filters)
    rows = exports.contact_rows(contacts)
    return _export(request, fmt, "contacts", _("Contacts"), exports.contact_header(), rows)
