"""Pages for getting leads in and out: import a spreadsheet (upload, map the columns, watch it
run, read the error report) and export the filtered lead list as CSV or XLSX."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from crm import audit, exports, imports, selectors, tasks
from crm.exchange_forms import ImportMappingForm, ImportUploadForm
from crm.forms import LeadFilterForm
from crm.models import ImportJob, ImportState, User
from crm.permissions import can_import, visible_people
from crm.web import HtmxHttpRequest, apply_errors, current_user

# --- Import ----------------------------------------------------------------------------------


def _job_for(request: HttpRequest, pk: int) -> ImportJob:
    """The user's own import job; anyone else's does not exist for them."""
    return get_object_or_404(
        ImportJob.objects.select_related("team").defer("content"),
        pk=pk,
        created_by=current_user(request),
    )


@login_required
@require_http_methods(["GET", "POST"])
def lead_import(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    if not can_import(user):
        messages.info(request, _("Only managers and admins import leads."))
        return redirect("lead-list")
    form = ImportUploadForm(request.POST or None, request.FILES or None, user=user)
    if request.method == "POST" and form.is_valid():
        try:
            job = imports.import_upload(
                actor=user, upload=form.cleaned_data["file"], team=form.cleaned_data.get("team")
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            return redirect(job)
    recent = ImportJob.objects.filter(created_by=user).defer("content", "errors", "duplicates")
    context = {
        "form": form,
        "recent": recent[:10],
        "max_size": imports.megabytes(imports.max_bytes()),
        "max_rows": f"{imports.max_rows():,}",
    }
    status = 422 if request.method == "POST" else 200
    return render(request, "crm/import_upload.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def lead_import_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The mapping form while the job waits for it; afterwards its progress and its report."""
    job = _job_for(request, pk)
    if job.state != ImportState.UPLOADED:
        return render(request, "crm/import_result.html", _result_context(job))
    job = ImportJob.objects.select_related("team").get(pk=job.pk)  # with the file, for the preview
    form = ImportMappingForm(request.POST or None, job=job)
    if request.method == "POST" and form.is_valid():
        try:
            job = imports.import_configure(
                actor=current_user(request),
                job=job,
                mapping=form.mapping(),
                mode=form.cleaned_data["mode"],
                on_duplicate=form.cleaned_data["on_duplicate"],
                default_source=form.cleaned_data["default_source"],
                answers=form.answers(),
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            if imports.runs_in_background(job):
                tasks.enqueue_import(job.pk)
            else:
                imports.import_run(job_id=job.pk)
            return redirect(job)
    context = {
        "job": job,
        "form": form,
        "preview": imports.preview(job),
        "background": imports.runs_in_background(job),
    }
    status = 422 if request.method == "POST" else 200
    return render(request, "crm/import_mapping.html", context, status=status)


def _result_context(job: ImportJob) -> dict[str, Any]:
    return {
        "job": job,
        "percent": imports.progress(job),
        "checked": imports.checked(job),
        "saved": imports.saved(job) if job.state == ImportState.RUNNING else 0,
        "summary": imports.summary(job) if job.state == ImportState.DONE else "",
        "errors": job.errors[:500],
        "more_errors": max(0, len(job.errors) - 500),
        "duplicates": job.duplicates[:200],
        "more_duplicates": max(0, len(job.duplicates) - 200),
    }


@login_required
@require_GET
def lead_import_progress(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The progress region alone, for htmx to poll while the job runs."""
    job = _job_for(request, pk)
    if job.state == ImportState.UPLOADED:
        raise Http404
    response = render(request, "crm/import_result.html#progress", _result_context(job))
    if not job.is_active and request.htmx:
        # Done: load the whole page once, with the report.
        response["HX-Refresh"] = "true"
    return response


@login_required
@require_GET
def lead_import_errors(request: HttpRequest, pk: int) -> HttpResponse:
    """The job's report as CSV: every refused row with its reasons and its cells, and the
    duplicates."""
    job = _job_for(request, pk)
    # Each refused row's own cells follow its first problem, under the file's own header, so
    # the report can be corrected and imported again.
    head = [_("Line"), _("Column"), _("Field"), _("Problem"), *job.header]
    table = [
        [e["line"], e.get("column", ""), e["field"], e["message"], *e.get("cells", [])]
        for e in job.errors
    ]
    table += [[d["line"], "", d["field"], d["message"]] for d in job.duplicates]
    table.sort(key=lambda row: row[0])
    response = HttpResponse(
        exports.csv_text(table, head).encode("utf-8"), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
    return response


# --- Export ----------------------------------------------------------------------------------


def _filters(request: HttpRequest, user: User) -> selectors.LeadFilters | None:
    """The lead list's filters from the query string, read by the lead list's own form."""
    owners = [(str(p.pk), str(p)) for p in visible_people(user)]
    form = LeadFilterForm(request.GET or None, owners=owners)
    if request.GET and not form.is_valid():
        return None
    return selectors.LeadFilters.from_params(getattr(form, "cleaned_data", {}))


def _in_this_language(lines: Iterator[str]) -> Iterator[str]:
    """Stream lines after the view has returned, still in the reader's language and zone."""
    language = translation.get_language()
    zone = timezone.get_current_timezone()

    def stream() -> Iterator[str]:
        with translation.override(language), timezone.override(zone):
            yield from lines

    return stream()


@login_required
@require_GET
def lead_export(request: HttpRequest, fmt: str) -> HttpResponseBase:
    user = current_user(request)
    filters = _filters(request, user)
    if filters is None:
        messages.error(request, _("These filters are not valid; nothing was exported."))
        return redirect("lead-list")
    leads = selectors.lead_list(user=user, filters=filters)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    query = request.GET.urlencode()
    audit.record(actor=user, action="lead.exported", obj=user, summary=f"{fmt} {query}"[:300])
    head = exports.header()
    if fmt == "xlsx":
        # Written to a temporary file and streamed from it: memory stays flat at 100k leads.
        response: HttpResponseBase = FileResponse(
            exports.xlsx_file(
                exports.rows(leads), head, title=_("Leads"), widths=exports.date_widths()
            ),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    else:
        response = StreamingHttpResponse(
            _in_this_language(exports.csv_lines(exports.rows(leads), head)),
            content_type="text/csv; charset=utf-8",
        )
    response["Content-Disposition"] = f'attachment; filename="leads-{stamp}.{fmt}"'
    return response
