"""Pages of value stream maps (drawn, compared, measured) and of improvement experiments."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Prefetch, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core import access
from core.errors import DomainError
from streams.experiments.selectors import experiments_latest
from streams.flow.forms import FlowWindowForm
from streams.maps.forms import ProcessBlockForm, ValueStreamMapForm
from streams.maps.services import (
    DISAGREE_FACTOR,
    TotalsChange,
    block_delete,
    block_move,
    block_queryset,
    block_save,
    map_blocks,
    map_compare,
    map_delete,
    map_save,
    map_totals,
    measured_map,
)
from streams.models import ProcessBlock, ValueStream, ValueStreamMap
from streams.selectors import stream_get

Kind = ValueStreamMap.Kind


@require_GET
def maps_home(request: HttpRequest) -> HttpResponse:
    """Every stream with its maps and experiments: where to start."""
    streams = (
        ValueStream.objects.for_user(request.user)
        .annotate(
            map_count=Count("maps", distinct=True),
            pending=Count("experiments", filter=Q(experiments__verdict="pending"), distinct=True),
            decided=Count("experiments", filter=~Q(experiments__verdict="pending"), distinct=True),
        )
        .order_by("name")
        .only("pk", "name", "slug")
    )
    return render(
        request, "streams/maps_home.html", {"streams": streams, "experiment_rows": experiments_latest(limit=20)}
    )


def _may_edit_maps(user, stream) -> bool:
    return access.may(user, access.ADD, ValueStreamMap(stream=stream))


def _pick(maps: list[ValueStreamMap], raw: str | None, kinds: tuple[str, ...]) -> ValueStreamMap | None:
    """The map asked for by id, else the latest of the first kind that has one."""
    if raw and raw.isdigit():
        chosen = next((m for m in maps if m.pk == int(raw)), None)
        if chosen:
            return chosen
    for kind in kinds:
        latest = next((m for m in maps if m.kind == kind), None)  # maps are newest first
        if latest:
            return latest
    return None


@require_http_methods(["GET", "POST"])
def stream_maps(request: HttpRequest, slug: str) -> HttpResponse:
    """A stream's maps: current and future side by side with their differences, and the drawn
    current map beside the map its transition history shows. POST adds a map."""
    stream = stream_get(user=request.user, slug=slug)
    may_edit = _may_edit_maps(request.user, stream)
    form = ValueStreamMapForm(request.POST or None, initial={"kind": Kind.CURRENT})
    if request.method == "POST":
        if not may_edit:
            raise PermissionDenied("Only this stream's product director may draw its maps.")
        if form.is_valid():
            try:
                vsm = map_save(stream=stream, vsm=form.save(commit=False))
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                messages.success(request, f"“{vsm.name}” created: add its activities.")
                return redirect("streams:map-detail", slug=stream.slug, pk=vsm.pk)
    maps = list(
        ValueStreamMap.objects.filter(stream=stream)
        .order_by("-as_of", "-pk")
        .prefetch_related(Prefetch("blocks", queryset=block_queryset().order_by("order", "pk")))
    )
    current = _pick(maps, request.GET.get("current"), (Kind.CURRENT,))
    future = _pick(maps, request.GET.get("future"), (Kind.FUTURE, Kind.TARGET))
    window_form = FlowWindowForm(request.GET or None)
    window = window_form.window()
    current_blocks = list(current.blocks.all()) if current else []
    future_blocks = list(future.blocks.all()) if future else []
    totals = {m.pk: map_totals(list(m.blocks.all())) for m in maps}
    context = {
        "stream": stream,
        "maps": [(m, totals[m.pk]) for m in maps],
        "current": current,
        "future": future,
        "current_maps": [m for m in maps if m.kind == Kind.CURRENT],
        "future_maps": [m for m in maps if m.kind != Kind.CURRENT],
        "totals_change": TotalsChange(totals[current.pk], totals[future.pk]) if current and future else None,
        "block_changes": map_compare(current_blocks, future_blocks) if current and future else [],
        "measured": measured_map(stream=stream, window=window, blocks=current_blocks),
        "window_form": window_form,
        "disagree_factor": DISAGREE_FACTOR,
        "form": form,
        "may_edit": may_edit,
    }
    return render(request, "streams/maps.html", context, status=422 if form.errors else 200)


def _map(request, slug: str, pk: int, *, edit: bool = False) -> ValueStreamMap:
    stream = stream_get(user=request.user, slug=slug)
    vsm = get_object_or_404(ValueStreamMap.objects.select_related("stream"), pk=pk, stream=stream)
    if edit and not access.may(request.user, access.CHANGE, vsm):
        raise PermissionDenied("Only this stream's product director may change its maps.")
    return vsm


def _blocks_context(request, vsm: ValueStreamMap, *, form=None, editing: int | None = None, edit_form=None) -> dict:
    blocks = map_blocks(vsm)
    may_edit = access.may(request.user, access.CHANGE, vsm)
    return {
        "vsm": vsm,
        "stream": vsm.stream,
        "blocks": blocks,
        "totals": map_totals(blocks),
        "may_edit": may_edit,
        "form": form or (ProcessBlockForm(stream=vsm.stream) if may_edit else None),
        "editing": editing,
        "edit_form": edit_form,
    }


def _blocks_response(request, vsm, *, status: int = 200, **extra) -> HttpResponse:
    """htmx gets the blocks fragment back (table, totals and add form); a plain post a redirect."""
    if request.htmx:
        return render(
            request, "streams/partials/_map_blocks.html", _blocks_context(request, vsm, **extra), status=status
        )
    if status >= 400:
        return render(request, "streams/map_detail.html", _map_detail_context(request, vsm, **extra), status=status)
    return redirect("streams:map-detail", slug=vsm.stream.slug, pk=vsm.pk)


def _map_detail_context(request, vsm, *, map_form=None, **extra) -> dict:
    context = _blocks_context(request, vsm, **extra)
    if context["may_edit"]:
        context["map_form"] = map_form or ValueStreamMapForm(instance=vsm)
    return context


@require_http_methods(["GET", "POST"])
def map_detail(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """One map: its activities with totals, edited in place (htmx). POST changes the map itself."""
    vsm = _map(request, slug, pk, edit=request.method == "POST")
    if request.method == "POST":
        if request.POST.get("delete") == "map":
            name = vsm.name
            map_delete(vsm=vsm)
            messages.success(request, f"“{name}” deleted with its activities.")
            return redirect("streams:stream-maps", slug=slug)
        map_form = ValueStreamMapForm(request.POST, instance=vsm)
        if map_form.is_valid():
            try:
                map_save(stream=vsm.stream, vsm=map_form.save(commit=False))
            except DomainError as error:
                map_form.add_error(None, error.message)
            else:
                messages.success(request, f"“{vsm.name}” saved.")
                return redirect("streams:map-detail", slug=slug, pk=vsm.pk)
        return render(
            request, "streams/map_detail.html", _map_detail_context(request, vsm, map_form=map_form), status=422
        )
    return render(request, "streams/map_detail.html", _map_detail_context(request, vsm))


def _save_block(request, vsm, form, *, editing=None) -> HttpResponse:
    if form.is_valid():
        try:
            block_save(vsm=vsm, block=form.save(commit=False), states=list(form.cleaned_data["states"]))
        except (DomainError, ValidationError) as error:
            form.add_error(None, error.message if isinstance(error, DomainError) else "; ".join(error.messages))
        else:
            return _blocks_response(request, vsm)
    if editing:
        return _blocks_response(request, vsm, status=422, editing=editing, edit_form=form)
    return _blocks_response(request, vsm, status=422, form=form)


@require_POST
def block_add(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    vsm = _map(request, slug, pk, edit=True)
    return _save_block(request, vsm, ProcessBlockForm(request.POST, stream=vsm.stream))


@require_http_methods(["GET", "POST"])
def block_edit(request: HttpRequest, slug: str, pk: int, block_pk: int) -> HttpResponse:
    """GET: the blocks fragment with this block's row as a form; POST: save it."""
    vsm = _map(request, slug, pk, edit=True)
    block = get_object_or_404(ProcessBlock, pk=block_pk, map=vsm)
    if request.method == "GET":
        form = ProcessBlockForm(instance=block, stream=vsm.stream)
        if request.htmx:
            return render(
                request,
                "streams/partials/_map_blocks.html",
                _blocks_context(request, vsm, editing=block.pk, edit_form=form),
            )
        return render(
            request, "streams/map_detail.html", _map_detail_context(request, vsm, editing=block.pk, edit_form=form)
        )
    return _save_block(
        request, vsm, ProcessBlockForm(request.POST, instance=block, stream=vsm.stream), editing=block.pk
    )


@require_POST
def block_reorder(request: HttpRequest, slug: str, pk: int, block_pk: int) -> HttpResponse:
    vsm = _map(request, slug, pk, edit=True)
    block = get_object_or_404(ProcessBlock, pk=block_pk, map=vsm)
    try:
        block_move(block=block, direction=request.POST.get("direction", ""))
    except DomainError as error:
        if request.htmx:
            return _blocks_response(request, vsm, status=422)
        messages.error(request, error.message)
    return _blocks_response(request, vsm)


@require_POST
def block_remove(request: HttpRequest, slug: str, pk: int, block_pk: int) -> HttpResponse:
    vsm = _map(request, slug, pk, edit=True)
    block_delete(block=get_object_or_404(ProcessBlock, pk=block_pk, map=vsm))
    return _blocks_response(request, vsm)
