"""The connection pages of a stream: connect it to its tool, map the tool's names, follow the
syncs. Anyone who may see the stream reads them (never the token); its product director and
administrators change them."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from core import access
from core.queue import send
from streams.integrations.connectors.forms import ConnectionForm
from streams.integrations.connectors.services import (
    connection_create,
    connection_mapping_save,
    connection_set_paused,
    connection_update,
    mapping_suggestion,
)
from streams.integrations.connectors.sync import connection_probe
from streams.integrations.forms import ImportMappingForm
from streams.integrations.toolchain import mapping_for
from streams.models import Connection, HeldItem, SyncRun
from streams.selectors import stream_get

RECENT_RUNS = 20
HELD_SHOWN = 200


def _may_manage(request, stream) -> bool:
    return access.may(request.user, access.CHANGE, Connection(stream=stream))


def _require(request, stream) -> None:
    if not _may_manage(request, stream):
        raise PermissionDenied("Only this stream's product director or an administrator may change its connections.")


def _apply_errors(form, error: ValidationError) -> None:
    for name, texts in error.message_dict.items():
        tool = form.cleaned_data.get("tool", "")
        scope_field = "jql" if tool.startswith("jira") else "repository" if tool == "github" else "project"
        target = name if name in form.fields else (scope_field if name == "scope" else None)
        form.add_error(target, texts)


@require_http_methods(["GET", "POST"])
def connections(request: HttpRequest, slug: str) -> HttpResponse:
    """The stream's connections and their sync health; POST connects a new one."""
    stream = stream_get(user=request.user, slug=slug)
    may_manage = _may_manage(request, stream)
    form = ConnectionForm(request.POST or None) if may_manage or request.method == "POST" else None
    if request.method == "POST":
        _require(request, stream)
        if form.is_valid():
            try:
                connection = connection_create(
                    stream=stream,
                    tool=form.cleaned_data["tool"],
                    base_url=form.cleaned_data["base_url"],
                    token=form.cleaned_data["token"],
                    scope=form.scope(),
                    username=form.cleaned_data["username"],
                    rate=form.cleaned_data["rate"],
                    actor=request.user,
                )
            except ValidationError as error:
                _apply_errors(form, error)
            else:
                messages.success(request, "Connected. Test it, then map its statuses and types to start the backfill.")
                return redirect("streams:connection", slug=stream.slug, pk=connection.pk)
    rows = list(Connection.objects.filter(stream=stream).order_by("pk"))
    context = {"stream": stream, "connections": rows, "form": form, "may_manage": may_manage}
    return render(request, "streams/connections.html", context, status=422 if form is not None and form.errors else 200)


def _connection(request, slug: str, pk: int) -> Connection:
    stream = stream_get(user=request.user, slug=slug)
    return get_object_or_404(Connection.objects.select_related("stream"), pk=pk, stream=stream)


@require_http_methods(["GET", "POST"])
def connection_detail(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """One connection: its status and freshness, the items it holds back, its runs; POST edits it."""
    connection = _connection(request, slug, pk)
    may_manage = _may_manage(request, connection.stream)
    form = None
    if request.method == "POST":
        _require(request, connection.stream)
        form = ConnectionForm(request.POST, connection=connection)
        if form.is_valid():
            try:
                connection_update(
                    connection=connection,
                    token=form.cleaned_data["token"],
                    base_url=form.cleaned_data["base_url"],
                    username=form.cleaned_data.get("username", connection.username),
                    scope=form.scope(),
                    rate=form.cleaned_data["rate"],
                )
            except ValidationError as error:
                _apply_errors(form, error)
            else:
                messages.success(request, "Saved.")
                return redirect("streams:connection", slug=slug, pk=pk)
        connection.refresh_from_db()
    elif may_manage:
        form = ConnectionForm(connection=connection)
    held = HeldItem.objects.filter(connection=connection).order_by("value", "external_key")
    context = {
        "stream": connection.stream,
        "connection": connection,
        "form": form,
        "may_manage": may_manage,
        "runs": SyncRun.objects.filter(connection=connection).order_by("-started_at", "-pk")[:RECENT_RUNS],
        "running": SyncRun.objects.filter(connection=connection, status=SyncRun.Status.RUNNING).first(),
        "held": held[:HELD_SHOWN],
        "held_count": held.count(),
    }
    status = 422 if form is not None and form.errors else 200
    return render(request, "streams/connection_detail.html", context, status=status)


@require_POST
def connection_test(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    connection = _connection(request, slug, pk)
    _require(request, connection.stream)
    probe = connection_probe(connection)
    (messages.success if probe.ok else messages.error)(request, probe.message)
    return redirect("streams:connection", slug=slug, pk=pk)


@require_http_methods(["GET", "POST"])
def connection_mapping(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """The tool's statuses and types, read from it now, with what each means in the stream:
    remembered, else the tool's own category as a suggestion. Saving starts the syncs."""
    connection = _connection(request, slug, pk)
    _require(request, connection.stream)
    suggestion = mapping_suggestion(connection)
    if suggestion.error:
        messages.error(request, suggestion.error)
        return redirect("streams:connection", slug=slug, pk=pk)
    form = ImportMappingForm(request.POST or None, found=suggestion.found, mapping=suggestion.mapping)
    if request.method == "POST" and form.is_valid():
        try:
            connection_mapping_save(connection=connection, mapping=form.mapping())
        except ValidationError as error:
            form.add_error(None, error.messages)
        else:
            queued = send("streams.sync_connection", connection.pk)
            messages.success(
                request,
                "Mapping saved; the sync has started." if queued else "Mapping saved; the sync starts within minutes.",
            )
            return redirect("streams:connection", slug=slug, pk=pk)
    context = {
        "stream": connection.stream,
        "connection": connection,
        "mapping_form": form,
        "remembered": bool(mapping_for(connection.stream, connection.source).statuses),
    }
    return render(request, "streams/connection_mapping.html", context, status=422 if form.errors else 200)


@require_POST
def connection_sync_now(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    connection = _connection(request, slug, pk)
    _require(request, connection.stream)
    if connection.status != Connection.Status.ACTIVE:
        messages.error(request, f"The connection is {connection.get_status_display().lower()}: it does not sync now.")
    elif send("streams.sync_connection", connection.pk):
        messages.success(request, "Sync started.")
    else:
        messages.error(request, "The job queue is unreachable; the scheduled sync will run once it is back.")
    return redirect("streams:connection", slug=slug, pk=pk)


@require_POST
def connection_pause(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    connection = _connection(request, slug, pk)
    _require(request, connection.stream)
    paused = request.POST.get("paused") == "1"
    connection_set_paused(connection=connection, paused=paused)
    messages.success(request, "Paused: no sync runs until you resume." if paused else "Resumed.")
    return redirect("streams:connection", slug=slug, pk=pk)
