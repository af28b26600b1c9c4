"""The backlog pages: a stream's items in rank order, and moving an item to another state."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from core import access
from core.errors import DomainError
from streams.backlog.filters import ITEM_VIEWS, BacklogPageFilter
from streams.backlog.selectors import backlog_item, backlog_items
from streams.backlog.services import item_change_state
from streams.flow.releasable import releasable_forecast, releasable_forecasts
from streams.models import (
    BacklogItem,
    ReadinessCheck,
    ValueStream,
    WorkflowState,
)
from streams.rules import scope_of
from streams.selectors import stream_get

BACKLOG_PAGE_SIZE = 100


@require_GET
def backlog_home(request: HttpRequest) -> HttpResponse:
    """The backlog of the stream asked for (`?stream=slug`), else of the first stream the user
    leads or serves, else of the first stream."""
    scope = scope_of(request.user)
    streams = ValueStream.objects.for_user(request.user).order_by("name")
    stream = (
        streams.filter(slug=request.GET.get("stream", "")).first()
        or streams.filter(pk__in=scope.led_stream_ids | scope.served_stream_ids).first()
        or streams.first()
    )
    if stream is None:
        return render(request, "streams/backlog.html", {"stream": None})
    return redirect("streams:backlog-stream", slug=stream.slug)


def _backlog_row(user, item: BacklogItem, error: str = "", releasable=None) -> dict:
    checks = list(item.readiness_checks.all())
    pending = [check for check in checks if check.status == ReadinessCheck.Status.PENDING]
    return {
        "item": item,
        "may_move": access.may(user, access.CHANGE_STATE, item),
        "checks": checks,
        "pending": pending,
        "error": error,
        "releasable": releasable if releasable is not None else releasable_forecast(item),
    }


@require_GET
def backlog(request: HttpRequest, slug: str) -> HttpResponse:
    """A stream's backlog for its product owners: filter, search, move items between states
    in place, with the release gate's refusal shown on the item's row."""
    stream = stream_get(user=request.user, slug=slug)
    data = request.GET.copy()
    if data.get("view") not in ITEM_VIEWS:
        data["view"] = "open"
    filters = BacklogPageFilter(data, queryset=backlog_items(stream))
    form = filters.form
    items = filters.qs
    page = Paginator(items, BACKLOG_PAGE_SIZE).get_page(request.GET.get("page"))
    forecasts = releasable_forecasts(list(page))  # the page's items at once: queries do not grow with rows
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "stream": stream,
        "streams": ValueStream.objects.for_user(request.user).order_by("name").only("name", "slug"),
        "form": form,
        "page": page,
        "rows": [_backlog_row(request.user, item, releasable=forecasts[item.pk]) for item in page],
        "states": list(stream.states.order_by("order", "pk")),
        "query": query.urlencode(),
        "proposals": BacklogItem.objects.filter(
            stream=stream, proposed_by__isnull=False, state__category=WorkflowState.Category.BACKLOG
        ).count(),
    }
    return render(request, "streams/backlog.html", context)


@require_http_methods(["POST"])
def item_move(request: HttpRequest, pk: int) -> HttpResponse:
    """Move an item to another state of its stream (htmx: the row comes back, with the
    refusal inline when the release gate or a workflow rule says no)."""
    item = get_object_or_404(BacklogItem.objects.select_related("stream"), pk=pk)
    if not access.may(request.user, access.CHANGE_STATE, item):
        raise PermissionDenied("Only the product owners of this stream's teams, or its director, may move its items.")
    raw = request.POST.get("state", "")
    to_state = WorkflowState.objects.filter(stream_id=item.stream_id, pk=raw).first() if raw.isdigit() else None
    error = ""
    if to_state is None:
        error = "Choose one of this value stream's states to move the item to."
    else:
        try:
            item_change_state(item=item, to_state=to_state, actor=request.user, via="page")
        except DomainError as refused:
            error = refused.message
    if request.htmx:
        fresh = backlog_item(item.pk)
        context = {
            "row": _backlog_row(request.user, fresh, error=error),
            "states": list(item.stream.states.order_by("order", "pk")),
        }
        return render(request, "streams/partials/_backlog_row.html", context, status=422 if error else 200)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"{item.key} moved to {to_state.name}.")
    return redirect("streams:backlog-stream", slug=item.stream.slug)
