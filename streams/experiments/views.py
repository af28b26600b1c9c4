"""Improvement experiments of a stream and their verdicts."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from core import access
from streams.experiments.forms import ExperimentForm
from streams.experiments.selectors import experiments_latest
from streams.experiments.services import METHODS, MIN_DAYS, MIN_ITEMS, experiment_create, experiment_periods
from streams.models import ImprovementExperiment
from streams.selectors import stream_get


@require_http_methods(["GET", "POST"])
def stream_experiments(request: HttpRequest, slug: str) -> HttpResponse:
    """A stream's experiments with their verdicts and evidence; POST states a new hypothesis."""
    stream = stream_get(user=request.user, slug=slug)
    may_add = access.may(request.user, access.ADD, ImprovementExperiment(stream=stream))
    form = ExperimentForm(request.POST or None)
    if request.method == "POST":
        if not may_add:
            raise PermissionDenied("Only this stream's product director may start its experiments.")
        if form.is_valid():
            experiment = form.save(commit=False)
            experiment.stream = stream
            try:
                experiment = experiment_create(experiment=experiment)
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, f"“{experiment.title}” recorded.")
                return redirect("streams:experiment-detail", slug=stream.slug, pk=experiment.pk)
    context = {
        "stream": stream,
        "rows": experiments_latest(stream_ids=[stream.pk], limit=None),
        "form": form if may_add else None,
        "min_items": MIN_ITEMS,
        "min_days": MIN_DAYS,
        "methods": METHODS,
    }
    return render(request, "streams/experiments.html", context, status=422 if form.errors else 200)


@require_GET
def experiment_detail(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    stream = stream_get(user=request.user, slug=slug)
    experiment = get_object_or_404(ImprovementExperiment, pk=pk, stream=stream)
    context = {
        "stream": stream,
        "experiment": experiment,
        "periods": experiment_periods(experiment),
        "result": experiment.result or {},
        "baseline": experiment.baseline or {},
        "method": METHODS[experiment.target_metric],
        "min_items": MIN_ITEMS,
        "min_days": MIN_DAYS,
    }
    return render(request, "streams/experiment_detail.html", context)
