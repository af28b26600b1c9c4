"""Scenario pages: saved scenarios, the scenario of a stream or a key result (its levers in the
query string, so a scenario is a link; htmx re-runs it as levers change), a saved scenario."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from core import access
from core.errors import DomainError, raise_if_denied
from okrs.models import KeyResult
from portal.scenarios.forms import LEVER_FIELDS, ScenarioForm, ScenarioSaveForm
from portal.scenarios.models import Scenario
from portal.scenarios.outlook import Subject, item_candidates, outlook
from portal.scenarios.services import scenario_delete, scenario_save
from streams.flow.scenarios import NONE
from streams.models import BacklogItem, ValueStream, WorkflowState


def _subject(request: HttpRequest) -> Subject | None:
    if request.GET.get("stream"):
        return Subject(stream=get_object_or_404(ValueStream, slug=request.GET["stream"]))
    if request.GET.get("key_result"):
        try:
            pk = int(request.GET["key_result"])
        except ValueError:
            raise Http404("No key result has that number.") from None
        return Subject(key_result=get_object_or_404(KeyResult.objects.select_related("objective"), pk=pk))
    return None


def _streams(subject: Subject) -> list[ValueStream]:
    """The streams a scenario may cap: the stream, or those holding the key result's linked work left."""
    if subject.stream:
        return [subject.stream]
    stream_ids = (
        BacklogItem.objects.filter(key_results=subject.key_result, finished_at__isnull=True)
        .exclude(state__category=WorkflowState.Category.REMOVED)
        .values("stream_id")
    )
    children = BacklogItem.objects.filter(parent__key_results=subject.key_result, finished_at__isnull=True).values(
        "stream_id"
    )
    return list(ValueStream.objects.filter(pk__in=stream_ids.union(children)).order_by("name"))


@require_http_methods(["GET"])
def scenario_list(request: HttpRequest) -> HttpResponse:
    scenarios = Scenario.objects.select_related("stream", "key_result", "created_by__person")[:200]
    return render(
        request,
        "portal/scenarios/list.html",
        {
            "scenarios": scenarios,
            "streams": ValueStream.objects.order_by("name").only("name", "slug"),
            "may_save": access.may(request.user, access.ADD, Scenario),
        },
    )


@require_http_methods(["GET", "POST"])
def scenario_new(request: HttpRequest) -> HttpResponse:
    """Today's forecast of a stream or a key result beside the same forecast under the levers.
    Running one changes nothing; POST saves it (name, levers, figures) for those who may."""
    subject = _subject(request)
    if subject is None:
        return redirect("scenario-list")
    candidates = item_candidates(subject)
    lever_data = {
        key: request.GET.getlist(key) if key == "descope" else request.GET[key]
        for key in LEVER_FIELDS
        if key in request.GET
    }
    form = ScenarioForm(lever_data or None, streams=_streams(subject), candidates=candidates)
    save_form = ScenarioSaveForm(request.POST or None)
    if request.method == "POST":
        if form.is_bound and form.is_valid() and save_form.is_valid():
            try:
                name = save_form.cleaned_data["name"]
                scenario = scenario_save(user=request.user, subject=subject, name=name, form=form)
            except DomainError as error:
                raise_if_denied(error)
                raise
            messages.success(request, f"Saved “{scenario.name}”.")
            return redirect(scenario)
        if not form.is_bound:
            save_form.add_error(None, "Change at least one lever before saving: with none, it is today's forecast.")
    result = None
    if not form.is_bound:
        result = outlook(subject, NONE, [])
    elif form.is_valid():
        result = outlook(subject, form.levers(), form.described())
    levers = form.query() if form.is_bound and form.is_valid() else {}
    context = {
        "subject": subject,
        "form": form,
        "save_form": save_form,
        "result": result,
        "may_save": access.may(request.user, access.ADD, Scenario),
        "action": f"{reverse('scenario-new')}?{urlencode(subject.query | levers, doseq=True)}",
    }
    fragment = request.htmx and request.method == "GET"
    template = "portal/scenarios/_scenario.html" if fragment else "portal/scenarios/new.html"
    return render(request, template, context, status=200 if result is not None and request.method == "GET" else 422)


@require_http_methods(["GET"])
def scenario_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scenario = get_object_or_404(Scenario.objects.select_related("stream", "key_result", "created_by__person"), pk=pk)
    subject = Subject(stream=scenario.stream, key_result=scenario.key_result)
    return render(
        request,
        "portal/scenarios/detail.html",
        {
            "scenario": scenario,
            "result": scenario.result,
            "subject": subject,
            "again": f"{reverse('scenario-new')}?{urlencode(subject.query | scenario.levers, doseq=True)}",
            "may_delete": access.may(request.user, access.DELETE, scenario),
        },
    )


@require_POST
def scenario_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    scenario = get_object_or_404(Scenario, pk=pk)
    try:
        scenario_delete(user=request.user, scenario=scenario)
    except DomainError as error:
        raise_if_denied(error)
        raise PermissionDenied(error.message) from error
    messages.success(request, f"Deleted “{scenario.name}”.")
    return redirect("scenario-list")
