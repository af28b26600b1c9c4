"""The import pages: upload an export, confirm its mapping, follow the job, read its outcome."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from core import access
from core.errors import DomainError, raise_if_denied
from streams.integrations.forms import ImportMappingForm, ImportUploadForm
from streams.integrations.jobs import (
    import_job_confirm_mapping,
    import_job_create,
    import_job_retry,
    import_job_stalled,
    may_import,
)
from streams.models import ImportJob, ValueStream

RECENT_JOBS = 25


@require_http_methods(["GET", "POST"])
def imports(request: HttpRequest) -> HttpResponse:
    """Upload form and the latest imports with their outcome."""
    form = ImportUploadForm(
        request.POST or None, request.FILES or None, initial={"stream": request.GET.get("stream", "")}, request=request
    )
    if request.method == "POST" and form.is_valid():
        try:
            job = import_job_create(
                user=request.user,
                source=form.cleaned_data["source"],
                stream_slug=form.cleaned_data["stream"],
                stream_name=form.cleaned_data["stream_name"],
                uploads=form.uploads(),
            )
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            return redirect("imports:job", pk=job.pk)
    jobs = list(ImportJob.objects.select_related("stream", "created_by").order_by("-created_at", "-pk")[:RECENT_JOBS])
    for job in jobs:
        job.stalled = import_job_stalled(job)
    streams = ValueStream.objects.order_by("name").values_list("slug", "name")
    status = 422 if form.is_bound and form.errors else 200
    # The form is offered to those who may import into some stream (a director, an administrator).
    may_upload = access.may(request.user, access.CHANGE, ValueStream) or access.may(
        request.user, access.ADD, ValueStream
    )
    context = {"form": form, "jobs": jobs, "streams": streams, "may_upload": may_upload}
    return render(request, "streams/imports.html", context, status=status)


def _job_context(request, job: ImportJob, mapping_form=None) -> dict:
    stream = job.stream or ValueStream.objects.filter(slug=job.stream_slug).first()
    if job.status == ImportJob.Status.MAPPING and mapping_form is None:
        mapping_form = ImportMappingForm(found=job.found, mapping=job.mapping)
    result = job.result or {}
    return {
        "job": job,
        "stream": stream,
        "may_act": may_import(request.user, stream),
        "stalled": import_job_stalled(job),
        "mapping_form": mapping_form,
        "result": result,
        "warnings": sorted((result.get("warnings") or {}).items()),
    }


@require_http_methods(["GET", "POST"])
def import_job(request: HttpRequest, pk: int) -> HttpResponse:
    """One import: progress while it runs (the fragment polls), the mapping step, the outcome."""
    job = get_object_or_404(ImportJob.objects.select_related("stream", "created_by"), pk=pk)
    if request.method == "POST":
        form = ImportMappingForm(request.POST, found=job.found, mapping=job.mapping)
        if form.is_valid():
            try:
                import_job_confirm_mapping(job=job, user=request.user, mapping=form.mapping())
            except DomainError as error:
                raise_if_denied(error)
                form.add_error(None, error.message)
            else:
                return redirect("imports:job", pk=job.pk)
        job.refresh_from_db()
        return render(request, "streams/import_job.html", _job_context(request, job, form), status=422)
    template = "streams/partials/_import_status.html" if request.htmx else "streams/import_job.html"
    return render(request, template, _job_context(request, job))


@require_POST
def import_job_retry_view(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(ImportJob, pk=pk)
    try:
        import_job_retry(job=job, user=request.user)
    except DomainError as error:
        raise_if_denied(error)
        messages.error(request, error.message)
    return redirect("imports:job", pk=job.pk)
